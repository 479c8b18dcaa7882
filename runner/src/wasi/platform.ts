/**
 * What the shell (shell.ts) needs from the platform it runs on, injected through `ShellOptions`, so
 * the same shell runs in the server's session host and in a browser Web Worker (docs/runners.md,
 * "The browser runner"). Everything else the shell uses (MemFs, make, builtins, the policy) is
 * plain TypeScript with no Node, Bun or DOM dependency.
 *
 * Server: `HostPool` (program.ts) runs each program in a program-host process. Browser: a Web
 * Worker per program (web/src/features/terminal/browser/).
 */
import type { MemFs } from './memfs.ts'

export type ProgramEnd =
  | { kind: 'exited'; code: number; unsaved?: number }
  | { kind: 'interrupted' }
  | { kind: 'timeout' }
  | { kind: 'memory' }
  /** Stopped because the pipe or file its output went to was full (`cut()`). */
  | { kind: 'cut' }
  | { kind: 'failed'; message: string; crashed?: true }

/** One program run as the shell starts it. */
export interface ProgramStart {
  /** Memory-capped module bytes. */
  wasm: Uint8Array
  args: string[]
  fs: MemFs
  /** Session home (e.g. /home/coder): its subtree is the program's /workspace. */
  home: string
  /** Absolute session path of the working directory (under `home`). */
  cwd: string
  env: Record<string, string>
  /** Delivers stdout (fd 1) and stderr (fd 2) bytes; the returned promise is the back-pressure signal. */
  output: (bytes: Uint8Array, fd: 1 | 2) => Promise<void> | void
  /** Time budget of the run (ms): CPU time on the server, busy time (not waiting for input) in a browser. */
  timeLimitMs: number
  /** Memory budget of the run's host (bytes), where the platform can measure it. */
  memoryBytes?: number
  /** argv[0] as the program sees it. */
  programName?: string
}

/** A running program as the shell drives it (program.ts `ProgramRun` on the server). */
export interface ProgramControl {
  readonly done: Promise<ProgramEnd>
  /** Bytes for stdin at once (a file, a pipe, a terminal's answer to a query, raw keys). */
  write(bytes: Uint8Array): void
  closeStdin(): void
  /** Typed (line-disciplined) input, held until the program waits; false when `limit` is reached. */
  type(input: Uint8Array | 'eof', limit: number): boolean
  /** Typed bytes the program never took (for the shell after `done`). */
  unread(): Uint8Array
  flushTyped(): void
  /** Stops the run: the pipe or file its output goes to is full. */
  cut(): void
  /** Ctrl-Z; false when the platform or the moment cannot stop it. */
  suspend(): boolean
  resume(): Promise<void>
  /** Ctrl-C: the program is stopped. */
  interrupt(): void
}

/** Starts programs: `HostPool` on the server, the browser's worker launcher in a tab. */
export interface ProgramLauncher {
  run(options: ProgramStart): ProgramControl
}

/** MiB, rounded, for messages. */
export function mib(bytes: number): number {
  return Math.round(bytes / (1024 * 1024))
}
