import { RUNNER_KINDS } from '@shellfolio/runner'
import { t } from 'elysia'
import { literalUnion } from '../http/literal-union.ts'

const runnerKind = literalUnion(RUNNER_KINDS)

const ticket = t.Object({
  sessionId: t.String(),
  ticket: t.String(),
  runner: runnerKind,
  /** When the ticket stops being accepted (ISO 8601). */
  expiresAt: t.String(),
})

/** A place in the waiting line (docs/terminal-protocol.md, "Waiting for a slot"). */
const queuePlace = t.Object({
  status: t.Literal('waiting'),
  id: t.String(),
  project: t.String(),
  position: t.Number(),
  projectPosition: t.Number(),
  estimateSeconds: t.Number(),
  estimateBasis: t.Union([t.Literal('recent-sessions'), t.Literal('time-limit')]),
  waitingForOwnSession: t.Boolean(),
  pollAfterMs: t.Number(),
  leaveAfterMs: t.Number(),
})

/**
 * Request and response shapes of module.terminal (registered with `.model()`). The WebSocket's
 * messages are defined in `@shellfolio/runner/terminal-protocol`.
 */
export const terminalModels = {
  'terminal.create': t.Object({
    project: t.String({ minLength: 1, maxLength: 100, pattern: '^[a-z0-9][a-z0-9-]*$' }),
    runner: t.Optional(runnerKind),
    /** The page embedding the terminal (`/embed/:slug` sends its parent's origin); a label for admins. */
    origin: t.Optional(t.String({ maxLength: 200, pattern: '^https?://[A-Za-z0-9.:\\[\\]-]{1,190}$' })),
    /** When the deployment is full, wait in line (202 with a place) instead of 503 `SESSION_LIMIT_GLOBAL`. */
    queue: t.Optional(t.Boolean()),
  }),
  'terminal.queued': t.Object({
    data: queuePlace,
    meta: t.Null(),
    error: t.Null(),
  }),
  'terminal.queueStatus': t.Object({
    data: t.Union([queuePlace, t.Object({ status: t.Literal('ready'), ...ticket.properties })]),
    meta: t.Null(),
    error: t.Null(),
  }),
  'terminal.queueLeft': t.Object({
    data: t.Object({ id: t.String(), status: t.Literal('left') }),
    meta: t.Null(),
    error: t.Null(),
  }),
  'terminal.ticket': t.Object({
    data: ticket,
    meta: t.Null(),
    error: t.Null(),
  }),
  'terminal.live': t.Object({
    data: t.Array(
      t.Object({
        id: t.String(),
        project: t.String(),
        runner: t.String(),
        ip: t.String(),
        instance: t.String(),
        /** Where the sandbox runs: the runner service's id (remote placement) or the API instance. */
        host: t.String(),
        status: t.String(),
        /** The embedding page's origin when the session was opened from an embed. */
        origin: t.Optional(t.String()),
        startedAt: t.String(),
        expiresAt: t.String(),
      }),
    ),
    meta: t.Object({ count: t.Number() }),
    error: t.Null(),
  }),
}
