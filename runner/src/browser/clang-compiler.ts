/**
 * The browser runner's C compiler (docs/runners.md, "The browser runner"): the shell's `Compiler`
 * inside the tab's shell worker. Clang (@yowasp/clang, the server's own) runs in a worker of its
 * own, started on the first compile: it loads LLVM from this site's assets or the browser's cache,
 * with the progress shown in the terminal, and stays loaded for the next compiles. The arguments
 * are the server runner's (clang-args.ts), so the programs are the same bytes. Ctrl-C and the time
 * limit terminate that worker (a browser does stop running WebAssembly there); the next compile
 * starts another, from the cache. Budgets: docs/budgets.md, "Browser runner".
 */
import { CWD_SHIM, clangArgs, HIDDEN_DIR, SHIM_ARGS } from '../wasi/clang-args.ts'
import type { Tree } from '../wasi/memfs.ts'
import type { CompileRequest, Compiler } from '../wasi/toolchain.ts'
import type { FromClang, ToClang } from './clang-protocol.ts'

export interface BrowserCompilerLimits {
  /** Running time of one compile once LLVM is loaded (the server counts clang's CPU time the same way). */
  timeLimitMs: number
  /** Diagnostics kept per compile; the rest is cut with a note. */
  outputBytes: number
}

const te = new TextEncoder()
const mb = (bytes: number) => Math.round(bytes / 1e6)
const DIM = '\x1b[2m'
const PLAIN = '\x1b[0m'
/** Back to the line's start, the line cleared: the progress line is redrawn in place. */
const REDRAW = '\r\x1b[K'

type Result = { code: number; tree?: Tree }

/** One clang worker: LLVM loading or loaded, one compile at a time. */
class ClangWorker {
  readonly worker: Worker
  readonly ready: Promise<void>
  /** Who hears about the load (the compile waiting for it), and the compile running. */
  onProgress: ((m: Extract<FromClang, { type: 'progress' | 'ready' }>) => void) | undefined
  onReply: ((m: Extract<FromClang, { type: 'output' | 'done' }>) => void) | undefined
  onDeath: ((message: string) => void) | undefined
  dead = false
  #markReady!: () => void
  #fail!: (e: Error) => void

  constructor(spawn: () => Worker) {
    this.ready = new Promise((resolve, reject) => {
      this.#markReady = resolve
      this.#fail = reject
    })
    this.ready.catch(() => {})
    this.worker = spawn()
    this.worker.onmessage = (ev: MessageEvent<FromClang>) => {
      const m = ev.data
      if (m.type === 'progress') this.onProgress?.(m)
      else if (m.type === 'ready') {
        this.onProgress?.(m)
        this.#markReady()
      } else if (m.type === 'failed') this.#die(m.message)
      else this.onReply?.(m)
    }
    this.worker.onerror = (ev) => {
      ev.preventDefault()
      this.#die(ev.message || 'the compiler worker failed')
    }
  }

  #die(message: string): void {
    this.kill()
    this.#fail(new Error(message))
    this.onDeath?.(message)
  }

  kill(): void {
    this.dead = true
    this.worker.terminate()
  }
}

export class BrowserCompiler implements Compiler {
  #worker: ClangWorker | undefined
  #shim: Uint8Array | undefined
  #busy: Promise<unknown> = Promise.resolve()
  #nextId = 1

  constructor(
    readonly spawn: () => Worker,
    readonly limits: BrowserCompilerLimits,
  ) {}

  compile(req: CompileRequest): Promise<number> {
    // one compile at a time (the shell runs them one after another anyway)
    const run = this.#busy.then(() => this.#compile(req))
    this.#busy = run.catch(() => {})
    return run
  }

