import { Elysia } from 'elysia'
import { type AuthDeps, authPlugin } from '../auth/index.ts'
import type { DependencyMonitor } from '../health/dependencies.ts'
import { ok } from '../http/envelope.ts'
import { problemsModel } from './model.ts'
import type { ProblemsService } from './service.ts'

export interface ProblemsModuleDeps {
  problems: ProblemsService
  dependencies: DependencyMonitor
  auth: AuthDeps
}

/** module.problems: the admin's list of grouped unexpected errors and outages (docs/faults.md). */
export function problemsModule({ problems, dependencies, auth }: ProblemsModuleDeps) {
  return new Elysia({ name: 'module.problems', prefix: '/api/v1/problems' })
    .use(authPlugin(auth))
    .model(problemsModel)
    .get(
      '',
      async ({ query, set }) => {
        set.headers['cache-control'] = 'no-store'
        const status = query.status === 'all' ? undefined : query.status
        const list = await problems.list({ status })
        return ok(list, { count: list.length, outages: dependencies.outages(), buffered: problems.buffered() })
      },
      {
        auth: 'admin',
        query: 'problems.listQuery',
        response: { 200: 'problems.list', 400: 'problems.error' },
        detail: {
          summary: 'Unexpected errors grouped by code, route and first stack frame, open first (admin)',
          tags: ['problems'],
        },
      },
    )
    .post('/:id/resolve', async ({ params }) => ok(await problems.resolve(params.id)), {
      auth: 'admin',
      params: 'problems.idParams',
      response: { 200: 'problems.one', 400: 'problems.error', 404: 'problems.error' },
      detail: { summary: 'Mark a group resolved; it reopens if it happens again (admin)', tags: ['problems'] },
    })
}
