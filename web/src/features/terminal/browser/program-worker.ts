/// <reference lib="webworker" />
/**
 * One WASI program in its own Web Worker (docs/runners.md, "The browser runner"), with
 * @bjorn3/browser_wasi_shim for WASI preview 1 and our own stdin and poll_oneoff: a program
 * waiting for keys blocks in `Atomics.wait` on the shared ring (program-protocol.ts), never
 * spinning. Ctrl-C and the time limit `terminate()` this worker, which in a browser really stops
 * running WebAssembly. The workspace is copied in as /workspace and what the program left there is
 * sent back at its exit, as the server's program host does. Ctrl-Z parks the program at its next
 * WASI call (`gate`).
 */
import {
  Directory,
  Fd,
  File,
  type Inode,
  PreopenDirectory,
  wasi as W,
  WASI,
  WASIProcExit,
} from '@bjorn3/browser_wasi_shim'
import { CTRL, CTRL_SLOTS, OUTPUT_WINDOW, type ProgramReply, type RunMessage, STDIN_RING } from './program-protocol.ts'

const scope = self as unknown as DedicatedWorkerGlobalScope
const post = (reply: ProgramReply, transfer: Transferable[] = []) => scope.postMessage(reply, transfer)

let ctrl: Int32Array
let ring: Uint8Array
let started = 0

/** Waits on `slot` (value `seen`) for at most `ms` (Infinity: until notified), counted as waiting time. */
function waitOn(slot: number, seen: number, ms: number, input: boolean): void {
  const begin = performance.now()
  Atomics.store(ctrl, CTRL.waitStart, Math.round(begin - started))
  if (input) Atomics.store(ctrl, CTRL.waiting, 1)
  Atomics.wait(ctrl, slot, seen, ms === Number.POSITIVE_INFINITY ? undefined : Math.max(0, ms))
  if (input) Atomics.store(ctrl, CTRL.waiting, 0)
  Atomics.add(ctrl, CTRL.waitedMs, Math.round(performance.now() - begin))
}

/**
 * Ctrl-Z (docs/runners.md, "The browser runner"): while the shell holds the program stopped, every
 * WASI call parks here in Atomics.wait (no CPU) until `fg`. Parked time is waiting time, not
 * running time, for the 30 s limit.
 */
function gate(): void {
  if (Atomics.load(ctrl, CTRL.stop) === 0) return
  const begin = performance.now()
  Atomics.store(ctrl, CTRL.waitStart, Math.round(begin - started))
  Atomics.store(ctrl, CTRL.waiting, 2)
  while (Atomics.load(ctrl, CTRL.stop) === 1) Atomics.wait(ctrl, CTRL.stop, 1)
  Atomics.store(ctrl, CTRL.waiting, 0)
  Atomics.add(ctrl, CTRL.waitedMs, Math.round(performance.now() - begin))
}

/** `imports` with the Ctrl-Z gate in front of each call. */
function gated(imports: Record<string, unknown>): WebAssembly.ModuleImports {
  const out: WebAssembly.ModuleImports = {}
  for (const [name, f] of Object.entries(imports)) {
    if (typeof f !== 'function') continue
    out[name] = (...args: unknown[]) => {
      gate()
      return f(...args)
    }
  }
  return out
}

function stdinAvailable(): number {
  return Atomics.load(ctrl, CTRL.written) - Atomics.load(ctrl, CTRL.read)
}

function stdinClosed(): boolean {
  return Atomics.load(ctrl, CTRL.closed) === 1
}

/** Standard input: the shared ring, blocking like a terminal. */
class Stdin extends Fd {
  override fd_fdstat_get() {
    const fdstat = new W.Fdstat(W.FILETYPE_CHARACTER_DEVICE, 0)
    fdstat.fs_rights_base = BigInt(W.RIGHTS_FD_READ)
    return { ret: 0, fdstat }
  }
  override fd_read(size: number) {
    for (;;) {
      const seen = Atomics.load(ctrl, CTRL.wake)
      const n = Math.min(size, stdinAvailable())
      if (n > 0) {
        const read = Atomics.load(ctrl, CTRL.read)
        const data = new Uint8Array(n)
        for (let i = 0; i < n; i++) data[i] = ring[(read + i) % STDIN_RING]!
        Atomics.add(ctrl, CTRL.read, n)
        return { ret: 0, data }
      }
      if (stdinClosed()) return { ret: 0, data: new Uint8Array(0) }
      waitOn(CTRL.wake, seen, Number.POSITIVE_INFINITY, true)
    }
  }
}

/** Standard output or error: posted to the shell, within the output window (a paused terminal stalls the program). */
class Output extends Fd {
  constructor(readonly fd: 1 | 2) {
    super()
  }
  override fd_fdstat_get() {
    const fdstat = new W.Fdstat(W.FILETYPE_CHARACTER_DEVICE, 0)
    fdstat.fs_rights_base = BigInt(W.RIGHTS_FD_WRITE)
    return { ret: 0, fdstat }
  }
  override fd_write(data: Uint8Array) {
    for (;;) {
      const unacked = Atomics.load(ctrl, CTRL.unacked)
      if (unacked <= OUTPUT_WINDOW) break
      waitOn(CTRL.unacked, unacked, 100, false)
    }
    // the length before the buffer is transferred (a transferred buffer reads as empty)
    const n = data.length
    Atomics.add(ctrl, CTRL.unacked, n)
    post({ type: 'out', fd: this.fd, bytes: data }, [data.buffer])
    return { ret: 0, nwritten: n }
  }
}

