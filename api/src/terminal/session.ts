import type { RunnerSession, TerminalSize } from '@shellfolio/runner'
import {
  CLOSE,
  type EndReason,
  INPUT_LIMITS,
  interruptKeys,
  type ServerMessage,
  type SessionExit,
} from '@shellfolio/runner/terminal-protocol'
import type { TerminalConfig } from '../config.ts'
import { metrics } from '../metrics/index.ts'
import { type FlowLimits, OutputFlow } from './flow.ts'
import { AsciicastRecorder } from './recording.ts'
import type { SessionRecord } from './registry.ts'
import { TerminalScreen } from './screen.ts'

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
}

/**
 * What a session tells its owner. The session never reaches back into the manager: these are its
 * only way out, each one a notification the owner acts on.
 */
export interface SessionEvents {
  /** A socket attached or went away (the shared registry record follows). */
  status(status: 'attached' | 'detached'): void
  /** Output `chunk` reached the screen (spectators get it from here). */
  output?(chunk: Uint8Array): void
  /** The terminal changed size. */
  resized?(size: TerminalSize): void
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
 * limit, reconnect grace), flow control, screen (replayed on resume) and recording.
 */
export class LiveSession {
  /** The screen as the client shows it, replayed on resume (screen.ts). */
  readonly screen: TerminalScreen
  readonly recorder: AsciicastRecorder
  socket: TerminalSocket | null = null
  /** How many spectators watch (watch.ts); the owner's client is told on every change. */
  watchers = 0
  private readonly flow: OutputFlow
  endReason: EndReason | undefined
  exit: SessionExit | undefined
  private timers = new Map<string, ReturnType<typeof setTimeout>>()
  private unsubscribe: () => void = () => {}
  /** The runner refused input and the client was told; reset by the next accepted write. */
  private overflowing = false
  /** Input bytes the session may take right now (a token bucket, `INPUT_LIMITS`). */
  private inputCredit: number = INPUT_LIMITS.burstBytes
  private inputAt = performance.now()
  /** Bytes refused over the rate since the bucket was last full: past a burst's worth, a flood. */
  private refusedOverRate = 0
  /** Until when (performance.now()) the flood read so far pays for itself at `floodBytesPerSecond`. */
  private floodPacedUntil = 0
  /** Sends the time-limit notice, until it was sent (finalize sends it if the runner's own limit came first). */
  private hardNotice: (() => void) | undefined
  /** Resolves once the session ended and its recording and history row are stored. */
  readonly finished: Promise<void>
  private finish!: () => void
  /** Output held while a replay waits for the screen to catch up; sent right after it. */
  private afterReplay: Uint8Array[] | null = null
  private afterReplayBytes = 0

  constructor(
    readonly record: SessionRecord,
    readonly runner: RunnerSession,
    readonly size: TerminalSize,
    /** What the client presents to reattach (only its hash leaves this instance). */
    readonly resumeToken: string,
    private readonly settings: SessionSettings,
    private readonly events: SessionEvents,
  ) {
    this.screen = new TerminalScreen(size)
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
    const lead = noticeLead(config.timeLimitMs)
    // the notice's timer first: when both are due at once (a start slower than the lead), the
    // visitor is still told before the session ends
    this.hardNotice = () => {
      this.hardNotice = undefined
      this.send({ type: 'notice', message: `this session reaches its time limit in ${minutes(lead)}` })
    }
    this.timer('hard-notice', left - lead, () => this.hardNotice?.())
    this.timer('hard', left, () => void this.end('timeout'))
    this.touch()
    this.runner.exited.then(
      (info) => void this.finalize(info.code, info.reason, info.message),
      () => void this.finalize(null, 'error'),
    )
  }

