import type { Subprocess } from 'bun'
import { equalBytes, FsError, type MemFs } from './memfs.ts'
import type { ProgramStart } from './platform.ts'
import { anyThreadRunnable, cpuMs, niced, rssBytes, SAMPLE_MS } from './proc-stats.ts'
import type { HostReply, HostRequest } from './program-host.ts'
import { Semaphore } from './semaphore.ts'

/** Where the session's home directory appears inside a program's sandbox. */
export const GUEST_HOME = '/workspace'

const HOST_SCRIPT = new URL('./program-host.ts', import.meta.url).pathname

export type ProgramEnd =
  | { kind: 'exited'; code: number; unsaved?: number }
  | { kind: 'interrupted' }
  | { kind: 'timeout' }
  | { kind: 'memory' }
  /** Stopped because the pipe or file its output went to was full (`cut()`). */
  | { kind: 'cut' }
  | { kind: 'failed'; message: string; crashed?: true }

/** One program-host child process (see program-host.ts). */
class Host {
  readonly proc: Subprocess
  readonly ready: Promise<void>
  onReply: ((reply: HostReply) => void) | undefined
  onDeath: (() => void) | undefined
  dead = false

  constructor(onSpawn?: (pid: number) => void) {
    let markReady!: () => void
    let fail!: (e: Error) => void
    this.ready = new Promise((resolve, reject) => {
      markReady = resolve
      fail = reject
    })
    this.proc = Bun.spawn(niced([process.execPath, HOST_SCRIPT]), {
      ipc: (reply: HostReply) => {
        if (reply.type === 'ready') markReady()
        else this.onReply?.(reply)
      },
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit'],
      // why: never hand the server's environment (secrets) to the process running visitors' code
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    })
    onSpawn?.(this.proc.pid)
    void this.proc.exited.then(() => {
      this.dead = true
      fail(new Error('the program host exited during start-up'))
      this.onDeath?.()
    })
    this.ready.catch(() => {})
  }

  send(req: HostRequest): void {
    if (!this.dead) this.proc.send(req)
  }

  kill(): void {
    this.dead = true
    this.proc.kill('SIGKILL')
  }
}

/**
 * Program-host processes shared by a runner's sessions: a few are kept warm, a host whose program
 * exited normally is reused, a killed one is replaced. Concurrent programs are bounded.
 */
export interface HostPoolOptions {
  /** Idle hosts kept for reuse (default 4 × warm). */
  keep?: number
  /** Told the pid of every host started (the session kills them all at its end). */
  onSpawn?: (pid: number) => void
  /** A permit from a wider gate (the runner's concurrent programs), taken before this pool's own. */
  permit?: () => Promise<() => void>
}

export class HostPool {
  readonly #idle: Host[] = []
  readonly #gate: Semaphore
  readonly #keep: number
  #closed = false

  constructor(
    maxConcurrent = 32,
    readonly warm = 1,
    readonly options: HostPoolOptions = {},
  ) {
    this.#gate = new Semaphore(maxConcurrent)
    this.#keep = options.keep ?? warm * 4
  }

  #spawnWarm(): void {
    while (!this.#closed && this.#idle.length < this.warm) {
      const host = new Host(this.options.onSpawn)
      this.#idle.push(host)
      host.onDeath = () => {
        const i = this.#idle.indexOf(host)
        if (i >= 0) this.#idle.splice(i, 1)
      }
    }
  }

  /**
   * A ready host, with a concurrency permit; give both back with the returned release. A stopped
   * program (Ctrl-Z) gives its permit back with `pause` and waits for one again with `unpause`.
   */
  async acquire(): Promise<HostLease> {
    const take = async () => {
      const outer = await this.options.permit?.()
      const inner = await this.#gate.acquire()
      return () => {
        inner()
        outer?.()
      }
    }
    let held: (() => void) | undefined = await take()
    let released = false
    const permit = () => {
      held?.()
      held = undefined
    }
    try {
      // the most recently used host first: it has the program's package compiled already
      let host = this.#idle.pop()
      while (host?.dead) host = this.#idle.pop()
      host ??= new Host(this.options.onSpawn)
      host.onDeath = undefined
      await host.ready
      this.#spawnWarm()
      return {
        host,
        pause: permit,
        unpause: async () => {
          if (held || released) return
          const got = await take()
          if (released || held) got()
          else held = got
        },
        release: (reusable) => {
          if (released) return
          released = true
          host.onReply = undefined
          if (reusable && !host.dead && !this.#closed && this.#idle.length < this.#keep) {
            this.#idle.push(host)
            host.onDeath = () => {
              const i = this.#idle.indexOf(host)
              if (i >= 0) this.#idle.splice(i, 1)
            }
          } else host.kill()
          permit()
        },
      }
    } catch (error) {
      permit()
      throw error
    }
  }

  close(): void {
    this.#closed = true
    for (const h of this.#idle.splice(0)) h.kill()
  }

  /** Starts a program in one of these hosts: the shell's `ProgramLauncher` (platform.ts). */
  run(options: Omit<ProgramOptions, 'hosts'>): ProgramRun {
    return new ProgramRun({ ...options, hosts: this })
  }
}