/**
 * poll_oneoff with clock and stdin subscriptions (life waits for a key or the next frame): blocks
 * in Atomics.wait until a key, the end of input or the earliest deadline. Other descriptors are
 * always ready (files and the terminal's output).
 */
function pollOneoff(memory: () => WebAssembly.Memory) {
  return (inPtr: number, outPtr: number, nsubs: number, neventsPtr: number): number => {
    if (nsubs === 0) return W.ERRNO_INVAL
    const view = () => new DataView(memory().buffer)
    const subs: { userdata: bigint; tag: number; fd: number; deadline: number }[] = []
    const now = performance.now()
    let v = view()
    for (let i = 0; i < nsubs; i++) {
      const at = inPtr + i * 48
      const userdata = v.getBigUint64(at, true)
      const tag = v.getUint8(at + 8)
      if (tag === W.EVENTTYPE_CLOCK) {
        const id = v.getUint32(at + 16, true)
        const timeoutNs = v.getBigUint64(at + 24, true)
        const flags = v.getUint16(at + 40, true)
        let deadline = now + Number(timeoutNs) / 1e6
        if (flags & W.SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME) {
          const clockNow = id === W.CLOCKID_REALTIME ? Date.now() : performance.now()
          deadline = now + (Number(timeoutNs) / 1e6 - clockNow)
        }
        subs.push({ userdata, tag, fd: -1, deadline })
      } else subs.push({ userdata, tag, fd: v.getUint32(at + 16, true), deadline: 0 })
    }
    for (;;) {
      const seen = Atomics.load(ctrl, CTRL.wake)
      const t = performance.now()
      const ready = subs.filter((s) =>
        s.tag === W.EVENTTYPE_CLOCK
          ? t >= s.deadline
          : s.tag === W.EVENTTYPE_FD_READ && s.fd === 0
            ? stdinAvailable() > 0 || stdinClosed()
            : true,
      )
      if (ready.length > 0) {
        v = view()
        ready.forEach((s, i) => {
          const at = outPtr + i * 32
          v.setBigUint64(at, s.userdata, true)
          v.setUint16(at + 8, 0, true)
          v.setUint8(at + 10, s.tag)
          const nbytes = s.tag === W.EVENTTYPE_FD_READ && s.fd === 0 ? stdinAvailable() : 1
          v.setBigUint64(at + 16, BigInt(Math.max(0, nbytes)), true)
          v.setUint16(at + 24, s.fd === 0 && stdinClosed() ? W.EVENTRWFLAGS_FD_READWRITE_HANGUP : 0, true)
        })
        v.setUint32(neventsPtr, ready.length, true)
        return 0
      }
      const clocks = subs.filter((s) => s.tag === W.EVENTTYPE_CLOCK).map((s) => s.deadline)
      const until = clocks.length > 0 ? Math.min(...clocks) - t : Number.POSITIVE_INFINITY
      waitOn(
        CTRL.wake,
        seen,
        until,
        subs.some((s) => s.fd === 0),
      )
    }
  }
}

function tree(job: RunMessage): Map<string, Inode> {
  const root = new Map<string, Inode>()
  const dirOf = (rel: string): Map<string, Inode> => {
    let at = root
    if (rel === '') return at
    for (const part of rel.split('/')) {
      let next = at.get(part)
      if (!(next instanceof Directory)) {
        next = new Directory(new Map())
        at.set(part, next)
      }
      at = (next as Directory).contents
    }
    return at
  }
  for (const d of job.dirs) dirOf(d)
  for (const [rel, data] of Object.entries(job.files)) {
    const slash = rel.lastIndexOf('/')
    dirOf(slash < 0 ? '' : rel.slice(0, slash)).set(slash < 0 ? rel : rel.slice(slash + 1), new File(data))
  }
  return root
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

async function run(job: RunMessage): Promise<void> {
  ctrl = new Int32Array(job.shared, 0, CTRL_SLOTS)
  ring = new Uint8Array(job.shared, CTRL_SLOTS * 4, STDIN_RING)
  started = performance.now()
  const root = tree(job)
  const workspace = new PreopenDirectory('/workspace', root)
  const env = Object.entries(job.env).map(([k, v]) => `${k}=${v}`)
  const w = new WASI([job.name, ...job.args], env, [new Stdin(), new Output(1), new Output(2), workspace])
  let memory: WebAssembly.Memory | undefined
  const imports: WebAssembly.Imports = {
    wasi_snapshot_preview1: gated({ ...w.wasiImport, poll_oneoff: pollOneoff(() => memory!) }),
  }
  let code: number
  try {
    const instance = await WebAssembly.instantiate(job.module, imports)
    memory = instance.exports.memory as WebAssembly.Memory
    code = w.start(instance as unknown as { exports: { memory: WebAssembly.Memory; _start: () => unknown } })
  } catch (e) {
    if (e instanceof WASIProcExit) code = e.code
    else {
      post({ type: 'error', message: e instanceof Error ? e.message : String(e) })
      return
    }
  }
  const files: Record<string, Uint8Array> = {}
  const kept: string[] = []
  const dirs: string[] = []
  const walk = (dir: Map<string, Inode>, rel: string) => {
    for (const [name, node] of dir) {
      const r = rel ? `${rel}/${name}` : name
      if (node instanceof Directory) {
        dirs.push(r)
        walk(node.contents, r)
      } else if (node instanceof File) {
        const original = job.files[r]
        if (original && same(original, node.data)) kept.push(r)
        else files[r] = node.data
      }
    }
  }
  walk(workspace.dir.contents, '')
  post({ type: 'exit', code, files, kept, dirs })
}

scope.onmessage = (ev: MessageEvent<RunMessage>) => {
  if (ev.data.type === 'run') void run(ev.data)
}
