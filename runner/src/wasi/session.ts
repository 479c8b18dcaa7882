import { readFileSync } from 'node:fs'
import type { Subprocess } from 'bun'
import type { FileDownload, FileUpload, PutFilesResult } from '../files.ts'
import {
  type ExitInfo,
  type ExitReason,
  type OpenOptions,
  RunnerError,
  type RunnerSession,
  type TerminalSize,
} from '../types.ts'
import type { CpuGovernor } from './cpu-governor.ts'
import { enterWorkGroup } from './idle-group.ts'
import type { Tree } from './memfs.ts'
import { mib, niced, rssBytes, SAMPLE_MS } from './proc-stats.ts'
import type { Semaphore } from './semaphore.ts'
import type { FromSessionHost, ToSessionHost } from './session-protocol.ts'
import type { CompileResult, Toolchain } from './toolchain.ts'

const HOST_SCRIPT = new URL('./session-host.ts', import.meta.url).pathname
const te = new TextEncoder()

/**
 * A session host process (session-host.ts) at nice 10. Started ahead of demand by the runner's pool,
 * it has loaded the shell's code and waits for its session's `init`.
 */
export class SessionHostProcess {
  readonly proc: Subprocess
  #ready = false
  readonly whenReady: Promise<void>
  onMessage: ((message: FromSessionHost) => void) | undefined

  constructor() {
    let markReady!: () => void
    this.whenReady = new Promise((resolve) => {
      markReady = resolve
    })
    this.proc = Bun.spawn(niced([process.execPath, HOST_SCRIPT]), {
      ipc: (message: FromSessionHost) => {
        if (message.type === 'ready') {
          this.#ready = true
          markReady()
        } else this.onMessage?.(message)
      },
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit'],
      // why: never hand the server's environment (secrets) to the process running visitors' code
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    })
    // its program hosts start in the group it is in (idle-group.ts)
    enterWorkGroup(this.proc.pid)
  }

  get ready(): boolean {
    return this.#ready
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null && !this.proc.killed
  }

  kill(): void {
    this.proc.kill('SIGKILL')
  }
}

/** Everything one session needs, handed over by the runner that opens it (budgets: docs/budgets.md). */
export interface WasiSessionOptions {
  open: OpenOptions
  /** The runner's compiler, shared by its sessions (a session holds at most one slot). */
  toolchain: Toolchain
  /** The runner's gate on programs running at once. */
  programs: Semaphore
  /** CPU time of one program run (ms). */
  programTimeLimitMs: number
  /** Linear-memory cap of a program (bytes). */
  memoryLimit: number
  /** Resident memory of a program's host process (bytes). */
  programMemoryBytes: number
  /** Resident memory of the session host process: shell, make, workspace, queues (bytes). */
  sessionMemoryBytes: number
  /** Bytes of files in the workspace. */
  workspaceBytes: number
  /** Output held for the session (while paused or before anyone listens); the shell waits beyond it. */
  highWaterMark: number
  /** Input sent to the shell and not yet taken by it; beyond it keystrokes are dropped with a bell. */
  inputWindow: number
  /** How long the shell may take to answer a Ctrl-C before the session is stopped (ms). */
  interruptGraceMs?: number
  /** A session host started ahead of time (the runner's pool); a new one is started otherwise. */
  host?: SessionHostProcess
  /** Demotes the session's programs and compiles to SCHED_IDLE while it burns a lot of CPU. */
  governor?: CpuGovernor
}

type Held = { bytes: Uint8Array; ack: number }

/**
 * One WASI terminal. The shell, make, the workspace and the program hosts live in a session host
 * process (session-host.ts) at nice 10; this object only moves bytes with credit both ways, samples
 * the host's memory, enforces the session time limit and kills the host (and its program hosts) at
 * the end, so nothing a visitor sends blocks this event loop or grows this heap beyond the
 * windows (docs/budgets.md).
 */
