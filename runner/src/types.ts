/**
 * The runner interface: one shape for every execution back end (docker, wasi).
 * The API adapts it to WebSockets; nothing here knows about HTTP or the database.
 */

import type { FileDownload, FileUpload, PutFilesResult } from './files.ts'

export const RUNNER_KINDS = ['docker', 'wasi'] as const
export type RunnerKind = (typeof RUNNER_KINDS)[number]

export interface TerminalSize {
  cols: number
  rows: number
}

/** Allowlist of command patterns checked on each submitted line (see policy.ts). */
export interface CommandPolicy {
  allow: string[]
}

/**
 * The toolchains a project can ask the Docker sandbox for (docs/projects.md): one image per runtime,
 * built by runner/image/build.ts. `c` is the base sandbox image (gcc, make).
 */
export const PROJECT_RUNTIMES = ['c', 'python', 'node', 'go', 'rust'] as const
export type ProjectRuntime = (typeof PROJECT_RUNTIMES)[number]

/** What a runner needs to know about a project to open a session for it. */
export interface ProjectSpec {
  /** e.g. `minirt`; the project lives at `~/projects/<slug>` inside the session. */
  slug: string
  /**
   * Absolute host path of the project's files (wasm-projects/<slug>, or an imported version the API
   * fetched from the media store); copied into the session's workspace when it opens.
   */
  sourceDir: string
  policy: CommandPolicy
  /** The Docker sandbox image's toolchain (default `c`); WASI ignores it. */
  runtime?: ProjectRuntime
}

export interface OpenOptions {
  project: ProjectSpec
  size: TerminalSize
  /** Hard limit of the whole session; the runner ends it with reason `timeout`. */
  timeLimitMs?: number
  /** Extra, non-secret environment for the shell (never pass the server's env). */
  env?: Record<string, string>
}

export type ExitReason = 'exit' | 'killed' | 'timeout' | 'idle' | 'error'

export interface ExitInfo {
  /** Exit code of the session's shell; null when it was killed. */
  code: number | null
  reason: ExitReason
  message?: string
}

/** One live terminal. Output is raw bytes (never decoded here: UTF-8 may split across chunks). */
export interface RunnerSession {
  readonly id: string
  readonly kind: RunnerKind
  /**
   * Terminal input: keystrokes, pasted text, control bytes (Ctrl-C = 0x03). Returns `false` when
   * the input was refused because the session already holds its budget of input not yet taken by
   * the program (docs/budgets.md); the caller tells the visitor. Back ends that never refuse may
   * return nothing.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: back ends that never refuse input keep `write(): void`
  write(data: Uint8Array | string): boolean | void
  resize(size: TerminalSize): Promise<void>
  /** Subscribe to output bytes; returns an unsubscribe function. */
  onData(listener: (chunk: Uint8Array) => void): () => void
  /**
   * Flow control: stop reading output from the source until `resume()`, which delivers what was
   * held back, in order. Meanwhile listeners get nothing more, except output that was already on
   * its way to this process (remote placement: at most the runner service's output window).
   */
  pause(): void
  resume(): void
  /** Ends the session (idempotent); `exited` resolves afterwards. */
  kill(reason?: ExitReason): Promise<void>
  /** Resolves once, when the session has ended and its resources are released. */
  readonly exited: Promise<ExitInfo>
  /** Where the sandbox runs when that is not this process (a runner service's id). */
  readonly host?: string
  /**
   * Subscribe to incidents that do not end the session but the operator should hear of (a crashed
   * WASI program host: docs/faults.md); optional, in-process WASI only for now.
   */
  onIncident?(listener: (message: string) => void): () => void
  /**
   * Files in (docs/runners.md, "Files"): writes `files` (plain names, limits in files.ts) into the
   * workspace folder `dir` (relative to `~`), replacing files of the same name. Never writes
   * outside the workspace: a path that leaves it (`..`, absolute, a symlink pointing out) is
   * refused with a `RunnerError` (codes in files.ts).
   */
  putFiles(dir: string, files: FileUpload[]): Promise<PutFilesResult>
  /** Files out: the bytes of the workspace file `path` (relative to `~`), at most `FILE_LIMITS.maxDownloadBytes`. */
  getFile(path: string): Promise<FileDownload>
}

/** Sandboxes started ahead of demand, so opening a session does not wait for one to boot. */
export interface WarmPool {
  /** How many sandboxes the pool keeps ready (0: none, every session starts cold). */
  readonly size: number
  /** Sandboxes ready for a session right now. */
  ready(): number
  /** Starts filling the pool now rather than on the first `open` (idempotent). */
  fill(): Promise<void>
}

/**
 * One execution back end. Every member without `?` is what the contract suite (contract.ts) checks;
 * the optional ones are capabilities a back end has or has not, read from here, never guessed.
 */
export interface Runner {
  readonly kind: RunnerKind
  /** True when this back end can open sessions right now (engine up, image present...). */
  available(): Promise<boolean>
  open(options: OpenOptions): Promise<RunnerSession>
  /**
   * Re-attaches to a live session that another process opened (it died, or a load balancer moved
   * the visitor), by the session's `id`. Only back ends whose sessions outlive the process that
   * opened them have it (docker, remote). Output from before is not replayed; the caller keeps
   * the scrollback.
   */
  resume?(runnerSessionId: string, options: OpenOptions): Promise<RunnerSession>
  /** Pre-started sandboxes, on back ends that keep them (docker). */
  readonly pool?: WarmPool
  /** Stops pools and timers and ends every session this runner opened. */
  close(): Promise<void>
}

/** Raised when a session cannot be opened; `code` is a stable UPPER_SNAKE string. */
export class RunnerError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
    this.name = 'RunnerError'
  }
}
