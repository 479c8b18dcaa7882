import { existsSync, statSync } from 'node:fs'
import { type OpenOptions, type Runner, RunnerError, type RunnerSession } from '../types.ts'
import { type CpuGovernor, defaultGovernor } from './cpu-governor.ts'
import { Semaphore } from './semaphore.ts'
import { SessionHostProcess, WasiSession } from './session.ts'
import { DEFAULT_MEMORY_LIMIT, Toolchain } from './toolchain.ts'

const MiB = 1024 * 1024

/** Every budget below is listed in docs/budgets.md; keep the two in step. */
export interface WasiRunnerOptions {
  /** CPU time of one program run; then it is killed with a message (default 30 s). Typing never resets it. */
  programTimeLimitMs?: number
  /** Linear-memory cap of every program (default 256 MiB). */
  memoryLimitBytes?: number
  /**
   * Resident memory of a program's host process: SDK, module, workspace copies, its in-memory /tmp
   * (default memory limit + 3 × workspace + 192 MiB = 640 MiB).
   */
  programMemoryBytes?: number
  /** Resident memory of a session host process: shell, make, workspace, queues (default 384 MiB). */
  sessionMemoryBytes?: number
  /** Bytes of files in a session's workspace; writes beyond get "No space left on device" (default 64 MiB). */
  workspaceBytes?: number
  /** Output held for a session (paused or before anyone listens) before its shell and programs wait (default 256 KiB). */
  highWaterMark?: number
  /** Input sent to a session's shell and not yet taken; beyond it keys are dropped with a bell (default 64 KiB). */
  inputWindowBytes?: number
  /** Programs running at once across the runner's sessions (each in a host process; default 32). */
  maxConcurrentPrograms?: number
  /**
   * Load the compiler (~100 MB of LLVM, seconds) in the background as the runner is created (the
   * server's start; readiness does not wait for it), so a visitor's first `make` does not pay for
   * it: one clang process, ≈ 0.4–0.5 GiB RSS (default true).
   */
  prewarmCompiler?: boolean
  /** The compiler; defaults to one instance shared by the whole process. */
  toolchain?: Toolchain
  /** Demotes sessions that burned a lot of CPU recently; defaults to one shared by the whole process. */
  governor?: CpuGovernor
  /** How long a shell may take to answer a Ctrl-C before its session is stopped (default 10 s). */
  interruptGraceMs?: number
  /** Session host processes started ahead of demand, so a session opens in milliseconds (default 2). */
  warmHosts?: number
}

let sharedToolchain: Toolchain | undefined

/**
 * The process-wide clang: 2 regular compile slots shared fairly between sessions, an overtime lane
 * under SCHED_IDLE, each compile in a killable clang process; a session the process-wide CPU
 * governor demoted compiles under SCHED_IDLE too (docs/budgets.md).
 */
export function defaultToolchain(): Toolchain {
  sharedToolchain ??= new Toolchain(2, true, { lowPriority: (owner) => defaultGovernor().isIdle(owner) })
  return sharedToolchain
}

/**
 * The WASI back end: each session's shell, make and workspace in its own session host process,
 * `make` compiles with clang-in-WebAssembly and programs run in @wasmer/sdk sandboxes. Needs no Docker.
 */
export function createWasiRunner(options: WasiRunnerOptions = {}): Runner {
  return new WasiRunner(options)
}

class WasiRunner implements Runner {
  readonly kind = 'wasi' as const
  readonly #sessions = new Set<WasiSession>()
  readonly #programs: Semaphore
  readonly #toolchain: Toolchain
  readonly #governor: CpuGovernor
  #closed = false
  #prewarmed = false
  readonly #warm: SessionHostProcess[] = []

  constructor(private readonly options: WasiRunnerOptions) {
    this.#programs = new Semaphore(options.maxConcurrentPrograms ?? 32)
    this.#toolchain = options.toolchain ?? defaultToolchain()
    this.#governor = options.governor ?? defaultGovernor()
    if (options.prewarmCompiler !== false) {
      this.#prewarmed = true
      // after this turn: whoever creates the runner (the server starting) goes on at once
      setTimeout(() => void this.#toolchain.warm().catch(() => {}), 0).unref?.()
    }
  }

  async available(): Promise<boolean> {
    return !this.#closed
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
    const o = this.options
    const host = this.#takeHost()
    const memoryLimit = o.memoryLimitBytes ?? DEFAULT_MEMORY_LIMIT
    const workspaceBytes = o.workspaceBytes ?? 64 * MiB
    let session: WasiSession
    try {
      session = new WasiSession({
        open: options,
        toolchain: this.#toolchain,
        governor: this.#governor,
        programs: this.#programs,
        programTimeLimitMs: o.programTimeLimitMs ?? 30_000,
        memoryLimit,
        // the SDK's own ~100 MiB, the module's memory, and the workspace copied in, mirrored and read back
        programMemoryBytes: o.programMemoryBytes ?? memoryLimit + 3 * workspaceBytes + 192 * MiB,
        sessionMemoryBytes: o.sessionMemoryBytes ?? 384 * MiB,
        workspaceBytes,
        highWaterMark: o.highWaterMark ?? 256 * 1024,
        inputWindow: o.inputWindowBytes ?? 64 * 1024,
        ...(o.interruptGraceMs !== undefined ? { interruptGraceMs: o.interruptGraceMs } : {}),
        ...(host ? { host } : {}),
      })
    } catch (error) {
      throw new RunnerError('SANDBOX_START_FAILED', `cannot start the session host: ${(error as Error).message}`)
    }
    if (!this.#prewarmed && o.prewarmCompiler !== false) {
      this.#prewarmed = true
      void this.#toolchain.warm().catch(() => {})
    }
    this.#sessions.add(session)
    void session.exited.then(() => this.#sessions.delete(session))
    session.start()
    return session
  }

  /** A warm session host if one is ready; the pool is refilled behind it. */
  #takeHost(): SessionHostProcess | undefined {
    let host: SessionHostProcess | undefined
    for (let i = this.#warm.length - 1; i >= 0; i--) {
      const h = this.#warm[i]!
      if (!h.alive) this.#warm.splice(i, 1)
      else if (!host && h.ready) {
        this.#warm.splice(i, 1)
        host = h
      }
    }
    setTimeout(() => this.#fill(), 0)
    return host
  }

  #fill(): void {
    while (!this.#closed && this.#warm.length < (this.options.warmHosts ?? 2)) {
      const h = new SessionHostProcess()
      // why: an idle pooled process must not keep the process (or a test run) alive
      h.proc.unref()
      this.#warm.push(h)
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    for (const h of this.#warm.splice(0)) h.kill()
    await Promise.all([...this.#sessions].map((s) => s.kill()))
  }
}
