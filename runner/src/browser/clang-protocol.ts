/**
 * Messages between the browser runner's compiler (clang-compiler.ts, in the shell worker) and its
 * clang worker (clang-worker.ts) (docs/runners.md, "The browser runner").
 */
import type { Tree } from '../wasi/memfs.ts'

/** The linear memory clang may use in the tab: every LLVM module's memory is capped (docs/budgets.md). */
export const CLANG_MEMORY_BYTES = 1024 * 1024 * 1024

/** Shell worker → clang worker: one clang command over a tree (clang-args.ts made `args`). */
export type ToClang = { type: 'run'; id: number; args: string[]; tree: Tree }

/** Clang worker → shell worker. */
export type FromClang =
  /** Loading LLVM: bytes read so far from the network and from the browser's cache, of `total`. */
  | { type: 'progress'; network: number; cached: number; total: number }
  /**
   * LLVM is loaded and compiled; `ms` since the worker started; `transferred`: the bytes that came
   * over the network for it (compressed), as the browser's resource timing reports them (0 if unknown).
   */
  | { type: 'ready'; network: number; cached: number; total: number; ms: number; transferred: number }
  /** LLVM could not be loaded (network, quota, a browser without WebAssembly streaming...). */
  | { type: 'failed'; message: string }
  | { type: 'output'; id: number; bytes: Uint8Array }
  | { type: 'done'; id: number; code: number; tree: Tree }
