import type { ExitInfo, ExitReason, OpenOptions, RunnerSession, TerminalSize } from '../types.ts'
import type { MemFs } from './memfs.ts'
import type { HostPool } from './program.ts'
import { Shell } from './shell.ts'
import type { Toolchain } from './toolchain.ts'

/** Everything one session needs, handed over by the runner that opens it. */
export interface WasiSessionOptions {
  open: OpenOptions
  /** The session's own workspace. */
  fs: MemFs
  /** The project's precompiled `prebuilt/<name>.wasm`, memory-capped, if there is one. */
  prebuilt: (name: string) => Promise<Uint8Array | undefined>
  toolchain: Toolchain
  /** Processes that run programs, shared by the runner's sessions. */
  hosts: HostPool
  programTimeLimitMs: number
  memoryLimit: number
  /** Output buffered while paused (or before anyone listens) before programs stop being read. */
  highWaterMark: number
}

/**
 * One WASI terminal: the shell's output queue (held while paused or before anyone listens, with
 * programs stalled above the high-water mark), the session time limit and the exit info.
 */
export class WasiSession implements RunnerSession {
  readonly id = crypto.randomUUID()
  readonly kind = 'wasi' as const
  readonly exited: Promise<ExitInfo>
  #resolveExit!: (info: ExitInfo) => void
  #ended = false
  #size: TerminalSize
  readonly #shell: Shell
  readonly #listeners = new Set<(chunk: Uint8Array) => void>()
  readonly #queue: Uint8Array[] = []
  #buffered = 0
  #paused = false
  #drainWaiters: (() => void)[] = []
  #timer: ReturnType<typeof setTimeout> | undefined
  readonly #highWater: number
  readonly #timeLimitMs: number | undefined

  constructor(options: WasiSessionOptions) {
    const { open } = options
    this.exited = new Promise((resolve) => {
      this.#resolveExit = resolve
    })
    this.#size = { ...open.size }
    this.#highWater = options.highWaterMark
    this.#timeLimitMs = open.timeLimitMs
    this.#shell = new Shell({
      fs: options.fs,
      project: open.project,
      env: open.env ?? {},
      size: () => this.#size,
      write: (data) => this.#push(data),
      writeAsync: (data) => this.#pushAsync(data),
      exit: (code) => this.#end({ code, reason: 'exit' }),
      toolchain: options.toolchain,
      hosts: options.hosts,
      prebuilt: options.prebuilt,
      programTimeLimitMs: options.programTimeLimitMs,
      memoryLimit: options.memoryLimit,
    })
  }

  /** Arms the session time limit and shows the first prompt. */
  start(): void {
    if (this.#timeLimitMs !== undefined) {
      this.#timer = setTimeout(() => {
        this.#push(new TextEncoder().encode('\r\n\x1b[0mshellfolio: session time limit reached\r\n'))
        this.#end({ code: null, reason: 'timeout', message: 'session time limit reached' })
      }, this.#timeLimitMs)
    }
    this.#shell.start()
  }

  write(data: Uint8Array | string): void {
    if (!this.#ended) this.#shell.input(data)
  }

  async resize(size: TerminalSize): Promise<void> {
    if (size.cols > 0 && size.rows > 0) this.#size = { cols: size.cols, rows: size.rows }
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    this.#listeners.add(listener)
    // why: output buffered before the first listener is delivered on the next microtask, never
    // from inside onData() (the caller may not have stored the unsubscribe function yet)
    queueMicrotask(() => this.#flush())
    return () => {
      this.#listeners.delete(listener)
    }
  }

  pause(): void {
    this.#paused = true
  }

  resume(): void {
    this.#paused = false
    this.#flush()
  }

  async kill(reason: ExitReason = 'killed'): Promise<void> {
    this.#end({ code: null, reason })
    await this.exited
  }

  #deliverable(): boolean {
    return !this.#paused && this.#listeners.size > 0
  }

  #push(chunk: Uint8Array): void {
    if (this.#ended || chunk.length === 0) return
    if (this.#deliverable() && this.#queue.length === 0) {
      for (const l of this.#listeners) l(chunk)
      return
    }
    this.#queue.push(chunk)
    this.#buffered += chunk.length
  }

  /** Program output: waits while more than the high-water mark is buffered, so the program stalls. */
  async #pushAsync(chunk: Uint8Array): Promise<void> {
    this.#push(chunk)
    while (this.#buffered > this.#highWater && !this.#ended) {
      await new Promise<void>((resolve) => this.#drainWaiters.push(resolve))
    }
  }

  #flush(): void {
    while (this.#queue.length > 0 && this.#deliverable()) {
      const chunk = this.#queue.shift()!
      this.#buffered -= chunk.length
      for (const l of this.#listeners) l(chunk)
    }
    if (this.#buffered <= this.#highWater / 2 || this.#ended) {
      const waiters = this.#drainWaiters
      this.#drainWaiters = []
      for (const w of waiters) w()
    }
  }

  #end(info: ExitInfo): void {
    if (this.#ended) return
    // deliver what the listeners can still take (e.g. the last message) before ending
    this.#flush()
    this.#ended = true
    clearTimeout(this.#timer)
    this.#shell.close()
    this.#queue.length = 0
    this.#buffered = 0
    this.#flush()
    this.#resolveExit(info)
  }
}