  /** Attaches a socket: `ready`, then the screen's replay; a previous socket is replaced. */
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
    if (this.watchers > 0) this.send({ type: 'watchers', count: this.watchers })
    this.releaseHeld()
    if (replay && this.screen.pendingBytes > 0) {
      // The screen parses in slices: the replay is its state once everything written so far is
      // parsed; output arriving meanwhile is held and follows the replay (the runner is paused,
      // only what was in flight arrives).
      this.afterReplay = []
      this.afterReplayBytes = 0
      this.flow.pause()
      void this.screen.flushed().then(() => {
        if (this.socket !== socket || this.ended) return
        this.sendReplay()
        const held = this.afterReplay ?? []
        this.afterReplay = null
        for (const chunk of held) {
          this.toScreen(chunk)
          this.flow.write(chunk)
        }
        this.flow.resume()
      })
    } else {
      if (replay) this.sendReplay()
      this.flow.resume()
    }
    this.events.status('attached')
  }

  /** A replay that will not be sent: what it held goes into the screen (the next replay has it). */
  private releaseHeld(): void {
    for (const chunk of this.afterReplay ?? []) this.toScreen(chunk)
    this.afterReplay = null
  }

  private sendReplay(): void {
    const state = this.screen.serialize()
    if (state.length > 0) this.flow.send(state)
  }

  /** The socket went away: keep the session for the grace period, paused. */
  detach(socket: TerminalSocket): void {
    if (this.socket !== socket) return
    this.socket = null
    this.releaseHeld()
    this.flow.connect(null)
    if (this.ended) return
    this.flow.pause()
    this.timer('grace', this.settings.config.graceMs, () => void this.end('abandoned'))
    this.events.status('detached')
  }

  /**
   * Keystrokes from the client. Input the runner refuses (its input budget is full: the program is
   * not reading, docs/budgets.md) is dropped, and the client is told once per burst. Returns how
   * long (ms) the caller should stop reading this client: > 0 while it floods past the rate.
   */
  input(data: Uint8Array): number {
    if (this.ended) return 0
    this.touch()
    // why: a client sending as fast as its link allows would otherwise keep this event loop busy
    // moving bytes no program reads (docs/budgets.md); the bucket refills at a typist's paste rate
    const now = performance.now()
    this.inputCredit = Math.min(
      INPUT_LIMITS.burstBytes,
      this.inputCredit + ((now - this.inputAt) / 1000) * INPUT_LIMITS.bytesPerSecond,
    )
    this.inputAt = now
    if (this.inputCredit >= INPUT_LIMITS.burstBytes) this.refusedOverRate = 0
    const affordable = data.length <= this.inputCredit
    if (affordable) this.inputCredit -= data.length
    if (affordable && this.runner.write(data) !== false) {
      this.recorder.input(data)
      this.overflowing = false
      return 0
    }
    if (!affordable) {
      // Over the rate, the chunk is dropped but its Ctrl-C (Ctrl-\, Ctrl-Z) still reaches the
      // program, which a visitor must always be able to stop (docs/budgets.md, "Interrupt keys").
      // A runner that refused the chunk itself passed them on already.
      const keys = interruptKeys(data)
      if (keys) {
        this.runner.write(keys)
        this.recorder.input(keys)
      }
    }
    metrics.terminalInputRefused.inc({ runner: this.record.runner }, data.length)
    if (!this.overflowing) {
      this.overflowing = true
      this.send({
        type: 'error',
        code: 'INPUT_OVERFLOW',
        message: 'input arrives faster than the session takes it; some was dropped',
      })
    }
    if (affordable) return 0
    // A paste past the burst is dropped at once (a Ctrl-C after it is read at once too); a client
    // that goes on sending over the rate (more than another burst refused before its bucket
    // refilled) is read no faster than `floodBytesPerSecond`: each refused frame pauses reading for
    // its share of that rate, counted from where the frames before it left off, so frames the
    // socket had already read lengthen the pause (at most 2 s at a time). The rest of the flood
    // waits in the client's own TCP buffers, not in this event loop (docs/budgets.md, "API and
    // transport"); its own Ctrl-C waits behind it.
    this.refusedOverRate += data.length
    if (this.refusedOverRate <= INPUT_LIMITS.burstBytes) return 0
    this.floodPacedUntil = Math.max(now, this.floodPacedUntil) + (data.length / INPUT_LIMITS.floodBytesPerSecond) * 1000
    return Math.min(2_000, Math.ceil(this.floodPacedUntil - now))
  }

  async resize(cols: number, rows: number): Promise<void> {
    if (this.ended) return
    this.size.cols = cols
    this.size.rows = rows
    this.recorder.resize(cols, rows)
    this.screen.resize({ cols, rows })
    this.events.resized?.({ cols, rows })
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

  /** The number of spectators changed (watch.ts). */
  setWatchers(count: number): void {
    if (count === this.watchers) return
    this.watchers = count
    this.send({ type: 'watchers', count })
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
    this.recorder.output(chunk)
    if (this.afterReplay) {
      // why not into the screen yet: the replay is the screen once what came before is parsed; a
      // held chunk parsed before it is taken would reach the client twice (in the replay, then live)
      this.afterReplay.push(chunk)
      this.afterReplayBytes += chunk.length
      // An ack meanwhile resumed the runner: held output stays bounded.
      if (this.afterReplayBytes > this.settings.flow.highWatermark) this.flow.pause()
    } else {
      this.toScreen(chunk)
      this.flow.write(chunk)
    }
  }

  /** Output enters the screen; `events.output` (the adoption mirror) hears of it once it has. */
  private toScreen(chunk: Uint8Array): void {
    this.screen.write(chunk)
    this.events.output?.(chunk)
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
    // the runner's own limit, counted from its open, may end the session before this notice's
    // timer fires on a busy machine: the visitor is told before the exit all the same
    if (reason === 'timeout') this.hardNotice?.()
    this.flow.stop()
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
    this.unsubscribe()
    this.screen.dispose()
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
