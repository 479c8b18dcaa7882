import type { RunnerSession, TerminalSize } from '@shellfolio/runner'
import { CLOSE, type EndReason, type ServerMessage, type SessionExit } from '@shellfolio/runner/terminal-protocol'
import type { TerminalConfig } from '../config.ts'
import { type FlowLimits, OutputFlow } from './flow.ts'
import { AsciicastRecorder } from './recording.ts'
import type { SessionRecord } from './registry.ts'
import { Scrollback } from './scrollback.ts'

/**
 * The transport a session writes to: the WebSocket adapter in index.ts, or a test double.
 * `sendBinary` returns Bun's `ws.send` result: bytes sent, -1 when queued under backpressure,
 * 0 when dropped.
 */
export interface TerminalSocket {
  sendBinary(data: Uint8Array): number
  sendText(text: string): number
  /** Bytes queued in the socket, not yet written to the network. */
  bufferedAmount(): number
  close(code: number, reason: string): void
}

/** What a session needs to know about its limits. */
export interface SessionSettings {
  config: Pick<TerminalConfig, 'timeLimitMs' | 'idleMs' | 'graceMs' | 'recordingLimit'>
  flow: FlowLimits
  /** Scrollback kept for a resume. */
  scrollbackBytes: number
}

/**
 * What a session tells its owner. The session never reaches back into the manager: these are its
 * only way out, each one a notification the owner acts on.
 */
export interface SessionEvents {
  /** A socket attached or went away (the shared registry record follows). */
  status(status: 'attached' | 'detached'): void
  /** Output of `bytes` bytes reached the scrollback. */
  output?(bytes: number): void
  /** The session ended and its client was told; the returned promise stores what must outlive it. */
  ended(exit: SessionExit): Promise<void>
}

const noticeLead = (limitMs: number) => Math.min(60_000, Math.floor(limitMs / 2))
const minutes = (ms: number) => {
  if (ms >= 90_000) return `${Math.round(ms / 60_000)} minutes`
  if (ms >= 60_000) return '1 minute'
  const secs = Math.max(1, Math.ceil(ms / 1000))
  return `${secs} second${secs === 1 ? '' : 's'}`
}

/**
 * One terminal session on this instance: a runner session plus its socket, timers (idle, hard
 * limit, reconnect grace), flow control, scrollback and recording.
 */
export class LiveSession {
  readonly scrollback: Scrollback
  readonly recorder: AsciicastRecorder
  socket: TerminalSocket | null = null
  private readonly flow: OutputFlow
  endReason: EndReason | undefined
  exit: SessionExit | undefined
  private timers = new Map<string, ReturnType<typeof setTimeout>>()
  private unsubscribe: () => void = () => {}
  /** Resolves once the session ended and its recording and history row are stored. */
  readonly finished: Promise<void>
  private finish!: () => void

  constructor(
    readonly record: SessionRecord,
    readonly runner: RunnerSession,
    readonly size: TerminalSize,
    /** What the client presents to reattach (only its hash leaves this instance). */
    readonly resumeToken: string,
    private readonly settings: SessionSettings,
    private readonly events: SessionEvents,
  ) {
    this.scrollback = new Scrollback(settings.scrollbackBytes)
    this.recorder = new AsciicastRecorder(size, settings.config.recordingLimit, { title: record.project })
    this.flow = new OutputFlow(settings.flow, runner)
    this.finished = new Promise((resolve) => {
      this.finish = resolve
    })
  }

  get id(): string {
    return this.record.id
  }

  get ended(): boolean {
    return this.exit !== undefined
  }

  /** Bytes sent on the current socket and not acknowledged yet. */
  get unacked(): number {
    return this.flow.unacked
  }

  /** True while the runner is paused (client behind, or no socket). */
  get paused(): boolean {
    return this.flow.paused
  }

  /** Output held while paused, sent on resume. */
  get pendingBytes(): number {
    return this.flow.pendingBytes
  }

