import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { type OpenOptions, type Runner, RunnerError, type RunnerSession } from '../types.ts'
import { HOME } from './home.ts'
import { type FsNode, MemFs, seedFromHost } from './memfs.ts'
import { HostPool } from './program.ts'
import { WasiSession } from './session.ts'
import { DEFAULT_MEMORY_LIMIT, Toolchain } from './toolchain.ts'
import { capMemory, isWasm } from './wasm-limits.ts'

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
  readonly #hosts: HostPool
  readonly #toolchain: Toolchain
  #closed = false
  #prewarmed = false

  constructor(private readonly options: WasiRunnerOptions) {
    this.#hosts = new HostPool(options.maxConcurrentPrograms ?? 32)
    this.#toolchain = options.toolchain ?? defaultToolchain()
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
    const session = new WasiSession({
      open: options,
      fs: new MemFs(this.#seed(project.sourceDir, project.slug)),
      prebuilt: (name) => this.#loadPrebuilt(project.sourceDir, name),
      toolchain: this.#toolchain,
      hosts: this.#hosts,
      programTimeLimitMs: this.options.programTimeLimitMs ?? 30_000,
      memoryLimit: this.options.memoryLimitBytes ?? DEFAULT_MEMORY_LIMIT,
      highWaterMark: this.options.highWaterMark ?? 256 * 1024,
    })
    if (!this.#prewarmed && this.options.prewarmCompiler !== false) {
      this.#prewarmed = true
      void this.#toolchain.warm().catch(() => {})
    }
    this.#sessions.add(session)
    void session.exited.then(() => this.#sessions.delete(session))
    session.start()
    return session
  }

  async close(): Promise<void> {
    this.#closed = true
    await Promise.all([...this.#sessions].map((s) => s.kill()))
    this.#hosts.close()
  }
}
