/**
 * The runner interface: one shape for every execution back end (docker, wasi).
 * The API adapts it to WebSockets; nothing here knows about HTTP or the database.
 */

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

/** What a runner needs to know about a project to open a session for it. */
export interface ProjectSpec {
  /** e.g. `minirt`; the project lives at `~/projects/<slug>` inside the session. */
  slug: string
  /** Absolute host path of `wasm-projects/<slug>` (sources, Makefile, assets). */
  sourceDir: string
  policy: CommandPolicy
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
  /** Terminal input: keystrokes, pasted text, control bytes (Ctrl-C = 0x03). */
  write(data: Uint8Array | string): void
  resize(size: TerminalSize): Promise<void>
  /** Subscribe to output bytes; returns an unsubscribe function. */
  onData(listener: (chunk: Uint8Array) => void): () => void
  /** Flow control: stop reading output from the source until `resume()`. */
  pause(): void
  resume(): void
  /** Ends the session (idempotent); `exited` resolves afterwards. */
  kill(reason?: ExitReason): Promise<void>
  /** Resolves once, when the session has ended and its resources are released. */
  readonly exited: Promise<ExitInfo>
  /** Where the sandbox runs when that is not this process (a runner service's id). */
  readonly host?: string
}

export interface Runner {
  readonly kind: RunnerKind
  /** True when this back end can open sessions right now (engine up, image present...). */
  available(): Promise<boolean>
  open(options: OpenOptions): Promise<RunnerSession>
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
