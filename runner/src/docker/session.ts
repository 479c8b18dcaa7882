import type { FileDownload, FileUpload, PutFilesResult } from '../files.ts'
import { INTERRUPT_SLACK, interruptKeys } from '../protocol/terminal.ts'
import {
  type CommandPolicy,
  type ExitInfo,
  type ExitReason,
  RunnerError,
  type RunnerSession,
  type TerminalSize,
} from '../types.ts'
import { getFile, putFiles } from './files.ts'
import { CommandLineTracker, type PromptKind } from './line-tracker.ts'
import { INPUT_IN_FLIGHT, type PreparedContainer } from './prepared.ts'

const PROMPT_MARKERS: [Buffer, PromptKind][] = [
  [Buffer.from('\x1b]6973;prompt\x07', 'latin1'), 'ps1'],
  [Buffer.from('\x1b]6973;more\x07', 'latin1'), 'ps2'],
]
const MARKER_TAIL = 32
/** Output kept while nobody listens yet; above this the container's output is paused. */
const UNHEARD_LIMIT = 256 * 1024
/** After a refusal, input waits this long at most for the fresh prompt before flowing again. */
const HOLD_MS = 3_000
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/

export interface DockerSessionOptions {
  policy: CommandPolicy
  size: TerminalSize
  timeLimitMs: number
  env?: Record<string, string>
  /**
   * The project's slug: the shell starts in `~/projects/<slug>` (the image's /etc/bash.bashrc reads
   * it from the handshake; docs/runners.md, "Starting folder and help").
   */
  project?: string
  /** Called once the session has ended and its container is gone. */
  onEnd?: () => void
  /**
   * Set when re-attaching to a running container: the shell is already up (no handshake), and
   * `atPrompt` says whether it was idle at its prompt (else a program runs and input is its own).
   */
  resumed?: { atPrompt: boolean }
}

/** A failure to reach the engine's socket at all: the engine is not running (stopped or restarting). */
const engineGone = (err: unknown): boolean => {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && ['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE'].includes(code)
}

/**
 * Whether the engine goes away within a few seconds of a container being killed: a stopping engine
 * (a restart) kills its containers first (137 after its stop timeout) and still answers meanwhile,
 * so the only sign is that it stops answering right after.
 */
async function engineStopping(container: { inspect(): Promise<unknown> }, ms = 5_000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    try {
      await container.inspect()
    } catch (err) {
      return engineGone(err)
    }
    await Bun.sleep(250)
  }
  return false
}

/**
 * One terminal on one container. Output is raw (TTY: no multiplexing), handed on as it arrives;
 * input goes through the command-policy line tracker.
 */
export class DockerSession implements RunnerSession {
  readonly kind = 'docker' as const
  readonly id: string
  readonly exited: Promise<ExitInfo>
  private resolveExit!: (info: ExitInfo) => void
  private readonly listeners = new Set<(chunk: Uint8Array) => void>()
  private unheard: Buffer[] = []
  private unheardBytes = 0
  private userPaused = false
  private bufferPaused = false
  private readonly tracker: CommandLineTracker
  private tail = Buffer.alloc(0)
  private notice: string | null = null
  private held: Uint8Array[] | null = null
  private heldBytes = 0
  private holdTimer: ReturnType<typeof setTimeout> | undefined
  private limitTimer: ReturnType<typeof setTimeout> | undefined
  private ending: Promise<void> | null = null
  /** Why the session is being ended by the runner (kill, time limit); null for the shell's own exit. */
  private killReason: ExitReason | null = null

  constructor(
    private readonly prepared: PreparedContainer,
    private readonly opts: DockerSessionOptions,
  ) {
    this.id = prepared.sessionId
    this.tracker = new CommandLineTracker(opts.policy)
    this.exited = new Promise((resolve) => {
      this.resolveExit = resolve
    })
  }

  /** The engine's id of this session's container (for admin views and tests). */
  get containerId(): string {
    return this.prepared.container.id
  }

  /** Files in (docs/runners.md, "Files"): an exec in the container as the sandbox user (files.ts). */
  putFiles(dir: string, files: FileUpload[]): Promise<PutFilesResult> {
    if (this.ending) return Promise.reject(new RunnerError('SESSION_GONE', 'the session has ended'))
    return putFiles(this.prepared.container, dir, files)
  }

  getFile(path: string): Promise<FileDownload> {
    if (this.ending) return Promise.reject(new RunnerError('SESSION_GONE', 'the session has ended'))
    return getFile(this.prepared.container, path)
  }

