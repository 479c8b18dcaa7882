import { Elysia, t } from 'elysia'
import { type AuthDeps, authPlugin } from '../auth/index.ts'
import { ok } from '../http/envelope.ts'
import { NotFoundError } from '../http/errors.ts'
import { ASCIICAST_CONTENT_TYPE } from './recording.ts'
import type { ReplayStore } from './replays.ts'

const idParams = t.Object({ id: t.String({ format: 'uuid' }) })
const replayView = t.Object({
  data: t.Object({
    id: t.String(),
    project: t.String(),
    startedAt: t.String(),
    endedAt: t.Nullable(t.String()),
    commands: t.Array(t.String()),
    castUrl: t.String(),
  }),
  meta: t.Null(),
  error: t.Null(),
})

const notFound = () => new NotFoundError('no public replay with this id', 'REPLAY_NOT_FOUND')

/**
 * Replays (docs/api.md, "Replays"): an admin publishes or withdraws a session's recording; the public
 * reads a published one and its asciicast. Private recordings are a 404 to the public.
 */
export function replayRoutes({ replays, auth }: { replays: ReplayStore; auth: AuthDeps }) {
  return new Elysia({ name: 'module.terminal.replays' })
    .use(authPlugin(auth))
    .put(
      '/api/v1/terminal/sessions/:id/replay',
      async ({ params, body }) => {
        if (!(await replays.publish(params.id, body.public))) {
          throw new NotFoundError('no ended session with a stored recording has this id', 'RECORDING_NOT_FOUND')
        }
        return ok({ id: params.id, public: body.public, url: `/replay/${params.id}` })
      },
      {
        auth: 'admin',
        params: idParams,
        body: t.Object({ public: t.Boolean() }),
        detail: { summary: 'Publish (or withdraw) a recorded session as a public replay', tags: ['terminal'] },
      },
    )
    .get(
      '/api/v1/replays/:id',
      async ({ params, set }) => {
        const replay = await replays.get(params.id)
        if (!replay) throw notFound()
        set.headers['cache-control'] = 'no-cache'
        return ok(replay)
      },
      {
        params: t.Object({ id: t.String({ maxLength: 64 }) }),
        response: { 200: replayView },
        detail: {
          summary: 'A public replay: its project and the commands "Continue live" re-runs',
          tags: ['terminal'],
        },
      },
    )
    .get(
      '/api/v1/replays/:id/cast',
      async ({ params }) => {
        const body = await replays.cast(params.id)
        if (!body) throw notFound()
        return new Response(body as Uint8Array<ArrayBuffer>, {
          headers: { 'content-type': ASCIICAST_CONTENT_TYPE, 'cache-control': 'no-cache' },
        })
      },
      {
        params: t.Object({ id: t.String({ maxLength: 64 }) }),
        detail: { summary: "A public replay's recording (asciicast v2)", tags: ['terminal'] },
      },
    )
}
