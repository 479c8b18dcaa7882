/**
 * The browser's `ProgramLauncher` (runner/src/wasi/platform.ts): each program runs in a fresh Web
 * Worker (program-worker.ts). Ctrl-C and the time limit terminate the worker; Ctrl-Z parks it at
 * its next WASI call until `fg` (program-worker.ts, `gate`); typed lines are held
 * until the program waits for input (the worker says so in shared memory, exactly, where the server
 * must guess from CPU time); files the program wrote are synced back into the session's MemFs.
 */
import {
  FsError,
  type MemFs,
  type ProgramControl,
  type ProgramEnd,
  type ProgramLauncher,
  type ProgramStart,
} from '@shellfolio/runner/browser'
import { gateLoops } from './loop-gate.ts'
import { CTRL, CTRL_SLOTS, type ProgramReply, type RunMessage, STDIN_RING, sharedBuffer } from './program-protocol.ts'

const GUEST_HOME = '/workspace'
/** How often the time budget and a waiting program are checked (ms). */
const TICK_MS = 20

function toGuest(home: string, path: string): string {
  if (path === home) return GUEST_HOME
  if (path.startsWith(`${home}/`)) return GUEST_HOME + path.slice(home.length)
  return path
}

const modules = new WeakMap<Uint8Array, Promise<WebAssembly.Module>>()

/** Compiled once per module bytes, with its loops gated for Ctrl-Z (loop-gate.ts) when that can be done. */
function compile(wasm: Uint8Array): Promise<WebAssembly.Module> {
  let m = modules.get(wasm)
  if (!m) {
    const plain = () => WebAssembly.compile(wasm as Uint8Array<ArrayBuffer>)
    const gated = gateLoops(wasm)
    m = gated ? WebAssembly.compile(gated as Uint8Array<ArrayBuffer>).catch(plain) : plain()
    modules.set(wasm, m)
  }
  return m
}

class WorkerRun implements ProgramControl {
  readonly done: Promise<ProgramEnd>
  readonly #shared = sharedBuffer()
  readonly #ctrl = new Int32Array(this.#shared, 0, CTRL_SLOTS)
  readonly #ring = new Uint8Array(this.#shared, CTRL_SLOTS * 4, STDIN_RING)
  /** Bytes for stdin that did not fit the ring yet. */
  #pending: Uint8Array[] = []
  #closePending = false
  #typed: (Uint8Array | 'eof')[] = []
  #typedBytes = 0
  #worker: Worker | undefined
  #ending: ProgramEnd | undefined
  #finish!: (end: ProgramEnd) => void
  #timer: ReturnType<typeof setInterval> | undefined
  #started = performance.now()
  /** Held stopped by Ctrl-Z (until `fg`). */
  #suspended = false

  constructor(
    readonly o: ProgramStart,
    spawn: () => Worker,
    memoryLimit: number,
  ) {
    this.done = new Promise((resolve) => {
      this.#finish = resolve
    })
    void this.#run(spawn, memoryLimit)
  }

