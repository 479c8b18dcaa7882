import { RUNNER_KINDS } from '@shellfolio/runner'
import { t } from 'elysia'
import { literalUnion } from '../http/literal-union.ts'

const runnerKind = literalUnion(RUNNER_KINDS)

/**
 * Request and response shapes of module.terminal (registered with `.model()`). The WebSocket's
 * messages are defined in `@shellfolio/runner/terminal-protocol`.
 */
export const terminalModels = {
  'terminal.create': t.Object({
    project: t.String({ minLength: 1, maxLength: 100, pattern: '^[a-z0-9][a-z0-9-]*$' }),
    runner: t.Optional(runnerKind),
  }),
  'terminal.ticket': t.Object({
    data: t.Object({
      sessionId: t.String(),
      ticket: t.String(),
      runner: runnerKind,
      /** When the ticket stops being accepted (ISO 8601). */
      expiresAt: t.String(),
    }),
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
        startedAt: t.String(),
        expiresAt: t.String(),
      }),
    ),
    meta: t.Object({ count: t.Number() }),
    error: t.Null(),
  }),
}
