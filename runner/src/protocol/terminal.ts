/**
 * The terminal WebSocket protocol between the browser and the API (docs/terminal-protocol.md),
 * defined once for both ends: the API validates client frames with `parseClientMessage`, the web
 * client reads server frames with `parseServerMessage`, and both use the same close codes and
 * flow-control constants.
 *
 * Binary frames carry raw terminal bytes both ways; text frames carry the JSON control messages
 * below. Pure TypeScript with no dependencies (only types and one constant from the runner
 * interface), so the browser bundle can import it: `@shellfolio/runner/terminal-protocol`.
 */
import { type ExitInfo, type ExitReason, RUNNER_KINDS, type RunnerKind } from '../types.ts'

export { RUNNER_KINDS, type RunnerKind }

/** Client → server control messages. */
export type ClientMessage =
  | { type: 'resize'; cols: number; rows: number }
  /** Flow control: the client rendered `bytes` more bytes of output (xterm's write callback). */
  | { type: 'ack'; bytes: number }
  | { type: 'ping' }

/** Why a session ended: the runner's reason, or `abandoned` (no client came back within the grace period). */
export type EndReason = ExitReason | 'abandoned'

/** How a session ended, as its client is told: the runner's exit (`message`: its explanation, if any). */
export interface SessionExit extends Omit<ExitInfo, 'reason'> {
  reason: EndReason
}

/** Server → client control messages. */
export type ServerMessage =
  | { type: 'ready'; sessionId: string; runner: RunnerKind; expiresAt: string; resumeToken: string }
  | ({ type: 'exit' } & SessionExit)
  | { type: 'error'; code: string; message: string }
  | { type: 'notice'; message: string }
  | { type: 'pong' }

/**
 * WebSocket close codes the server sends, each with a reason naming the problem. 4000–4499 mean
 * "closed on purpose": a client must not reconnect on its own (it would fail again, or steal the
 * session back and forth between two tabs).
 */
export const CLOSE = {
  normal: 1000,
  internal: 1011,
  badRequest: 4400,
  unauthorized: 4401,
  forbidden: 4403,
  gone: 4404,
  replaced: 4409,
  unavailable: 4503,
} as const

/** True for a close code in the "closed on purpose, do not retry" range. */
export const isFinalClose = (code: number) => code >= 4000 && code < 4500

/**
 * End-to-end flow control: the server pauses the runner while more than `highWatermark` bytes are
 * sent but not acknowledged, and resumes once unacknowledged and socket-buffered bytes are both
 * below `lowWatermark`; the client acknowledges rendered output in batches of `ackBatch` bytes (or
 * everything as soon as it has caught up), well under the low watermark.
 */
export const FLOW_CONTROL = {
  highWatermark: 2 * 1024 * 1024,
  lowWatermark: 512 * 1024,
  ackBatch: 64 * 1024,
} as const

/** Terminal columns and rows are whole numbers from 1 to this. */
export const MAX_TERMINAL_DIMENSION = 1000

const isDimension = (n: unknown): n is number =>
  Number.isInteger(n) && (n as number) >= 1 && (n as number) <= MAX_TERMINAL_DIMENSION

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Validates a parsed text frame from a client; returns an error message when it is not a known control message. */
export function parseClientMessage(value: unknown): ClientMessage | string {
  if (!isRecord(value)) {
    return 'text frames must be JSON control messages like {"type":"resize","cols":80,"rows":24}'
  }
  switch (value.type) {
    case 'resize':
      if (isDimension(value.cols) && isDimension(value.rows))
        return { type: 'resize', cols: value.cols, rows: value.rows }
      return `resize needs whole numbers cols and rows from 1 to ${MAX_TERMINAL_DIMENSION}`
    case 'ack':
      if (Number.isSafeInteger(value.bytes) && (value.bytes as number) >= 0) {
        return { type: 'ack', bytes: value.bytes as number }
      }
      return 'ack needs a non-negative whole number of bytes'
    case 'ping':
      return { type: 'ping' }
    default:
      return `unknown control message type ${JSON.stringify(String(value.type)).slice(0, 40)}; expected resize, ack or ping`
  }
}

const str = (v: unknown): v is string => typeof v === 'string'

/** Reads a text frame from the server; undefined when it is not JSON or not a known, well-formed message. */
export function parseServerMessage(text: string): ServerMessage | undefined {
  let m: unknown
  try {
    m = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isRecord(m)) return undefined
  switch (m.type) {
    case 'ready':
      if (!str(m.sessionId) || !str(m.expiresAt) || !str(m.resumeToken)) return undefined
      if (!(RUNNER_KINDS as readonly unknown[]).includes(m.runner)) return undefined
      return {
        type: 'ready',
        sessionId: m.sessionId,
        runner: m.runner as RunnerKind,
        expiresAt: m.expiresAt,
        resumeToken: m.resumeToken,
      }
    case 'exit': {
      if (!(m.code === null || Number.isInteger(m.code)) || !str(m.reason)) return undefined
      const exit = { type: 'exit' as const, code: m.code as number | null, reason: m.reason as EndReason }
      return str(m.message) ? { ...exit, message: m.message } : exit
    }
    case 'error':
      return str(m.code) && str(m.message) ? { type: 'error', code: m.code, message: m.message } : undefined
    case 'notice':
      return str(m.message) ? { type: 'notice', message: m.message } : undefined
    case 'pong':
      return { type: 'pong' }
    default:
      return undefined
  }
}
