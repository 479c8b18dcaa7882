import { Elysia } from 'elysia'
import { type AuthDeps, authPlugin } from '../auth/index.ts'
import { ok } from '../http/envelope.ts'
import { flagsModel } from './model.ts'
import type { FlagsService } from './service.ts'

export interface FlagsModuleDeps {
  flags: FlagsService
  auth: AuthDeps
}

/** module.flags: feature flags of this environment (admin), and their evaluation for anyone. */
export function flagsModule({ flags, auth }: FlagsModuleDeps) {
  return new Elysia({ name: 'module.flags', prefix: '/api/v1/flags' })
    .use(authPlugin(auth))
    .model(flagsModel)
    .get(
      '/evaluated',
      async ({ query, set }) => {
        set.headers['cache-control'] = 'no-store'
        return ok(await flags.evaluateAll(query.subject))
      },
      {
        query: 'flags.evaluatedQuery',
        response: { 200: 'flags.evaluated', 400: 'flags.error' },
        detail: {
          summary: 'Every flag of this environment, evaluated for a subject (on/off only)',
          description: 'Without a subject, flags in a partial rollout are off.',
          tags: ['flags'],
        },
      },
    )
    .get(
      '',
      async ({ set }) => {
        set.headers['cache-control'] = 'no-store'
        return ok(await flags.list())
      },
      {
        auth: 'admin',
        response: { 200: 'flags.list' },
        detail: { summary: 'Every flag of this environment with its configuration (admin)', tags: ['flags'] },
      },
    )
    .put('/:key', async ({ params, body, user }) => ok(await flags.put(params.key, body, user.id)), {
      auth: 'admin',
      params: 'flags.keyParams',
      body: 'flags.put',
      response: { 200: 'flags.one', 400: 'flags.error' },
      detail: {
        summary: 'Create or change a flag (audited; other instances see it at once)',
        tags: ['flags'],
      },
    })
    .get('/:key/audit', async ({ params }) => ok(await flags.audit(params.key)), {
      auth: 'admin',
      params: 'flags.keyParams',
      response: { 200: 'flags.audit', 400: 'flags.error' },
      detail: { summary: 'The append-only change history of a flag, newest first (admin)', tags: ['flags'] },
    })
}
