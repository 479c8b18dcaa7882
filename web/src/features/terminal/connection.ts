import {
  CLOSE,
  type ClientMessage,
  FLOW_CONTROL,
  INPUT_LIMITS,
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

/** A server runner, or `browser`: the tab runs the project itself (docs/runners.md, "The browser runner"). */
export type ClientRunner = RunnerKind | 'browser'

export interface SessionInfo {
  sessionId: string
  runner: ClientRunner
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
  /** How many spectators watch the session (docs/terminal-protocol.md, "Watching"). */
  watchers?(count: number): void
}

const PING_MS = 25_000
/** Reconnect delays: 1 s, 2 s, 4 s … capped at 30 s; give up after this many tries. */
const MAX_RECONNECTS = 8
const STORAGE_PREFIX = 'shellfolio.terminal.'

const encoder = new TextEncoder()

/**
 * What the terminal panel drives: a server session over a WebSocket (`TerminalConnection`) or a
 * session running in this tab (`BrowserConnection`, browser/connection.ts).
 */
export interface Connection {
  embedOrigin: string | undefined
  /** Output bytes acknowledged so far (flow control), for the status and tests. */
  readonly ackedBytes: number
  saved(): SessionInfo | undefined
  forget(): void
  start(runner: ClientRunner): Promise<void>
  resume(info: SessionInfo): void
  input(data: string | Uint8Array): void
  resize(cols: number, rows: number): void
  close(): void
  share(): Promise<string>
  unshare(): Promise<void>
  reconnectNow(): void
}

/**
 * The panel's connection: `start('browser')` runs the session in this tab (the browser runner's
 * code is loaded then, not with the page), any other runner goes to the server.
 */
export class RunnerConnection implements Connection {
  #active: Connection
  #browser: Connection | undefined

  constructor(
    readonly server: TerminalConnection,
    private readonly browser: () => Promise<Connection>,
  ) {
    this.#active = server
  }

  get embedOrigin(): string | undefined {
    return this.server.embedOrigin
  }
  set embedOrigin(origin: string | undefined) {
    this.server.embedOrigin = origin
  }
  get ackedBytes(): number {
    return this.#active.ackedBytes
  }
  saved(): SessionInfo | undefined {
    return this.server.saved()
  }
  forget(): void {
    this.#active.forget()
  }
  async start(runner: ClientRunner): Promise<void> {
    if (runner === 'browser') {
      if (this.#active === this.server) this.server.close()
      this.#browser ??= await this.browser()
      this.#active = this.#browser
    } else {
      this.#browser?.close()
      this.#active = this.server
    }
    await this.#active.start(runner)
  }
  resume(info: SessionInfo): void {
    this.#active = this.server
    this.server.resume(info)
  }
  /** Attaches to a server session with its ticket (a created session, or a place in line whose turn came). */
  begin(s: Parameters<TerminalConnection['begin']>[0]): void {
    this.#browser?.close()
    this.#active = this.server
    this.server.begin(s)
  }
  input(data: string | Uint8Array): void {
    this.#active.input(data)
  }
  resize(cols: number, rows: number): void {
    this.server.resize(cols, rows)
    this.#browser?.resize(cols, rows)
  }
  close(): void {
    this.server.close()
    this.#browser?.close()
  }
  share(): Promise<string> {
    return this.#active.share()
  }
  unshare(): Promise<void> {
    return this.#active.unshare()
  }
  reconnectNow(): void {
    this.#active.reconnectNow()
  }
}

export class TerminalConnection implements Connection {
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
  /** The origin of the page embedding this one (web/src/features/embed): sent with new sessions for admins. */
  embedOrigin: string | undefined
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
  async start(runner: ClientRunner): Promise<void> {
    if (runner === 'browser') throw new Error('the browser runner does not go through the server')
    this.reset()
    this.events.state('starting', {})
    const origin = this.embedOrigin
    const created = await unwrap(
      v1.terminal.sessions.post({ project: this.project, runner, ...(origin ? { origin } : {}) }),
    )
    const s = created.data
    // Only a request with `queue: true` may be answered with a place in line (terminal-panel.tsx waits in it).
    if ('status' in s) throw new Error('the server answered with a place in line')
    this.begin(s)
  }

  /** Attaches with a ticket obtained elsewhere (a place in the waiting line that reached its turn). */
  begin(s: { sessionId: string; ticket: string; runner: RunnerKind; expiresAt: string }): void {
    this.reset()
    this.events.state('connecting', {})
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

  /**
   * Keystrokes and pastes, as bytes (binary frames). A paste goes in frames of
   * `INPUT_LIMITS.pasteChunk`: the server closes the socket on a frame above `INPUT_LIMITS.maxFrame`.
   */
  input(data: string | Uint8Array): void {
    const ws = this.ws
    if (ws?.readyState !== WebSocket.OPEN) return
    const bytes = typeof data === 'string' ? encoder.encode(data) : data
    for (let at = 0; at < bytes.length; at += INPUT_LIMITS.pasteChunk) {
      ws.send(bytes.subarray(at, at + INPUT_LIMITS.pasteChunk))
    }
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

  /** A read-only watch link to this session (the same one until revoked); its URL. */
  async share(): Promise<string> {
    const info = this.info
    if (!info?.resumeToken) throw new Error('the session is not attached yet')
    const res = await unwrap(v1.terminal.sessions({ id: info.sessionId }).watch.post({ resumeToken: info.resumeToken }))
    return res.data.watchUrl
  }

  /** Revokes the watch link: its spectators are disconnected. */
  async unshare(): Promise<void> {
    const info = this.info
    if (!info?.resumeToken) return
    await unwrap(v1.terminal.sessions({ id: info.sessionId }).watch.delete({ resumeToken: info.resumeToken }))
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
        // BAD_MESSAGE answers one malformed control frame and INPUT_OVERFLOW says typed input was
        // dropped (the program is not reading it); every other error precedes a close.
        if (msg.code === 'INPUT_OVERFLOW') this.events.notice(msg.message)
        else if (msg.code !== 'BAD_MESSAGE') this.fatal = { code: msg.code, message: msg.message }
        break
      case 'notice':
        this.events.notice(msg.message)
        break
      case 'watchers':
        this.events.watchers?.(msg.count)
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
