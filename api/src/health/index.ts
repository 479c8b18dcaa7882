import { Elysia, t } from 'elysia'
import { ok } from '../http/envelope.ts'
import { ServiceUnavailableError } from '../http/errors.ts'

/** A part /readyz checks; `check` throws (or rejects) when the part is down. */
export interface ReadinessCheck {
  name: string
  check: () => Promise<unknown>
  /** Optional parts are reported but do not make the instance unready (e.g. the Docker runner). */
  optional?: boolean
}

const CHECK_TIMEOUT_MS = 2000

async function probe(c: ReadinessCheck): Promise<'up' | 'down'> {
  let timer: Timer | undefined
  try {
    await Promise.race([
      c.check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), CHECK_TIMEOUT_MS)
      }),
    ])
    return 'up'
  } catch {
    return 'down'
  } finally {
    clearTimeout(timer)
  }
}

/**
 * module.health: liveness and readiness. `details` adds facts an operator wants next to the parts,
 * e.g. `sandbox: { requested: 'auto', runtime: 'runsc' }` (which OCI runtime Docker sessions run under).
 */
export function healthModule(checks: () => ReadinessCheck[], details: () => Record<string, unknown> = () => ({})) {
  return new Elysia({ name: 'module.health' })
    .get('/healthz', () => ok({ status: 'ok' }), {
      detail: { summary: 'Liveness: the process answers', tags: ['health'] },
      response: t.Object({ data: t.Object({ status: t.String() }), meta: t.Null(), error: t.Null() }),
    })
    .get(
      '/readyz',
      async ({ set }) => {
        const list = checks()
        const states = await Promise.all(list.map(probe))
        const parts = Object.fromEntries(list.map((c, i) => [c.name, states[i]]))
        const down = list.filter((c, i) => states[i] === 'down' && !c.optional).map((c) => c.name)
        set.headers['cache-control'] = 'no-store'
        if (down.length > 0) {
          throw new ServiceUnavailableError(
            `not ready: ${down.join(', ')} ${down.length === 1 ? 'is' : 'are'} down`,
            'NOT_READY',
          )
        }
        return ok({ status: 'ready', parts, ...details() })
      },
      { detail: { summary: 'Readiness: database, cache and runners answer', tags: ['health'] } },
    )
}