  /** Subscribes to the runner's output and starts the timers (once the owner registered the session). */
  start(): void {
    const { config } = this.settings
    this.unsubscribe = this.runner.onData((chunk) => this.output(chunk))
    // From the record's expiry, so a session adopted from another instance keeps its deadline.
    const left = this.record.expiresAt - Date.now()
    this.timer('hard', left, () => void this.end('timeout'))
    const lead = noticeLead(config.timeLimitMs)
    this.timer('hard-notice', left - lead, () =>
      this.send({ type: 'notice', message: `this session reaches its time limit in ${minutes(lead)}` }),
    )
    this.touch()
    this.runner.exited.then(
      (info) => void this.finalize(info.code, info.reason, info.message),
      () => void this.finalize(null, 'error'),
    )
  }

  /** Attaches a socket: `ready`, then the scrollback replay; a previous socket is replaced. */
  attach(socket: TerminalSocket, replay: boolean): void {
    const previous = this.socket
    if (previous && previous !== socket) previous.close(CLOSE.replaced, 'replaced by a newer connection')
    this.clearTimer('grace')
    this.socket = socket
    this.flow.connect(socket)
    this.send({
      type: 'ready',
      sessionId: this.id,
      runner: this.record.runner,
      expiresAt: new Date(this.record.expiresAt).toISOString(),
      resumeToken: this.resumeToken,
    })
    if (replay) {
      const snapshot = this.scrollback.snapshot()
      if (snapshot.length > 0) this.flow.send(snapshot)
    }
    this.flow.resume()
    this.events.status('attached')
  }

  /** The socket went away: keep the session for the grace period, paused. */
  detach(socket: TerminalSocket): void {
    if (this.socket !== socket) return
    this.socket = null
    this.flow.connect(null)
    if (this.ended) return
    this.flow.pause()
    this.timer('grace', this.settings.config.graceMs, () => void this.end('abandoned'))
    this.events.status('detached')
  }

  input(data: Uint8Array): void {
    if (this.ended) return
    this.touch()
    this.runner.write(data)
  }

  async resize(cols: number, rows: number): Promise<void> {
    if (this.ended) return
    this.size.cols = cols
    this.size.rows = rows
    this.recorder.resize(cols, rows)
    await this.runner.resize({ cols, rows })
  }

  /** The client processed `bytes` more bytes (xterm's write callback). */
  ack(bytes: number): void {
    this.flow.ack(bytes)
  }

  /** The socket drained its send buffer. */
  drained(): void {
    this.flow.resume()
  }

  send(message: ServerMessage): void {
    this.socket?.sendText(JSON.stringify(message))
  }

  /** Ends the session (idempotent); the client gets `exit` with this reason. */
  async end(reason: EndReason): Promise<void> {
    if (this.ended || this.endReason) return
    this.endReason = reason
    await this.runner.kill(reason === 'abandoned' ? 'idle' : reason).catch(() => {})
  }

  private output(chunk: Uint8Array): void {
    this.scrollback.append(chunk)
    this.recorder.output(chunk)
    this.events.output?.(chunk.length)
    this.flow.write(chunk)
  }

  /** Input arrived: restart the idle countdown (and its notice). */
  private touch(): void {
    const { idleMs } = this.settings.config
    const lead = noticeLead(idleMs)
    this.timer('idle-notice', idleMs - lead, () =>
      this.send({ type: 'notice', message: `this session ends in ${minutes(lead)} without input` }),
    )
    this.timer('idle', idleMs, () => void this.end('idle'))
  }

  private timer(name: string, ms: number, fn: () => void): void {
    this.clearTimer(name)
    const t = setTimeout(fn, Math.max(0, ms))
    t.unref?.()
    this.timers.set(name, t)
  }

  private clearTimer(name: string): void {
    const t = this.timers.get(name)
    if (t) clearTimeout(t)
    this.timers.delete(name)
  }

  private async finalize(code: number | null, runnerReason: EndReason, message?: string): Promise<void> {
    if (this.exit) return
    const reason = this.endReason ?? runnerReason
    // A runner's explanation (e.g. its runner service stopped) reaches the visitor with the exit.
    this.exit = message && !this.endReason ? { code, reason, message } : { code, reason }
    this.flow.stop()
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
    this.unsubscribe()
    const socket = this.socket
    if (socket) {
      this.send({ type: 'exit', ...this.exit })
      socket.close(CLOSE.normal, `session ended: ${reason}`)
      this.socket = null
    }
    try {
      await this.events.ended(this.exit)
    } finally {
      this.finish()
    }
  }
}
