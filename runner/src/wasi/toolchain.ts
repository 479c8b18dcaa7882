import { runClangHere } from './clang-run.ts'
import type { ClangJob, ClangReply } from './clang-worker.ts'
import type { MemFs, Tree } from './memfs.ts'
import { Semaphore } from './semaphore.ts'

/** Default cap on a program's linear memory (also applied to precompiled binaries). */
export const DEFAULT_MEMORY_LIMIT = 256 * 1024 * 1024

/** Flags that only make sense for a native target; silently dropped for wasm32-wasip1. */
const DROPPED_FLAGS = new Set(['-march=native', '-mtune=native', '-pthread', '-lpthread', '-fPIE', '-pie', '-no-pie'])

const HIDDEN_DIR = '.shellfolio-cc'

/**
 * why: wasi-libc emulates the working directory and always starts at `/`; it never asks the host.
 * Linked into every program built here, this constructor moves to `$PWD` (set by the runner) so
 * relative paths like `scenes/demo.rt` or `out.ppm` resolve in the session's current directory.
 */
const CWD_SHIM = `#include <stdlib.h>
#include <unistd.h>
__attribute__((constructor)) static void shellfolio_enter_pwd(void) {
  const char *pwd = getenv("PWD");
  if (pwd) chdir(pwd);
}
`

export interface CompileRequest {
  /** argv as typed: `cc -O2 -c -o x.o x.c` (argv[0] is cc, gcc, clang...). */
  argv: string[]
  fs: MemFs
  /** Absolute workspace directory the command runs in; its subtree is the compiler's view. */
  cwd: string
  /** Compiler diagnostics (raw bytes; bare `\n`). */
  output: (bytes: Uint8Array) => void
  memoryLimit?: number
}

/**
 * Clang/LLD from @yowasp/clang, shared by every session of the process: the first compile loads
 * ~100 MB of LLVM, later ones reuse it. Concurrent compiles are bounded by a semaphore.
 */
export class Toolchain {
  #shim: Promise<Uint8Array> | undefined
  readonly #gate: Semaphore
  readonly #useWorkers: boolean
  readonly #idle: Worker[] = []
  readonly #all = new Set<Worker>()
  #nextId = 1

  /**
   * @param concurrency compiles running at once (each in its own worker thread with its own LLVM)
   * @param workers false runs clang on the calling thread (blocks the event loop while compiling)
   */
  constructor(concurrency = 1, workers = true) {
    this.#gate = new Semaphore(concurrency)
    this.#useWorkers = workers
  }

  /** Runs with a permit held: one job per worker, workers are created lazily and reused. */
  #run(args: string[], tree: Tree, output: (b: Uint8Array) => void): Promise<{ code: number; tree: Tree }> {
    if (!this.#useWorkers) return runClangHere(args, tree, output)
    let worker = this.#idle.pop()
    if (!worker) {
      worker = new Worker(new URL('./clang-worker.ts', import.meta.url).href)
      // why: an idle compiler must not keep the process (or a test run) alive
      worker.unref()
      this.#all.add(worker)
    }
    const w = worker
    const id = this.#nextId++
    return new Promise((resolve) => {
      const onMessage = (event: MessageEvent<ClangReply>) => {
        const reply = event.data
        if (reply.id !== id) return
        if (reply.kind === 'output') output(reply.bytes)
        else {
          cleanup()
          this.#idle.push(w)
          resolve({ code: reply.code, tree: reply.tree })
        }
      }
      const onError = (event: ErrorEvent) => {
        cleanup()
        this.#all.delete(w)
        w.terminate()
        output(new TextEncoder().encode(`cc: internal compiler failure: ${event.message}\n`))
        resolve({ code: 70, tree })
      }
      const cleanup = () => {
        w.removeEventListener('message', onMessage)
        w.removeEventListener('error', onError)
      }
      w.addEventListener('message', onMessage)
      w.addEventListener('error', onError)
      w.postMessage({ id, args, tree } satisfies ClangJob)
    })
  }

  /** Stops the compiler threads (they restart on the next compile). */
  close(): void {
    for (const w of this.#all) w.terminate()
    this.#all.clear()
    this.#idle.length = 0
  }

  #cwdShim(): Promise<Uint8Array> {
    this.#shim ??= this.#run(['clang', '-O2', '-c', 'shim.c', '-o', 'shim.o'], { 'shim.c': CWD_SHIM }, () => {}).then(
      ({ code, tree }) => {
        const obj = tree['shim.o']
        if (code !== 0 || !(obj instanceof Uint8Array)) throw new Error('could not build the cwd shim')
        return obj
      },
    )
    return this.#shim
  }

  /** Loads LLVM ahead of the first `make` (optional). */
  async warm(): Promise<void> {
    await this.#cwdShim()
  }

  /** Runs one compiler command; returns its exit status. Produced files land in `fs`. */
  async compile(req: CompileRequest): Promise<number> {
    const args = ['clang', '-fcolor-diagnostics']
    for (const arg of req.argv.slice(1)) {
      if (DROPPED_FLAGS.has(arg)) continue
      if (arg.startsWith('--target=') || arg.startsWith('-fsanitize')) continue
      args.push(arg)
    }
    const linking = !req.argv.some((a) => a === '-c' || a === '-S' || a === '-E' || a === '-M' || a === '-MM')
    const inputs = req.argv.slice(1).filter((a) => !a.startsWith('-'))
    if (req.argv.length < 2 || inputs.length === 0) {
      req.output(new TextEncoder().encode(`${req.argv[0]}: fatal error: no input files\n`))
      return 1
    }
    const release = await this.#gate.acquire()
    try {
      const tree = req.fs.toTree(req.cwd)
      if (linking) {
        const limit = req.memoryLimit ?? DEFAULT_MEMORY_LIMIT
        tree[HIDDEN_DIR] = { 'cwd.o': await this.#cwdShim() }
        args.push(`${HIDDEN_DIR}/cwd.o`, `-Wl,--max-memory=${limit}`, '-Wl,-z,stack-size=1048576')
      }
      const { code, tree: result } = await this.#run(args, tree, req.output)
      delete result[HIDDEN_DIR]
      req.fs.applyTree(req.cwd, result)
      return code
    } finally {
      release()
    }
  }
}