export interface HostLease {
  host: Host
  release: (reusable: boolean) => void
  /** Gives the concurrency permit back while the program is stopped. */
  pause: () => void
  /** Takes a permit again (waits for one) before the program continues. */
  unpause: () => Promise<void>
}

/**
 * A program run on the server (docs/runners.md): what every platform gets (`ProgramStart`), run in
 * a host process of `hosts`. `timeLimitMs` is the host process's CPU time (user + system, sampled
 * from /proc): a program waiting for its user or a paused terminal spends none, typing never resets
 * it; `memoryBytes` is the host's resident memory (SDK + module + its in-memory /tmp).
 */
export interface ProgramOptions extends ProgramStart {
  hosts: HostPool
  /** Bytes of files the run may hand back to the workspace (default: the workspace's quota). */
  quota?: number
}

export function toGuest(home: string, path: string): string {
  if (path === home) return GUEST_HOME
  if (path.startsWith(`${home}/`)) return GUEST_HOME + path.slice(home.length)
  return path
}

/**
 * One run of a WASI program in a program host: the workspace is copied in, output streams back
 * with flow control, and afterwards files the program created, changed or deleted are synced back
 * into the session's MemFs. Ctrl-C and the time limit kill the host process.
 */
export class ProgramRun {
  readonly done: Promise<ProgramEnd>
  #host: Host | undefined
  #lease: HostLease | undefined
  #pending: HostRequest[] = []
  /**
   * Typed input held like a TTY's input queue until the program waits (typeahead): a program busy
   * computing does not take it, and what it never took goes back to the shell (`unread()`).
   */
  #typed: (Uint8Array | 'eof')[] = []
  #typedBytes = 0
  /** Output messages handed to `output` and not yet taken by the terminal. */
  #outputInFlight = 0
  #ending: ProgramEnd | undefined
  #stdinClosed = false
  #timer: ReturnType<typeof setInterval> | undefined
  #finish!: (end: ProgramEnd) => void

  constructor(readonly options: ProgramOptions) {
    this.done = new Promise((resolve) => {
      this.#finish = resolve
    })
    void this.#run()
  }

  /** Process id of the host running this program (for diagnostics and tests). */
  get pid(): number | undefined {
    return this.#host?.proc.pid
  }