export class WasiSession implements RunnerSession {
  readonly id = crypto.randomUUID()
  readonly kind = 'wasi' as const
  readonly exited: Promise<ExitInfo>
  #resolveExit!: (info: ExitInfo) => void
  #ended = false
  readonly #o: WasiSessionOptions
  readonly #host: SessionHostProcess
  readonly #proc: Subprocess
  /** Messages for the host before it said ready (bounded: input by the window, the rest tiny). */
  readonly #early: ToSessionHost[] = []
  readonly #listeners = new Set<(chunk: Uint8Array) => void>()
  readonly #incidents = new Set<(message: string) => void>()
  readonly #queue: Held[] = []
  #paused = false
  #inflight = 0
  #seq = 0
  #acked = 0
  #interruptTimer: ReturnType<typeof setTimeout> | undefined
  #resizeTimer: ReturnType<typeof setTimeout> | undefined
  #size: TerminalSize
  #sentSize: TerminalSize
  #timer: ReturnType<typeof setTimeout> | undefined
  readonly #watch: ReturnType<typeof setInterval>
  readonly #programPids = new Set<number>()
  readonly #compiles = new Map<number, { abort: AbortController; tree?: (tree: Tree) => void }>()
  readonly #permits = new Map<number, () => void>()
  readonly #abort = new AbortController()
  readonly #fileOps = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  #fileOpSeq = 0
  readonly #untrack: (() => void) | undefined