  /** Resizes the TTY, sends the handshake the waiting shell reads (its environment) and arms the time limit. */
  async start(): Promise<void> {
    await this.resize(this.opts.size)
    if (this.opts.resumed) {
      if (this.opts.resumed.atPrompt) this.tracker.onPrompt('ps1')
      this.prepared.takeOver(
        (chunk) => this.output(chunk),
        (code) => void this.end(this.killReason ?? 'exit', code),
      )
      this.armLimit()
      return
    }
    const env: Record<string, string> = {
      ...this.opts.env,
      COLUMNS: String(this.opts.size.cols),
      LINES: String(this.opts.size.rows),
      ...(this.opts.project ? { SHELLFOLIO_PROJECT: this.opts.project } : {}),
    }
    const line = Object.entries(env)
      // why: one line of tab-separated KEY=VALUE pairs (the image's /etc/bash.bashrc reads it with
      // `read -s`); a control character (tab, newline) in a value would split or end it early
      .filter(([k, v]) => ENV_KEY.test(k) && [...v].every((c) => c >= ' ' && c !== '\x7f'))
      .map(([k, v]) => `${k}=${v}`)
      .join('\t')
    this.prepared.takeOver(
      (chunk) => this.output(chunk),
      (code) => void this.end(this.killReason ?? 'exit', code),
    )
    this.prepared.write(`${line}\n`)
    this.armLimit()
  }

  private armLimit(): void {
    this.limitTimer = setTimeout(() => void this.kill('timeout'), this.opts.timeLimitMs)
    // why: the container stream keeps the process alive while the session runs; the limit need not
    this.limitTimer.unref?.()
  }

  write(data: Uint8Array | string): boolean {
    if (this.ending) return true
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
    if (this.held) {
      // Held input is bounded like input in flight (docs/budgets.md); interrupt keys still get in.
      if (this.heldBytes + bytes.length > INPUT_IN_FLIGHT) {
        const keys = interruptKeys(bytes)
        if (keys && this.heldBytes + keys.length <= INPUT_IN_FLIGHT + INTERRUPT_SLACK) {
          this.held.push(keys)
          this.heldBytes += keys.length
        }
        return false
      }
      this.held.push(bytes)
      this.heldBytes += bytes.length
      return true
    }
    return this.send(bytes)
  }

  private send(bytes: Uint8Array): boolean {
    const inFlight = this.prepared.inputInFlight
    if (inFlight > 0 && inFlight + bytes.length > INPUT_IN_FLIGHT) {
      // The container is not taking its input: the chunk is refused, but a Ctrl-C in it still goes
      // through, or a visitor could never stop the program that is not reading (docs/budgets.md).
      const keys = interruptKeys(bytes)
      if (keys) this.forward(keys, true)
      return false
    }
    return this.forward(bytes, false)
  }

  /** Through the line tracker to the container; false when the tracker dropped some of it. */
  private forward(bytes: Uint8Array, interrupt: boolean): boolean {
    const { forward, refused, dropped } = this.tracker.input(bytes)
    if (forward.length > 0) this.prepared.write(Buffer.from(forward), interrupt)
    if (refused !== undefined) {
      this.notice = refused
      // Hold further input until the shell shows its fresh prompt, so a quick second line is
      // checked too instead of reaching the shell as unchecked type-ahead.
      this.held = []
      this.heldBytes = 0
      this.holdTimer = setTimeout(() => this.release(), HOLD_MS)
    }
    return !dropped
  }

  private release(): void {
    clearTimeout(this.holdTimer)
    const queue = this.held ?? []
    this.held = null
    this.heldBytes = 0
    for (let i = 0; i < queue.length; i++) {
      // why: a line in the queue may itself be refused, which starts holding again
      const holding = this.held as Uint8Array[] | null
      if (holding) {
        for (const rest of queue.slice(i)) {
          holding.push(rest)
          this.heldBytes += rest.length
        }
        return
      }
      this.send(queue[i] as Uint8Array)
    }
  }

  async resize(size: TerminalSize): Promise<void> {
    if (this.ending) return
    // why: right after start the engine may still answer 409/500 "container is not running"
    for (let attempt = 0; ; attempt++) {
      try {
        await this.prepared.container.resize({ h: size.rows, w: size.cols })
        return
      } catch (err) {
        const status = (err as { statusCode?: number }).statusCode
        if (attempt >= 5 || (status !== 409 && status !== 500) || !this.prepared.alive) throw err
        await Bun.sleep(20 * 2 ** attempt)
      }
    }
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    this.listeners.add(listener)
    if (this.unheard.length > 0) {
      const chunks = this.unheard
      this.unheard = []
      this.unheardBytes = 0
      for (const chunk of chunks) listener(chunk)
    }
    if (this.bufferPaused) {
      this.bufferPaused = false
      this.applyFlow()
    }
    return () => {
      this.listeners.delete(listener)
    }
  }