  async #run(spawn: () => Worker, memoryLimit: number): Promise<void> {
    const o = this.o
    let module: WebAssembly.Module
    try {
      module = await compile(o.wasm)
    } catch (e) {
      this.#stop({ kind: 'failed', message: `not a valid WebAssembly program: ${(e as Error).message}` })
      return
    }
    if (this.#ending) return
    const files: Record<string, Uint8Array> = {}
    const dirs: string[] = []
    for (const path of o.fs.walk(o.home)) {
      const node = o.fs.stat(path)!
      const rel = path.slice(o.home.length + 1)
      if (node.kind === 'file') files[rel] = node.data
      else dirs.push(rel)
    }
    const worker = spawn()
    this.#worker = worker
    let chain: Promise<void> = Promise.resolve()
    worker.onmessage = (ev: MessageEvent<ProgramReply>) => {
      const reply = ev.data
      chain = chain.then(async () => {
        if (this.#ending) return
        if (reply.type === 'out') {
          try {
            await o.output(reply.bytes, reply.fd)
          } finally {
            Atomics.sub(this.#ctrl, CTRL.unacked, reply.bytes.length)
            Atomics.notify(this.#ctrl, CTRL.unacked)
          }
        } else if (reply.type === 'exit') {
          const unsaved = this.#syncBack(reply.files, reply.kept, reply.dirs)
          this.#stop({ kind: 'exited', code: reply.code, ...(unsaved > 0 ? { unsaved } : {}) })
        } else this.#stop({ kind: 'failed', message: reply.message })
      })
    }
    worker.onerror = (ev) => {
      ev.preventDefault()
      this.#stop({ kind: 'failed', message: ev.message || 'the program worker failed', crashed: true })
    }
    const name = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/.test(o.programName ?? '') ? o.programName! : 'main'
    const cwd = toGuest(o.home, o.cwd)
    const run: RunMessage = {
      type: 'run',
      module,
      name,
      args: o.args,
      env: { ...o.env, PWD: cwd },
      files,
      dirs,
      shared: this.#shared,
      memoryLimit,
    }
    this.#started = performance.now()
    worker.postMessage(run)
    this.#timer = setInterval(() => this.#tick(), TICK_MS)
  }

  /** Time spent running (not waiting for input or for the terminal), ms. */
  #busyMs(): number {
    const elapsed = performance.now() - this.#started
    const waited = Atomics.load(this.#ctrl, CTRL.waitedMs)
    // waiting for input (1) or parked by Ctrl-Z (2)
    const waitingNow =
      Atomics.load(this.#ctrl, CTRL.waiting) !== 0 ? elapsed - Atomics.load(this.#ctrl, CTRL.waitStart) : 0
    return elapsed - waited - Math.max(0, waitingNow)
  }

  #tick(): void {
    if (this.#ending) return
    if (this.#busyMs() > this.o.timeLimitMs) {
      this.#stop({ kind: 'timeout' })
      return
    }
    // a stopped program takes no input until `fg`
    if (this.#suspended) return
    this.#pump()
    if (Atomics.load(this.#ctrl, CTRL.waiting) === 1 && this.#typed.length > 0) {
      for (const part of this.#typed.splice(0)) {
        if (part === 'eof') this.closeStdin()
        else this.write(part)
      }
      this.#typedBytes = 0
    }
  }

  /** Moves pending stdin bytes into the ring as far as it has room. */
  #pump(): void {
    const c = this.#ctrl
    let moved = false
    while (this.#pending.length > 0) {
      const bytes = this.#pending[0]!
      const written = Atomics.load(c, CTRL.written)
      const room = STDIN_RING - (written - Atomics.load(c, CTRL.read))
      if (room <= 0) break
      const n = Math.min(room, bytes.length)
      for (let i = 0; i < n; i++) this.#ring[(written + i) % STDIN_RING] = bytes[i]!
      Atomics.add(c, CTRL.written, n)
      moved = true
      if (n === bytes.length) this.#pending.shift()
      else this.#pending[0] = bytes.subarray(n)
    }
    if (this.#pending.length === 0 && this.#closePending) {
      Atomics.store(c, CTRL.closed, 1)
      moved = true
    }
    if (moved) {
      Atomics.add(c, CTRL.wake, 1)
      Atomics.notify(c, CTRL.wake)
    }
  }

  write(bytes: Uint8Array): void {
    if (this.#closePending || this.#ending) return
    this.#pending.push(bytes.slice())
    this.#pump()
  }

  closeStdin(): void {
    if (this.#closePending) return
    this.#closePending = true
    this.#pump()
  }

  type(input: Uint8Array | 'eof', limit: number): boolean {
    if (this.#closePending) return input !== 'eof'
    const size = input === 'eof' ? 0 : input.length
    if (this.#typedBytes + size > limit) return false
    this.#typed.push(input)
    this.#typedBytes += size
    return true
  }

  unread(): Uint8Array {
    const parts = this.#typed.filter((p): p is Uint8Array => p !== 'eof')
    this.#typed = []
    this.#typedBytes = 0
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    let at = 0
    for (const p of parts) {
      out.set(p, at)
      at += p.length
    }
    return out
  }

  flushTyped(): void {
    this.#typed = []
    this.#typedBytes = 0
  }

  cut(): void {
    this.#stop({ kind: 'cut' })
  }

  /**
   * Ctrl-Z: a Web Worker cannot be paused from outside, so the program parks itself at its next
   * WASI call (a read, a write, a clock or poll call) and waits there in Atomics.wait, spending no
   * CPU, until `fg`; a loop that makes no call makes one every LOOP_CHECK iterations (loop-gate.ts).
   * False before the program's worker exists or after its end.
   */
  suspend(): boolean {
    if (!this.#worker || this.#ending || this.#suspended) return false
    this.#suspended = true
    Atomics.store(this.#ctrl, CTRL.stop, 1)
    return true
  }

  /** `fg`: the parked program goes on. */
  async resume(): Promise<void> {
    if (!this.#suspended) return
    this.#suspended = false
    Atomics.store(this.#ctrl, CTRL.stop, 0)
    Atomics.notify(this.#ctrl, CTRL.stop)
  }

  interrupt(): void {
    this.#stop({ kind: 'interrupted' })
  }

  #stop(end: ProgramEnd): void {
    if (this.#ending) return
    this.#ending = end
    clearInterval(this.#timer)
    // a fresh worker per run: a finished program's worker is not reused
    this.#worker?.terminate()
    this.#finish(end)
  }

  /** Mirrors the program's /workspace back into the session's MemFs (as program.ts does on the server). */
  #syncBack(files: Record<string, Uint8Array>, kept: string[], dirs: string[]): number {
    const o = this.o
    const fs: MemFs = o.fs
    const seen = new Set<string>(kept.map((rel) => `${o.home}/${rel}`))
    const toWrite: [string, Uint8Array][] = []
    for (const rel of dirs) {
      const path = `${o.home}/${rel}`
      seen.add(path)
      const node = fs.stat(path)
      if (node?.kind === 'file') fs.remove(path)
      if (node?.kind !== 'dir') fs.mkdirp(path)
    }
    for (const [rel, data] of Object.entries(files)) {
      const path = `${o.home}/${rel}`
      seen.add(path)
      const old = fs.stat(path)
      if (old?.kind === 'dir') fs.remove(path, true)
      toWrite.push([path, data])
    }
    for (const path of fs.walk(o.home).reverse()) {
      if (!seen.has(path) && fs.stat(path)) fs.remove(path, true)
    }
    let unsaved = 0
    for (const [path, data] of toWrite) {
      try {
        fs.writeFile(path, data)
      } catch (e) {
        if (!(e instanceof FsError) || e.reason !== 'ENOSPC') throw e
        unsaved++
      }
    }
    return unsaved
  }
}

/**
 * Programs in Web Workers started by `spawn`; `memoryLimit` caps each program's linear memory. One
 * worker is started ahead, so a program starts without fetching or starting anything.
 */
export function workerPrograms(spawn: () => Worker, memoryLimit: number): ProgramLauncher {
  let next = spawn()
  const take = () => {
    const worker = next
    next = spawn()
    return worker
  }
  return { run: (o) => new WorkerRun(o, take, memoryLimit) }
}