  constructor(options: WasiSessionOptions) {
    this.#o = options
    this.#size = { ...options.open.size }
    this.#sentSize = { ...options.open.size }
    this.exited = new Promise((resolve) => {
      this.#resolveExit = resolve
    })
    this.#host = options.host ?? new SessionHostProcess()
    this.#host.onMessage = (message) => this.#receive(message)
    this.#proc = this.#host.proc
    this.#proc.ref()
    if (!this.#host.ready) {
      void this.#host.whenReady.then(() => {
        for (const m of this.#early.splice(0)) this.#send(m)
      })
    }
    void this.#proc.exited.then(() => {
      if (!this.#ended) {
        this.#fail('the session host stopped unexpectedly')
      }
    })
    this.#watch = setInterval(() => {
      const rss = rssBytes(this.#proc.pid)
      if (rss !== undefined && rss > this.#o.sessionMemoryBytes) {
        this.#fail(`memory limit (${mib(this.#o.sessionMemoryBytes)} MiB) exceeded`)
      }
    }, SAMPLE_MS)
    this.#watch.unref?.()
    this.#untrack = options.governor?.track(this.id, () => this.#pids())
  }

  /** The session host, then its program hosts that are still its children (a pid is never reused under us). */
  #pids(): number[] {
    const host = this.#proc.pid
    for (const pid of this.#programPids) if (parentOf(pid) !== host) this.#programPids.delete(pid)
    return [host, ...this.#programPids]
  }

  /** Process id of the session host (for diagnostics and tests). */
  get pid(): number {
    return this.#proc.pid
  }

  /** Arms the session time limit and starts the shell. */
  start(): void {
    const { open } = this.#o
    if (open.timeLimitMs !== undefined) {
      this.#timer = setTimeout(() => {
        this.#local('\r\n\x1b[0mshellfolio: session time limit reached\r\n')
        this.#end({ code: null, reason: 'timeout', message: 'session time limit reached' })
      }, open.timeLimitMs)
    }
    this.#send({
      type: 'init',
      project: open.project,
      env: open.env ?? {},
      size: { ...open.size },
      programTimeLimitMs: this.#o.programTimeLimitMs,
      memoryLimit: this.#o.memoryLimit,
      programMemoryBytes: this.#o.programMemoryBytes,
      workspaceBytes: this.#o.workspaceBytes,
      outputWindow: this.#o.highWaterMark,
    })
  }

  write(data: Uint8Array | string): void {
    if (this.#ended) return
    const size = data.length
    if (size === 0) return
    const room = Math.floor(this.#o.inputWindow * (this.#o.governor?.inputCredit(this.id) ?? 1)) - this.#inflight
    let part = data
    if (size > room) {
      // the shell is behind: keep what fits, drop the rest with a bell, but never lose a Ctrl-C
      part = data.slice(0, Math.max(0, room))
      const dropped = typeof data === 'string' ? data.slice(part.length) : data.subarray(part.length)
      const ctrlC = typeof dropped === 'string' ? dropped.includes('\x03') : dropped.includes(3)
      this.#local('\x07')
      if (part.length > 0) this.#input(part)
      if (ctrlC) this.#input('\x03')
      return
    }
    this.#input(part)
  }

  #input(data: Uint8Array | string): void {
    const seq = ++this.#seq
    const n = data.length
    this.#inflight += n
    this.#send({ type: 'input', seq, data, n })
    const ctrlC = typeof data === 'string' ? data.includes('\x03') : data.includes(3)
    if (ctrlC && !this.#interruptTimer) {
      // why: a shell stuck in synchronous work cannot see Ctrl-C; if it has not taken the key in
      // time, the session host is stopped (docs/budgets.md)
      this.#interruptTimer = setTimeout(() => {
        this.#interruptTimer = undefined
        if (this.#acked < seq) this.#fail('the shell did not answer Ctrl-C')
      }, this.#o.interruptGraceMs ?? 10_000)
    }
  }

  async resize(size: TerminalSize): Promise<void> {
    if (!(size.cols > 0 && size.rows > 0)) return
    this.#size = { cols: size.cols, rows: size.rows }
    // why: at most one resize message per 50 ms reaches the host, the last size always; a storm of
    // resizes while the shell is busy cannot queue messages here
    if (this.#resizeTimer) return
    const sendSize = () => {
      const { cols, rows } = this.#size
      if (cols === this.#sentSize.cols && rows === this.#sentSize.rows) return
      this.#sentSize = { cols, rows }
      this.#send({ type: 'resize', size: { cols, rows } })
    }
    sendSize()
    this.#resizeTimer = setTimeout(() => {
      this.#resizeTimer = undefined
      sendSize()
    }, 50)
  }

  onIncident(listener: (message: string) => void): () => void {
    this.#incidents.add(listener)
    return () => {
      this.#incidents.delete(listener)
    }
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    this.#listeners.add(listener)
    // why: output buffered before the first listener is delivered on the next microtask, never
    // from inside onData() (the caller may not have stored the unsubscribe function yet)
    queueMicrotask(() => this.#flush())
    return () => {
      this.#listeners.delete(listener)
    }
  }

  pause(): void {
    this.#paused = true
  }

  resume(): void {
    this.#paused = false
    this.#flush()
  }

  async kill(reason: ExitReason = 'killed'): Promise<void> {
    this.#end({ code: null, reason })
    await this.exited
  }

  /** Files in (docs/runners.md, "Files"): done by the session host on its workspace (wasi/files.ts). */
  putFiles(dir: string, files: FileUpload[]): Promise<PutFilesResult> {
    return this.#fileOp({ type: 'files-put', id: 0, dir, files }) as Promise<PutFilesResult>
  }

  getFile(path: string): Promise<FileDownload> {
    return this.#fileOp({ type: 'file-get', id: 0, path }) as Promise<FileDownload>
  }

  #fileOp(message: Extract<ToSessionHost, { type: 'files-put' | 'file-get' }>): Promise<unknown> {
    if (this.#ended) return Promise.reject(new RunnerError('SESSION_GONE', 'the session has ended'))
    const id = ++this.#fileOpSeq
    return new Promise((resolve, reject) => {
      this.#fileOps.set(id, { resolve, reject })
      this.#send({ ...message, id })
    })
  }

  #fileDone(message: Extract<FromSessionHost, { type: 'files-done' }>): void {
    const op = this.#fileOps.get(message.id)
    if (!op) return
    this.#fileOps.delete(message.id)
    if (message.error) op.reject(new RunnerError(message.error.code, message.error.message))
    else op.resolve(message.result)
  }

  #send(message: ToSessionHost): void {
    if (this.#ended) return
    if (!this.#host.ready) {
      if (message.type === 'init') this.#early.unshift(message)
      else this.#early.push(message)
      return
    }
    try {
      this.#proc.send(message)
    } catch {
      // the host is gone; its exit ends the session
    }
  }

  #receive(message: FromSessionHost): void {
    if (this.#ended) return
    switch (message.type) {
      case 'out':
        this.#push({ bytes: message.bytes, ack: message.bytes.length })
        break
      case 'input-ack':
        this.#inflight -= message.n
        this.#acked = Math.max(this.#acked, message.seq)
        break
      case 'exit':
        this.#end({ code: message.code, reason: 'exit' })
        break
      case 'pid':
        this.#programPids.add(message.pid)
        this.#o.governor?.touch(this.id)
        break
      case 'incident':
        for (const listener of this.#incidents) listener(message.message)
        break
      case 'cc':
        this.#compile(message.id, message.argv, message.memoryLimit)
        break
      case 'cc-tree':
        this.#compiles.get(message.id)?.tree?.(message.tree)
        break
      case 'cc-cancel':
        this.#compiles.get(message.id)?.abort.abort()
        break
      case 'permit':
        this.#permit(message.id)
        break
      case 'permit-release':
        this.#permits.get(message.id)?.()
        this.#permits.delete(message.id)
        break
      case 'files-done':
        this.#fileDone(message)
        break
    }
  }

  /** A compile for the shell, on the runner's toolchain; one at a time per session. */
  #compile(id: number, argv: string[], memoryLimit: number | undefined): void {
    if (this.#compiles.size > 0) {
      this.#send({ type: 'cc-out', id, bytes: te.encode(`${argv[0]}: another compile is running\n`) })
      this.#send({ type: 'cc-done', id, code: 1 })
      return
    }
    const abort = new AbortController()
    const entry: { abort: AbortController; tree?: (tree: Tree) => void } = { abort }
    this.#compiles.set(id, entry)
    void this.#o.toolchain
      .compileTree({
        argv,
        owner: this.id,
        ...(memoryLimit !== undefined ? { memoryLimit } : {}),
        signal: AbortSignal.any([abort.signal, this.#abort.signal]),
        output: (bytes) => this.#send({ type: 'cc-out', id, bytes }),
        tree: () =>
          new Promise<Tree>((resolve, reject) => {
            entry.tree = resolve
            abort.signal.addEventListener('abort', () => reject(new Error('cancelled')), { once: true })
            this.#abort.signal.addEventListener('abort', () => reject(new Error('cancelled')), { once: true })
            this.#send({ type: 'cc-tree?', id })
          }),
      })
      .catch((): CompileResult => ({ code: 130 }))
      .then((result) => {
        this.#compiles.delete(id)
        this.#send({ type: 'cc-done', id, code: result.code, ...(result.tree ? { tree: result.tree } : {}) })
      })
  }

  #permit(id: number): void {
    this.#o.programs.acquire(this.#abort.signal).then(
      (release) => {
        if (this.#ended) return release()
        this.#permits.set(id, release)
        this.#send({ type: 'permit-ok', id })
      },
      () => {},
    )
  }

  #deliverable(): boolean {
    return !this.#paused && this.#listeners.size > 0
  }

  /** Output from here, not from the host (a bell, a limit message): nothing to acknowledge. */
  #local(text: string): void {
    const last = this.#queue.at(-1)
    // a bell for every dropped write while paused would itself queue without bound: one is enough
    if (text === '\x07' && last?.ack === 0 && last.bytes.length === 1 && last.bytes[0] === 7) return
    this.#push({ bytes: te.encode(text), ack: 0 })
  }

  #push(held: Held): void {
    if (this.#ended || held.bytes.length === 0) return
    if (this.#deliverable() && this.#queue.length === 0) {
      this.#deliver(held)
      return
    }
    this.#queue.push(held)
  }

  #deliver(held: Held): void {
    for (const l of this.#listeners) l(held.bytes)
    // a session over its CPU share gets its output credit back at the governor's pace (docs/budgets.md)
    const ack = (bytes: number) => this.#send({ type: 'ack', bytes })
    if (held.ack > 0 && !this.#o.governor?.deferAck(this.id, held.ack, ack)) ack(held.ack)
  }

  #flush(): void {
    while (this.#queue.length > 0 && this.#deliverable()) this.#deliver(this.#queue.shift()!)
  }

  /** The session host failed or broke a budget: say so on the terminal and end with reason `error`. */
  #fail(message: string): void {
    if (this.#ended) return
    this.#local(`\r\n\x1b[0mshellfolio: ${message}: the session was stopped\r\n`)
    this.#end({ code: null, reason: 'error', message })
  }

  #end(info: ExitInfo): void {
    if (this.#ended) return
    // deliver what the listeners can still take (e.g. the last message) before ending
    this.#flush()
    this.#ended = true
    for (const op of this.#fileOps.values()) op.reject(new RunnerError('SESSION_GONE', 'the session has ended'))
    this.#fileOps.clear()
    clearTimeout(this.#timer)
    clearTimeout(this.#interruptTimer)
    clearTimeout(this.#resizeTimer)
    clearInterval(this.#watch)
    this.#untrack?.()
    this.#abort.abort()
    for (const release of this.#permits.values()) release()
    this.#permits.clear()
    this.#queue.length = 0
    this.#early.length = 0
    // program hosts first, while they are still this host's children (a pid is never reused under us)
    for (const pid of this.#programPids) {
      if (parentOf(pid) === this.#proc.pid) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {}
      }
    }
    this.#proc.kill('SIGKILL')
    void this.#proc.exited.then(() => this.#resolveExit(info))
  }
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
  } catch {
    return undefined
  }
}