  /** Bytes for the program's stdin at once (a file or a pipe, a terminal's answer to a query). */
  write(bytes: Uint8Array): void {
    if (!this.#stdinClosed) this.#send({ type: 'stdin', bytes })
  }

  /** End of input at once (after `< file` or a pipe). */
  closeStdin(): void {
    if (this.#stdinClosed) return
    this.#stdinClosed = true
    this.#send({ type: 'stdin-close' })
  }

  /**
   * Input typed at the terminal (already line-disciplined): held until the program waits for
   * something — its host idle for a sample (`SAMPLE_MS`) with no output on its way — then handed
   * over, as a kernel TTY keeps typed lines until a `read`. WASI gives no way to see a `read` on
   * stdin, so waiting is what the program's CPU time shows: a program rendering a picture leaves the
   * typed lines to the shell after it, an interactive one gets them within a sample. Returns false
   * when the queue is full (`limit` bytes).
   */
  type(input: Uint8Array | 'eof', limit: number): boolean {
    if (this.#stdinClosed) return input !== 'eof'
    const size = input === 'eof' ? 0 : input.length
    if (this.#typedBytes + size > limit) return false
    this.#typed.push(input)
    this.#typedBytes += size
    if (this.#idle) this.#deliverTyped()
    return true
  }

  /** Bytes typed that the program never took (after `done`: for the shell). */
  unread(): Uint8Array {
    const parts = this.#typed.filter((p): p is Uint8Array => p !== 'eof')
    this.#typed = []
    this.#typedBytes = 0
    return concat(parts)
  }

  /** Drops typed input not taken yet (Ctrl-C flushes a TTY's input queue). */
  flushTyped(): void {
    this.#typed = []
    this.#typedBytes = 0
  }

  /** The program's host was idle at the last sample. */
  #idle = false
  /** The program has run a sample or printed something (start-up is over). */
  #started = false
  /** The program exited: what it did not take stays for the shell. */
  #ended = false
  /** Consecutive idle samples. */
  #idleSamples = 0

  #deliverTyped(): void {
    if (!this.#host || this.#typed.length === 0 || this.#ended) return
    for (const part of this.#typed.splice(0)) {
      if (part === 'eof') this.closeStdin()
      else this.write(part)
    }
    this.#typedBytes = 0
    // why: the program works on what it got; the next lines wait for it to wait again
    this.#idle = false
    this.#idleSamples = 0
  }

  /** Stops the run because the pipe or file its output goes to is full. */
  cut(): void {
    this.#stop({ kind: 'cut' })
  }

  /** Suspended by Ctrl-Z (SIGSTOP to its host): it spends no CPU, so none of its time budget. */
  #suspended = false

  get suspended(): boolean {
    return this.#suspended
  }

  /**
   * Ctrl-Z: SIGSTOP to the program's host process (every thread of the SDK stops). False when there
   * is nothing to stop yet (still waiting for a host) or the run is over. docs/runners.md, "Job control".
   */
  suspend(): boolean {
    if (!this.#host || this.#host.dead || this.#ending || this.#suspended) return false
    this.#suspended = true
    this.#idle = false
    this.#idleSamples = 0
    this.#host.proc.kill('SIGSTOP')
    // why: a stopped program runs nothing; the session's next program must not wait for its permit
    this.#lease?.pause()
    return true
  }

  /** `fg`: takes a concurrency permit again, then SIGCONT; typed input goes to it once it waits. */
  async resume(): Promise<void> {
    if (!this.#suspended) return
    await this.#lease?.unpause()
    this.#suspended = false
    if (this.#host && !this.#host.dead && !this.#ending) this.#host.proc.kill('SIGCONT')
  }

  /** Ctrl-C: there are no signals in WASI, so the program's host process is killed. */
  interrupt(): void {
    this.#stop({ kind: 'interrupted' })
  }

  #send(req: HostRequest): void {
    if (this.#host) this.#host.send(req)
    else this.#pending.push(req)
  }

  #stop(end: ProgramEnd): void {
    if (this.#ending) return
    this.#ending = end
    this.#host?.kill()
    clearInterval(this.#timer)
    this.#finish(end)
  }

  /** Samples the host's CPU time and memory against the budgets (docs/budgets.md). */
  #watch(pid: number): void {
    const o = this.options
    const base = cpuMs(pid) ?? 0
    let last = base
    this.#timer = setInterval(() => {
      const cpu = cpuMs(pid)
      if (cpu === undefined) return
      if (cpu - base > o.timeLimitMs) this.#stop({ kind: 'timeout' })
      else if (o.memoryBytes !== undefined && (rssBytes(pid) ?? 0) > o.memoryBytes) this.#stop({ kind: 'memory' })
      else {
        // idle: under a fifth of a core since the last sample, no thread waiting for a core (a
        // program starved on a busy machine is not waiting for its user), and no output waiting
        // for the terminal
        const quiet =
          !this.#suspended &&
          cpu - last < SAMPLE_MS / 5 &&
          this.#outputInFlight === 0 &&
          this.#started &&
          !this.#ended &&
          !anyThreadRunnable(pid)
        this.#idleSamples = quiet ? this.#idleSamples + 1 : 0
        // why two samples: a program between two bursts of work (a render's last write, its exit)
        // is quiet for a moment; one waiting for its user stays quiet
        this.#idle = this.#idleSamples >= 2
        if (this.#idle) this.#deliverTyped()
      }
      last = cpu
    }, SAMPLE_MS)
  }

  async #run(): Promise<void> {
    const o = this.options
    let lease: Awaited<ReturnType<HostPool['acquire']>>
    try {
      lease = await o.hosts.acquire()
    } catch (error) {
      this.#stop({ kind: 'failed', message: `cannot start the program host: ${(error as Error).message}` })
      return
    }
    if (this.#ending) {
      lease.release(true)
      return
    }
    const host = lease.host
    this.#host = host
    this.#lease = lease
    this.#watch(host.proc.pid)
    const files: Record<string, Uint8Array> = {}
    const dirs: string[] = []
    for (const path of o.fs.walk(o.home)) {
      const node = o.fs.stat(path)!
      const rel = path.slice(o.home.length + 1)
      if (node.kind === 'file') files[rel] = node.data
      else dirs.push(rel)
    }
    const name = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/.test(o.programName ?? '') ? o.programName! : 'main'
    // replies are handled strictly in order: output is acknowledged only once the session took it
    let chain: Promise<void> = Promise.resolve()
    host.onReply = (reply) => {
      chain = chain.then(async () => {
        if (this.#ending) return
        if (reply.type === 'ended') this.#ended = true
        else if (reply.type === 'out') {
          this.#started = true
          this.#outputInFlight++
          try {
            await o.output(reply.bytes, reply.fd ?? 1)
          } finally {
            this.#outputInFlight--
          }
          host.send({ type: 'ack', bytes: reply.bytes.length })
        } else if (reply.type === 'exit') {
          clearInterval(this.#timer)
          const unsaved = (reply.unsaved ?? 0) + this.#syncBack(reply.files, reply.kept ?? [], reply.dirs)
          this.#ending = { kind: 'exited', code: reply.code, ...(unsaved > 0 ? { unsaved } : {}) }
          // why: after a program's stdin was closed (Ctrl-D, `< file`), a later program in the same
          // host stalled in poll() on stdin (life froze after `calc < file`): such a host is not reused
          lease.release(!this.#stdinClosed)
          this.#finish(this.#ending)
        } else if (reply.type === 'error') {
          this.#stop({ kind: 'failed', message: reply.message })
          lease.release(false)
        }
      })
    }
    host.onDeath = () => {
      if (!this.#ending) this.#stop({ kind: 'failed', message: 'the program host stopped unexpectedly', crashed: true })
      lease.release(false)
    }
    const quota = o.quota ?? o.fs.quota
    host.send({
      type: 'run',
      wasm: o.wasm,
      name,
      args: o.args,
      cwd: toGuest(o.home, o.cwd),
      env: o.env,
      files,
      dirs,
      ...(Number.isFinite(quota) ? { quota } : {}),
    })
    for (const req of this.#pending.splice(0)) host.send(req)
    // why: the first samples see the module being compiled; after two the program itself runs
    setTimeout(() => {
      this.#started = true
    }, SAMPLE_MS * 2).unref?.()
    void this.done.then((end) => {
      if (end.kind !== 'exited') lease.release(false)
    })
  }

  /** Mirrors the program's /workspace back into the session's MemFs; returns the files that did not fit. */
  #syncBack(files: Record<string, Uint8Array>, kept: string[], dirs: string[]): number {
    const o = this.options
    const seen = new Set<string>(kept.map((rel) => `${o.home}/${rel}`))
    const toWrite: [string, Uint8Array][] = []
    for (const rel of dirs) {
      const path = `${o.home}/${rel}`
      seen.add(path)
      const node = o.fs.stat(path)
      if (node?.kind === 'file') o.fs.remove(path)
      if (node?.kind !== 'dir') o.fs.mkdirp(path)
    }
    for (const [rel, data] of Object.entries(files)) {
      const path = `${o.home}/${rel}`
      seen.add(path)
      const old = o.fs.stat(path)
      if (old?.kind === 'file' && equalBytes(old.data, data)) continue
      if (old?.kind === 'dir') o.fs.remove(path, true)
      toWrite.push([path, data])
    }
    // deletions first, so the space they free is there for what the program wrote
    for (const path of o.fs.walk(o.home).reverse()) {
      if (!seen.has(path) && o.fs.stat(path)) o.fs.remove(path, true)
    }
    let unsaved = 0
    for (const [path, data] of toWrite) {
      try {
        o.fs.writeFile(path, data)
      } catch (e) {
        if (!(e instanceof FsError) || e.reason !== 'ENOSPC') throw e
        unsaved++
      }
    }
    return unsaved
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}