  async #compile(req: CompileRequest): Promise<number> {
    const limit = this.limits.outputBytes
    let written = 0
    const output = (bytes: Uint8Array) => {
      if (written >= limit) return
      written += bytes.length
      if (written <= limit) req.output(bytes)
      else {
        req.output(bytes.subarray(0, bytes.length - (written - limit)))
        req.output(te.encode(`\ncc: diagnostics cut at ${Math.round(limit / 1048576)} MiB\n`))
      }
    }
    const command = clangArgs(req.argv, req.memoryLimit)
    if (!command.ok) {
      output(te.encode(command.message))
      return 1
    }
    if (req.signal?.aborted) return 130
    const tree = req.fs.toTree(req.cwd)
    if (command.linking) {
      if (!this.#shim) {
        // the cwd shim, built once per session like the server's (clang-args.ts)
        const shim = await this.#run(SHIM_ARGS, { 'shim.c': CWD_SHIM }, () => {}, req.output, req.signal)
        const obj = shim.tree?.['shim.o']
        if (shim.code !== 0 || !(obj instanceof Uint8Array)) {
          if (shim.code === 0) output(te.encode('cc: internal compiler failure: the cwd shim did not build\n'))
          return shim.code === 0 ? 70 : shim.code
        }
        this.#shim = obj
      }
      tree[HIDDEN_DIR] = { 'cwd.o': this.#shim }
    }
    const result = await this.#run(command.args, tree, output, req.output, req.signal)
    if (result.tree) {
      delete result.tree[HIDDEN_DIR]
      req.fs.applyTree(req.cwd, result.tree)
    }
    return result.code
  }

  /** Loads LLVM if needed (progress to `say`), then runs one clang command under the time limit. */
  async #run(
    args: string[],
    tree: Tree,
    output: (bytes: Uint8Array) => void,
    say: (bytes: Uint8Array) => void,
    signal: AbortSignal | undefined,
  ): Promise<Result> {
    if (!this.#worker || this.#worker.dead) this.#worker = new ClangWorker(this.spawn)
    const w = this.#worker
    const id = this.#nextId++
    return new Promise<Result>((resolve) => {
      let done = false
      let timer: ReturnType<typeof setTimeout> | undefined
      let shown = false
      let said = ''
      const finish = (result: Result, kill: boolean) => {
        if (done) return
        done = true
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        w.onProgress = undefined
        w.onReply = undefined
        w.onDeath = undefined
        if (kill) w.kill()
        resolve(result)
      }
      const stop = (code: number, message: string) => {
        if (shown) say(te.encode(`${REDRAW}`))
        if (message) output(te.encode(message))
        finish({ code }, true)
      }
      const onAbort = () => stop(130, '')
      signal?.addEventListener('abort', onAbort, { once: true })
      if (signal?.aborted) return onAbort()
      w.onProgress = (m) => {
        const text =
          m.type === 'ready'
            ? m.network > 0
              ? `downloaded the C compiler: ${mb(m.network)} MB${m.transferred > 0 ? ` (${mb(m.transferred)} MB transferred)` : ''} in ${(m.ms / 1000).toFixed(1)} s, kept in this browser's cache`
              : `loaded the C compiler from this browser's cache in ${(m.ms / 1000).toFixed(1)} s (nothing downloaded)`
            : m.network > 0
              ? `downloading the C compiler… ${mb(m.network + m.cached)}/${mb(m.total)} MB`
              : "loading the C compiler from this browser's cache…"
        if (text === said) return
        said = text
        shown = m.type !== 'ready'
        say(te.encode(`${REDRAW}${DIM}${text}${PLAIN}${m.type === 'ready' ? '\n' : ''}`))
      }
      w.onDeath = (message) => stop(70, `cc: the C compiler could not run in this tab: ${message}\n`)
      w.ready.then(
        () => {
          if (done) return
          w.onProgress = undefined
          // the clock starts when clang has the job (LLVM loaded), as on the server (docs/budgets.md)
          const s = Math.round(this.limits.timeLimitMs / 1000)
          timer = setTimeout(
            () => stop(124, `cc: time limit exceeded (${s} s): the compile was stopped after ${s} s\n`),
            this.limits.timeLimitMs,
          )
          w.onReply = (m) => {
            if (m.id !== id) return
            if (m.type === 'output') output(m.bytes)
            else finish({ code: m.code, tree: m.tree }, false)
          }
          w.worker.postMessage({ type: 'run', id, args, tree } satisfies ToClang)
        },
        () => {},
      )
    })
  }

  /** Ends the clang worker (the session is over). */
  close(): void {
    this.#worker?.kill()
    this.#worker = undefined
  }
}
