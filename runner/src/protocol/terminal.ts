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
  /** To a session's owner: how many spectators watch it now (sent on every change and after `ready`). */
  | { type: 'watchers'; count: number }
  /** To a spectator, first: what it watches (read-only); the screen's replay follows as one binary frame. */
  | { type: 'watching'; sessionId: string; project: string; cols: number; rows: number }
  /** To a spectator: the owner's terminal changed size. */
  | { type: 'size'; cols: number; rows: number }

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
  limited: 4429,
  unavailable: 4503,
} as const

/**
 * Bounds on spectators of a session (read-only watchers, docs/terminal-protocol.md "Watching"):
 * per session (on every instance together), per client IP on one instance, and per instance.
 */
export const WATCH_LIMITS = {
  perSession: 20,
  perIp: 10,
  perInstance: 500,
  /** A spectator whose socket buffers more than this is too slow to follow and is closed. */
  maxBuffered: 4 * 1024 * 1024,
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

/**
 * Bounds on what a client sends (docs/budgets.md). A frame above `maxFrame` closes the socket with
 * 1009; the web client sends pastes in frames of `pasteChunk`. Frames that arrive while the session
 * is still opening are kept up to `earlyFrames` and `earlyBytes`; input beyond `burstBytes` plus
 * `bytesPerSecond`, or that the session cannot take (its program is not reading, the runner's input
 * budget is full), is refused, and the client is told with one `INPUT_OVERFLOW` error per burst.
 */
export const INPUT_LIMITS = {
  maxFrame: 64 * 1024,
  pasteChunk: 16 * 1024,
  earlyFrames: 64,
  earlyBytes: 64 * 1024,
  /** Input a session takes at once (a paste) before the rate below applies. */
  burstBytes: 1024 * 1024,
  /** Sustained input a session takes per second; beyond, input is refused like a full budget. */
  bytesPerSecond: 256 * 1024,
  /**
   * How fast the API reads a client that goes on sending past that rate (the rest waits in the
   * client's own TCP buffers): a flood costs the event loop little, and the flooder's own Ctrl-C,
   * which waits behind its flood, arrives within seconds (docs/budgets.md, "API and transport").
   */
  floodBytesPerSecond: 4 * 1024 * 1024,
} as const

/**
 * Keys that interrupt or stop the foreground program: Ctrl-C, Ctrl-\ and Ctrl-Z. A full input
 * budget (the rate above, a runner's input in flight) never drops them: of a refused chunk these
 * bytes still go through, each at most once, and a buffer may go `INTERRUPT_SLACK` bytes past its
 * bound for them (docs/budgets.md, "Interrupt keys").
 */
export const INTERRUPT_KEYS: readonly number[] = [0x03, 0x1c, 0x1a]
export const INTERRUPT_SLACK = 64

/** The interrupt keys in `data`, each once, in the order they first appear; null when there are none. */
export function interruptKeys(data: Uint8Array | string): Uint8Array | null {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data
  const found: [number, number][] = []
  for (const key of INTERRUPT_KEYS) {
    const at = bytes.indexOf(key)
    if (at >= 0) found.push([at, key])
  }
  if (found.length === 0) return null
  return Uint8Array.from(found.sort((a, b) => a[0] - b[0]).map(([, key]) => key))
}

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
    case 'watchers':
      return Number.isSafeInteger(m.count) && (m.count as number) >= 0
        ? { type: 'watchers', count: m.count as number }
        : undefined
    case 'watching':
      if (!str(m.sessionId) || !str(m.project) || !isDimension(m.cols) || !isDimension(m.rows)) return undefined
      return { type: 'watching', sessionId: m.sessionId, project: m.project, cols: m.cols, rows: m.rows }
    case 'size':
      return isDimension(m.cols) && isDimension(m.rows) ? { type: 'size', cols: m.cols, rows: m.rows } : undefined
    default:
      return undefined
  }
}
