import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import {
  type ExitInfo,
  type ExitReason,
  type OpenOptions,
  type Runner,
  RunnerError,
  type RunnerSession,
  type TerminalSize,
} from '../types.ts'
import { type FsNode, MemFs, seedFromHost } from './memfs.ts'
import { HostPool } from './program.ts'
import { HOME, Shell } from './shell.ts'
import { DEFAULT_MEMORY_LIMIT, Toolchain } from './toolchain.ts'
import { capMemory, isWasm } from './wasm-limits.ts'

export { Toolchain } from './toolchain.ts'

export interface WasiRunnerOptions {
  /** Wall-clock budget of one program run; then it is killed with a message (default 30 s). */
  programTimeLimitMs?: number
  /** Linear-memory cap of every program (default 256 MiB). */
  memoryLimitBytes?: number
  /** Output buffered while paused (or before anyone listens) before programs stop being read (default 256 KiB). */
  highWaterMark?: number
  /** Programs running at once across the runner's sessions (each in a host process; default 32). */
  maxConcurrentPrograms?: number
  /**
   * Load the compiler (~100 MB of LLVM, seconds) in the background when the first session opens,
   * so a visitor's first `make` does not pay for it (default true).
   */
  prewarmCompiler?: boolean
  /** The compiler; defaults to one instance shared by the whole process. */
  toolchain?: Toolchain
}

let sharedToolchain: Toolchain | undefined

/** The process-wide clang (first compile loads ~100 MB of LLVM; later ones reuse it). */
export function defaultToolchain(): Toolchain {
  sharedToolchain ??= new Toolchain(2)
  return sharedToolchain
}

/**
 * The WASI back end: a TypeScript shell per session over an in-memory workspace; `make` compiles
 * with clang-in-WebAssembly and programs run in @wasmer/sdk sandboxes. Needs no Docker.
 */
export function createWasiRunner(options: WasiRunnerOptions = {}): Runner {
  return new WasiRunner(options)
}

class WasiRunner implements Runner {
  readonly kind = 'wasi' as const
  readonly #sessions = new Set<WasiSession>()
  readonly #seeds = new Map<string, Map<string, FsNode>>()
  readonly #prebuilt = new Map<string, Promise<Uint8Array | undefined>>()
  readonly hosts: HostPool
  #closed = false
  #prewarmed = false

  constructor(readonly options: WasiRunnerOptions) {
    this.hosts = new HostPool(options.maxConcurrentPrograms ?? 32)
  }

  async available(): Promise<boolean> {
    return !this.#closed
  }

  #seed(sourceDir: string, slug: string): Map<string, FsNode> {
    let seed = this.#seeds.get(sourceDir)
    if (!seed) {
      const base = statSync(sourceDir).mtimeMs
      seed = new Map<string, FsNode>([
        ['/', { kind: 'dir', mtime: base }],
        ['/home', { kind: 'dir', mtime: base }],
        [HOME, { kind: 'dir', mtime: base }],
        [`${HOME}/projects`, { kind: 'dir', mtime: base }],
      ])
      for (const [k, v] of seedFromHost(sourceDir, `${HOME}/projects/${slug}`)) seed.set(k, v)
      this.#seeds.set(sourceDir, seed)
    }
    return seed
  }

  #loadPrebuilt(sourceDir: string, name: string): Promise<Uint8Array | undefined> {
    const path = join(sourceDir, 'prebuilt', `${name}.wasm`)
    let p = this.#prebuilt.get(path)
    if (!p) {
      p = (async () => {
        if (!existsSync(path)) return undefined
        const bytes = new Uint8Array(readFileSync(path))
        if (!isWasm(bytes)) return undefined
        return capMemory(bytes, this.options.memoryLimitBytes ?? DEFAULT_MEMORY_LIMIT)
      })()
      this.#prebuilt.set(path, p)
    }
    return p
  }

  async open(options: OpenOptions): Promise<RunnerSession> {
    if (this.#closed) throw new RunnerError('RUNNER_CLOSED', 'the WASI runner is closed')
    const { project } = options
    if (!/^[a-z0-9][a-z0-9_-]*$/i.test(project.slug)) {
      throw new RunnerError('INVALID_PROJECT', `invalid project slug '${project.slug}'`)
    }
    if (!existsSync(project.sourceDir) || !statSync(project.sourceDir).isDirectory()) {
      throw new RunnerError('PROJECT_NOT_FOUND', `project directory ${project.sourceDir} does not exist`)
    }
    const session = new WasiSession(this, options, new MemFs(this.#seed(project.sourceDir, project.slug)), (name) =>
      this.#loadPrebuilt(project.sourceDir, name),
    )
    if (!this.#prewarmed && this.options.prewarmCompiler !== false) {
      this.#prewarmed = true
      void (this.options.toolchain ?? defaultToolchain()).warm().catch(() => {})
    }
    this.#sessions.add(session)
    void session.exited.then(() => this.#sessions.delete(session))
    session.start()
    return session
  }

  async close(): Promise<void> {
    this.#closed = true
    await Promise.all([...this.#sessions].map((s) => s.kill()))
    this.hosts.close()
  }
}

class WasiSession implements RunnerSession {
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

  constructor(
    runner: WasiRunner,
    readonly options: OpenOptions,
    fs: MemFs,
    prebuilt: (name: string) => Promise<Uint8Array | undefined>,
  ) {
    this.exited = new Promise((resolve) => {
      this.#resolveExit = resolve
    })
    this.#size = { ...options.size }
    this.#highWater = runner.options.highWaterMark ?? 256 * 1024
    this.#shell = new Shell({
      fs,
      project: options.project,
      env: options.env ?? {},
      size: () => this.#size,
      write: (data) => this.#push(data),
      writeAsync: (data) => this.#pushAsync(data),
      exit: (code) => this.#end({ code, reason: 'exit' }),
      toolchain: runner.options.toolchain ?? defaultToolchain(),
      hosts: runner.hosts,
      prebuilt,
      programTimeLimitMs: runner.options.programTimeLimitMs ?? 30_000,
      memoryLimit: runner.options.memoryLimitBytes ?? DEFAULT_MEMORY_LIMIT,
    })
  }

  start(): void {
    if (this.options.timeLimitMs !== undefined) {
      this.#timer = setTimeout(() => {
        this.#push(new TextEncoder().encode('\r\n\x1b[0mshellfolio: session time limit reached\r\n'))
        this.#end({ code: null, reason: 'timeout', message: 'session time limit reached' })
      }, this.options.timeLimitMs)
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
