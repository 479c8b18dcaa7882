import { t } from 'elysia'

/** Request and response shapes of module.terminal (registered with `.model()`). */
export const terminalModels = {
  'terminal.create': t.Object({
    project: t.String({ minLength: 1, maxLength: 100, pattern: '^[a-z0-9][a-z0-9-]*$' }),
    runner: t.Optional(t.Union([t.Literal('wasi'), t.Literal('docker')])),
  }),
  'terminal.ticket': t.Object({
    data: t.Object({
      sessionId: t.String(),
      ticket: t.String(),
      runner: t.Union([t.Literal('wasi'), t.Literal('docker')]),
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

/** Client → server control messages (DESIGN.md §6). */
export type ClientMessage =
  | { type: 'resize'; cols: number; rows: number }
  | { type: 'ack'; bytes: number }
  | { type: 'ping' }

const isSize = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 1000

/** Validates a parsed text frame; returns an error message when it is not a known control message. */
export function parseClientMessage(value: unknown): ClientMessage | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'text frames must be JSON control messages like {"type":"resize","cols":80,"rows":24}'
  }
  const m = value as Record<string, unknown>
  switch (m.type) {
    case 'resize':
      if (isSize(m.cols) && isSize(m.rows)) return { type: 'resize', cols: m.cols, rows: m.rows }
      return 'resize needs whole numbers cols and rows from 1 to 1000'
    case 'ack':
      if (Number.isSafeInteger(m.bytes) && (m.bytes as number) >= 0) return { type: 'ack', bytes: m.bytes as number }
      return 'ack needs a non-negative whole number of bytes'
    case 'ping':
      return { type: 'ping' }
    default:
      return `unknown control message type ${JSON.stringify(String(m.type)).slice(0, 40)}; expected resize, ack or ping`
  }
}
