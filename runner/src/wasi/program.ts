import type { Subprocess } from 'bun'
import { equalBytes, type MemFs } from './memfs.ts'
import type { HostReply, HostRequest } from './program-host.ts'
import { Semaphore } from './semaphore.ts'

/** Where the session's home directory appears inside a program's sandbox. */
export const GUEST_HOME = '/workspace'

const HOST_SCRIPT = new URL('./program-host.ts', import.meta.url).pathname

export type ProgramEnd =
  | { kind: 'exited'; code: number }
  | { kind: 'interrupted' }
  | { kind: 'timeout' }
  | { kind: 'failed'; message: string }

/** One program-host child process (see program-host.ts). */
class Host {
  readonly proc: Subprocess
  readonly ready: Promise<void>
  onReply: ((reply: HostReply) => void) | undefined
  onDeath: (() => void) | undefined
  dead = false

  constructor() {
    let markReady!: () => void
    let fail!: (e: Error) => void
    this.ready = new Promise((resolve, reject) => {
      markReady = resolve
      fail = reject
    })
    this.proc = Bun.spawn([process.execPath, HOST_SCRIPT], {
      ipc: (reply: HostReply) => {
        if (reply.type === 'ready') markReady()
        else this.onReply?.(reply)
      },
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit'],
      // why: never hand the server's environment (secrets) to the process running visitors' code
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    })
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
export class HostPool {
  readonly #idle: Host[] = []
  readonly #gate: Semaphore
  #closed = false

  constructor(
    maxConcurrent = 32,
    readonly warm = 1,
  ) {
    this.#gate = new Semaphore(maxConcurrent)
  }

  #spawnWarm(): void {
    while (!this.#closed && this.#idle.length < this.warm) {
      const host = new Host()
      this.#idle.push(host)
      host.onDeath = () => {
        const i = this.#idle.indexOf(host)
        if (i >= 0) this.#idle.splice(i, 1)
      }
    }
  }

  /** A ready host, with a concurrency permit; give both back with the returned release. */
  async acquire(): Promise<{ host: Host; release: (reusable: boolean) => void }> {
    const permit = await this.#gate.acquire()
    try {
      // the most recently used host first: it has the program's package compiled already
      let host = this.#idle.pop()
      while (host?.dead) host = this.#idle.pop()
      host ??= new Host()
      host.onDeath = undefined
      await host.ready
      this.#spawnWarm()
      let released = false
      return {
        host,
        release: (reusable) => {
          if (released) return
          released = true
          host.onReply = undefined
          if (reusable && !host.dead && !this.#closed && this.#idle.length < this.warm * 4) {
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
}

export interface ProgramOptions {
  hosts: HostPool
  /** Memory-capped module bytes. */
  wasm: Uint8Array
  args: string[]
  fs: MemFs
  /** Session home (e.g. /home/coder): its subtree is the program's /workspace. */
  home: string
  /** Absolute session path of the working directory (under `home`). */
  cwd: string
  env: Record<string, string>
  /** Delivers stdout/stderr bytes; the returned promise is the back-pressure signal. */
  output: (bytes: Uint8Array) => Promise<void> | void
  /**
   * Wall-clock budget, counted from the start or the user's last keystroke to the program (there is
   * no per-instance CPU clock; a REPL waiting for its user is kept alive by the user typing).
   */
  timeLimitMs: number
  /** argv[0] as the program sees it (the command name of its package). */
  programName?: string
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
  #pending: HostRequest[] = []
  #ending: ProgramEnd | undefined
  #stdinClosed = false
  #timer: ReturnType<typeof setTimeout> | undefined
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

  /** The user interacted with the program: its time budget starts again. */
  touch(): void {
    if (!this.#ending) this.#timer?.refresh()
  }

  /** Bytes for the program's stdin (already line-disciplined by the shell). */
  write(bytes: Uint8Array): void {
    if (!this.#stdinClosed) this.#send({ type: 'stdin', bytes })
  }

  /** End of input (Ctrl-D at the start of a line). */
  closeStdin(): void {
    if (this.#stdinClosed) return
    this.#stdinClosed = true
    this.#send({ type: 'stdin-close' })
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
    clearTimeout(this.#timer)
    this.#finish(end)
  }

  async #run(): Promise<void> {
    const o = this.options
    this.#timer = setTimeout(() => this.#stop({ kind: 'timeout' }), o.timeLimitMs)
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
        if (reply.type === 'out') {
          await o.output(reply.bytes)
          host.send({ type: 'ack', bytes: reply.bytes.length })
        } else if (reply.type === 'exit') {
          this.#syncBack(reply.files, reply.dirs)
          clearTimeout(this.#timer)
          this.#ending = { kind: 'exited', code: reply.code }
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
      if (!this.#ending) this.#stop({ kind: 'failed', message: 'the program host stopped unexpectedly' })
      lease.release(false)
    }
    host.send({ type: 'run', wasm: o.wasm, name, args: o.args, cwd: toGuest(o.home, o.cwd), env: o.env, files, dirs })
    for (const req of this.#pending.splice(0)) host.send(req)
    void this.done.then((end) => {
      if (end.kind !== 'exited') lease.release(false)
    })
  }

  /** Mirrors the program's /workspace back into the session's MemFs. */
  #syncBack(files: Record<string, Uint8Array>, dirs: string[]): void {
    const o = this.options
    const seen = new Set<string>()
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
      o.fs.writeFile(path, data)
    }
    for (const path of o.fs.walk(o.home).reverse()) {
      if (!seen.has(path) && o.fs.stat(path)) o.fs.remove(path, true)
    }
  }
}
