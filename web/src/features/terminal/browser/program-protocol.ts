/**
 * The messages between the browser shell (shell worker) and one program worker, and the layout of
 * the SharedArrayBuffer they share (docs/runners.md, "The browser runner"). Keys go through a ring
 * in shared memory, so a program blocked in `read` or `poll` on stdin waits with `Atomics.wait`
 * (synchronous WASI calls cannot await a message); output goes as messages, bounded by a credit
 * counter in the same buffer.
 */

/** Int32 slots at the start of the shared buffer. */
export const CTRL = {
  /** Total stdin bytes written by the shell. */
  written: 0,
  /** Total stdin bytes read by the program. */
  read: 1,
  /** 1 once stdin is closed (Ctrl-D at an empty line, `< file` consumed). */
  closed: 2,
  /** Bumped (and notified) on every stdin change: the program waits on it. */
  wake: 3,
  /** 1 while the program waits for input (read or poll on stdin); 2 while it is parked by Ctrl-Z. */
  waiting: 4,
  /** Milliseconds the program spent waiting (input or a paused terminal), finished waits only. */
  waitedMs: 5,
  /** Output bytes posted and not yet taken by the terminal. */
  unacked: 6,
  /** When the current wait started, ms since the run started. */
  waitStart: 7,
  /**
   * 1 while the shell holds the program stopped (Ctrl-Z, until `fg`): its next WASI call parks in
   * Atomics.wait on this slot (docs/runners.md, "The browser runner").
   */
  stop: 8,
} as const
export const CTRL_SLOTS = 9
/** Bytes of the stdin ring. */
export const STDIN_RING = 64 * 1024
/** Output a program may have posted that the terminal has not taken (bytes). */
export const OUTPUT_WINDOW = 256 * 1024

export function sharedBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(CTRL_SLOTS * 4 + STDIN_RING)
}

export interface RunMessage {
  type: 'run'
  module: WebAssembly.Module
  name: string
  args: string[]
  env: Record<string, string>
  /** Workspace files relative to the program's /workspace. */
  files: Record<string, Uint8Array>
  dirs: string[]
  shared: SharedArrayBuffer
  /** Linear memory cap (bytes) of an imported memory; defined memories are capped in the module. */
  memoryLimit: number
}

export type ProgramReply =
  | { type: 'out'; fd: 1 | 2; bytes: Uint8Array }
  | { type: 'exit'; code: number; files: Record<string, Uint8Array>; kept: string[]; dirs: string[] }
  | { type: 'error'; message: string }
