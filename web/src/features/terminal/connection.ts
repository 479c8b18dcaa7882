import {
  CLOSE,
  type ClientMessage,
  FLOW_CONTROL,
  isFinalClose,
  parseServerMessage,
  type RunnerKind,
} from '@shellfolio/runner/terminal-protocol'
import { unwrap, v1 } from '../../lib/api.ts'

/**
 * The terminal protocol (docs/terminal-protocol.md, `@shellfolio/runner/terminal-protocol`) on the client: create a session over HTTP, attach over a
 * WebSocket, acknowledge output for flow control, and reattach with the resume token after a drop
 * or a page reload. Knows nothing about xterm or Solid: the panel passes callbacks.
 *
 * A native WebSocket rather than Eden's `.subscribe()`: we need `binaryType = 'arraybuffer'` and
 * the raw frames (Eden parses every message), and the ticket travels in the query anyway.
 */

export type ConnState = 'idle' | 'starting' | 'connecting' | 'connected' | 'reconnecting' | 'exited' | 'failed'

export interface SessionInfo {
  sessionId: string
  runner: RunnerKind
  expiresAt: string
  resumeToken?: string
}

export interface ConnectionEvents {
  state(state: ConnState, detail: { retryIn?: number; code?: string; message?: string }): void
  /** `ready` arrived: the session (new or resumed) is attached. */
  ready(info: SessionInfo, resumed: boolean): void
  /** A resumed socket is about to replay the scrollback: clear the screen first. */
  replay(): void
  /** Output bytes; call `done` once they are rendered (xterm's write callback). */
  output(bytes: Uint8Array, done: () => void): void
  notice(message: string): void
  /** `message`: the server's explanation when it has one (e.g. the runner service stopped). */
  exit(code: number | null, reason: string, message?: string): void
}

const PING_MS = 25_000
/** Reconnect delays: 1 s, 2 s, 4 s … capped at 30 s; give up after this many tries. */
const MAX_RECONNECTS = 8
const STORAGE_PREFIX = 'shellfolio.terminal.'

const encoder = new TextEncoder()

export class TerminalConnection {
  protected ws: WebSocket | undefined
  private info: SessionInfo | undefined
  private unacked = 0
  private writesInFlight = 0
  private attempts = 0
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private countdown: ReturnType<typeof setInterval> | undefined
  private ping: ReturnType<typeof setInterval> | undefined
  private size: { cols: number; rows: number } | undefined
  private stopped = false
  private finished = false
  /** Set by an `error` control message: the server refused for good, do not reconnect. */
  private fatal: { code: string; message: string } | undefined

  constructor(
    private readonly project: string,
    private readonly events: ConnectionEvents,
  ) {
    window.addEventListener('online', this.onOnline)
  }

  /** The session this tab had for the project (kept across reloads), if it has not expired. */
  saved(): SessionInfo | undefined {
    try {
      const raw = sessionStorage.getItem(STORAGE_PREFIX + this.project)
      if (!raw) return undefined
      const info = JSON.parse(raw) as SessionInfo
      if (!info.resumeToken || Date.parse(info.expiresAt) <= Date.now()) {
        this.forget()
        return undefined
      }
      return info
    } catch {
      return undefined
    }
  }

  forget(): void {
    sessionStorage.removeItem(STORAGE_PREFIX + this.project)
  }

  /** Creates a new session and attaches to it. Throws an ApiError when refused (flag, quota…). */
  async start(runner: RunnerKind): Promise<void> {
    this.reset()
    this.events.state('starting', {})
    const created = await unwrap(v1.terminal.sessions.post({ project: this.project, runner }))
    const s = created.data
    this.info = { sessionId: s.sessionId, runner: s.runner, expiresAt: s.expiresAt }
    this.open({ ticket: s.ticket, ...this.sizeQuery() }, false)
  }

  /** Reattaches to a saved session (page reload). */
  resume(info: SessionInfo): void {
    this.reset()
    this.info = info
    this.open(this.resumeQuery(), true)
  }

  private sizeQuery(): Record<string, string> {
    return this.size ? { cols: String(this.size.cols), rows: String(this.size.rows) } : {}
  }

  private resumeQuery(): Record<string, string> {
    return { session: this.info?.sessionId ?? '', resume: this.info?.resumeToken ?? '' }
  }