  pause(): void {
    this.userPaused = true
    this.applyFlow()
  }

  resume(): void {
    this.userPaused = false
    this.applyFlow()
  }

  /** True while the container's output stream is paused (flow control or nobody listening). */
  get paused(): boolean {
    return this.prepared.stream.isPaused()
  }

  private applyFlow(): void {
    const stream = this.prepared.stream
    if (this.userPaused || this.bufferPaused) stream.pause()
    else stream.resume()
  }

  private output(chunk: Buffer): void {
    let out = chunk
    const scan = Buffer.concat([this.tail, chunk])
    let last: { at: number; kind: PromptKind; length: number } | null = null
    for (const [marker, kind] of PROMPT_MARKERS) {
      const at = scan.lastIndexOf(marker)
      // only markers that end inside the new chunk: one seen before was already handled
      if (at >= 0 && at + marker.length > this.tail.length && (!last || at > last.at)) {
        last = { at, kind, length: marker.length }
      }
    }
    this.tail = Buffer.from(scan.subarray(Math.max(0, scan.length - MARKER_TAIL)))
    if (last) {
      this.tracker.onPrompt(last.kind)
      if (this.notice !== null) {
        // Show the refusal just before the fresh prompt, on a line of its own.
        const at = Math.max(0, last.at - (scan.length - chunk.length))
        const message = Buffer.from(`shellfolio: ${this.notice}\r\n`, 'utf8')
        out = Buffer.concat([chunk.subarray(0, at), message, chunk.subarray(at)])
        this.notice = null
      }
      if (this.held) this.release()
    }
    if (this.listeners.size === 0) {
      this.unheard.push(out)
      this.unheardBytes += out.length
      if (this.unheardBytes > UNHEARD_LIMIT && !this.bufferPaused) {
        this.bufferPaused = true
        this.applyFlow()
      }
      return
    }
    for (const listener of this.listeners) listener(out)
  }

  async kill(reason: ExitReason = 'killed'): Promise<void> {
    if (!this.ending) {
      this.killReason = reason
      await this.end(reason, null)
    }
    await this.exited
  }

  /** Ends the session once: drains output (on a normal exit), removes the container, resolves. */
  private end(reason: ExitReason, code: number | null): Promise<void> {
    if (this.ending) return this.ending
    this.ending = (async () => {
      clearTimeout(this.limitTimer)
      clearTimeout(this.holdTimer)
      let message: string | undefined
      if (reason === 'exit') {
        // Let the last output through before the stream is torn down (bounded: a detached stream
        // might never end).
        this.userPaused = false
        this.bufferPaused = false
        this.applyFlow()
        await Promise.race([this.prepared.streamEnded, Bun.sleep(2_000)])
        // why: under gVisor the host's OOM killer stops the whole sandbox rather than one process of
        // it (docs/threat-model.md), so the visitor is told why the session ended
        if (code === 137) {
          const state = await this.prepared.container.inspect().then(
            (i) => i.State,
            () => null,
          )
          if (state?.OOMKilled) message = 'the sandbox went over its memory limit and was stopped'
        }
      }
      // Killed (or its wait cut) without an OOM: was it the engine stopping? (docs/faults.md)
      let stopped =
        reason === 'exit' && !message && (code === null || code === 137 || code === 143)
          ? await engineStopping(this.prepared.container)
          : false
      try {
        await this.prepared.destroy()
      } catch (err) {
        if (engineGone(err)) stopped = true
        else message = `container cleanup failed: ${err instanceof Error ? err.message : String(err)}`
      }
      let why = reason
      if (stopped) {
        // The engine stopped (a restart): its sandboxes went with it.
        why = 'error'
        message = 'the Docker engine stopped, and this session with it; open a new one in a moment'
      }
      const info: ExitInfo = { code: why === 'exit' ? code : null, reason: why }
      if (why === 'timeout')
        info.message = `session time limit of ${Math.round(this.opts.timeLimitMs / 1000)} s reached`
      if (message) info.message = message
      this.opts.onEnd?.()
      this.resolveExit(info)
    })()
    return this.ending
  }
}