  /** Keystrokes and pastes, as bytes (binary frames). */
  input(data: string | Uint8Array): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(typeof data === 'string' ? encoder.encode(data) : data)
  }

  resize(cols: number, rows: number): void {
    this.size = { cols, rows }
    this.control({ type: 'resize', cols, rows })
  }

  /** Detaches (the session lives on for its grace period and can be resumed). */
  close(): void {
    this.stopped = true
    this.clearTimers()
    window.removeEventListener('online', this.onOnline)
    this.ws?.close(1000, 'page closed')
    this.ws = undefined
  }

  /** Bytes acknowledged to the server so far (flow control), for the status and tests. */
  ackedBytes = 0

  /** Reconnect now (the "Reconnect" button or the browser coming back online). */
  reconnectNow(): void {
    if (!this.info?.resumeToken || this.finished) return
    this.clearTimers()
    this.fatal = undefined
    this.stopped = false
    this.open(this.resumeQuery(), true)
  }

  private onOnline = () => {
    if (this.retryTimer) this.reconnectNow()
  }

  private reset() {
    this.clearTimers()
    this.ws?.close(1000)
    this.ws = undefined
    this.stopped = false
    this.finished = false
    this.fatal = undefined
    this.attempts = 0
    this.unacked = 0
    this.writesInFlight = 0
  }

  private open(query: Record<string, string>, resuming: boolean) {
    const url = new URL('/api/v1/terminal/ws', location.href)
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
    url.search = new URLSearchParams(query).toString()
    this.events.state(resuming && this.attempts > 0 ? 'reconnecting' : 'connecting', {})
    const ws = new WebSocket(url)
    ws.binaryType = 'arraybuffer'
    this.ws = ws
    this.unacked = 0
    this.writesInFlight = 0
    ws.onopen = () => {
      if (resuming) this.events.replay()
    }
    ws.onmessage = (ev) => {
      if (ws !== this.ws) return
      if (ev.data instanceof ArrayBuffer) this.onOutput(new Uint8Array(ev.data))
      else this.onControl(String(ev.data))
    }
    ws.onclose = (ev) => {
      if (ws !== this.ws) return
      this.ws = undefined
      this.clearTimers()
      if (this.stopped || this.finished) return
      // 4000–4499: the server closed on purpose (bad ticket, session gone, opened in another
      // tab): retrying would fail again, or steal the session back and forth between tabs.
      if (this.fatal || isFinalClose(ev.code)) {
        const code = ev.code === CLOSE.replaced ? 'SESSION_REPLACED' : (this.fatal?.code ?? 'SESSION_GONE')
        if (code !== 'SESSION_REPLACED') this.forget()
        this.events.state('failed', { code, message: this.fatal?.message ?? ev.reason })
        return
      }
      this.scheduleReconnect()
    }
  }

  private onOutput(bytes: Uint8Array) {
    this.writesInFlight++
    this.events.output(bytes, () => {
      this.writesInFlight--
      this.unacked += bytes.byteLength
      // Batch acks during a flood; ack everything as soon as xterm has caught up.
      if (this.unacked >= FLOW_CONTROL.ackBatch || this.writesInFlight === 0) {
        this.control({ type: 'ack', bytes: this.unacked })
        this.ackedBytes += this.unacked
        this.unacked = 0
      }
    })
  }

  private onControl(text: string) {
    const msg = parseServerMessage(text)
    if (!msg) return
    switch (msg.type) {
      case 'ready': {
        const resumed = this.attempts > 0 || this.info?.resumeToken !== undefined
        this.info = {
          sessionId: msg.sessionId,
          runner: msg.runner,
          expiresAt: msg.expiresAt,
          resumeToken: msg.resumeToken,
        }
        sessionStorage.setItem(STORAGE_PREFIX + this.project, JSON.stringify(this.info))
        this.attempts = 0
        this.events.state('connected', {})
        this.events.ready(this.info, resumed)
        // Resize after attaching so full-screen programs redraw at our size (a replay alone leaves
        // them drawn at the old size).
        if (this.size) this.control({ type: 'resize', ...this.size })
        this.ping = setInterval(() => this.control({ type: 'ping' }), PING_MS)
        break
      }
      case 'exit':
        this.finished = true
        this.forget()
        this.events.exit(msg.code, msg.reason, msg.message)
        this.events.state('exited', { message: msg.message ?? msg.reason })
        break
      case 'error':
        // BAD_MESSAGE answers one malformed control frame; every other error precedes a close.
        if (msg.code !== 'BAD_MESSAGE') this.fatal = { code: msg.code, message: msg.message }
        break
      case 'notice':
        this.events.notice(msg.message)
        break
    }
  }

  private control(msg: ClientMessage) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg))
  }

  private scheduleReconnect() {
    if (!this.info?.resumeToken || this.attempts >= MAX_RECONNECTS) {
      this.events.state('failed', { code: 'NETWORK', message: 'the connection was lost' })
      return
    }
    const delay = Math.min(30, 2 ** this.attempts)
    this.attempts++
    let left = delay
    this.events.state('reconnecting', { retryIn: left })
    this.countdown = setInterval(() => {
      left = Math.max(0, left - 1)
      this.events.state('reconnecting', { retryIn: left })
    }, 1000)
    this.retryTimer = setTimeout(() => {
      this.clearTimers()
      if (this.info?.resumeToken) this.open(this.resumeQuery(), true)
    }, delay * 1000)
  }

  private clearTimers() {
    clearTimeout(this.retryTimer)
    clearInterval(this.countdown)
    clearInterval(this.ping)
    this.retryTimer = undefined
    this.countdown = undefined
    this.ping = undefined
  }
}
