import type { Package, Process, Sandbox, Wasmer } from '@wasmer/sdk/node'
import { equalBytes, type MemFs } from './memfs.ts'

/** Where the session's home directory appears inside a program's sandbox. */
export const GUEST_HOME = '/workspace'

export type ProgramEnd =
  | { kind: 'exited'; code: number }
  | { kind: 'interrupted' }
  | { kind: 'timeout' }
  | { kind: 'failed'; message: string }

export interface ProgramOptions {
  wasmer: Wasmer
  /** Compiled, memory-capped module bytes (the package is cached per byte array). */
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

const packages = new WeakMap<Uint8Array, Map<string, Promise<Package>>>()

/**
 * One run of a WASI program: a fresh @wasmer/sdk sandbox holding a copy of the workspace at
 * /workspace; after exit, files the program created, changed or deleted are synced back into the
 * session's MemFs. Output is pulled only as fast as `output` accepts it (flow control).
 */
export class ProgramRun {
  readonly done: Promise<ProgramEnd>
  #process: Process | undefined
  #sandbox: Sandbox | undefined
  #ending: ProgramEnd | undefined
  #spawned!: (process: Process | undefined) => void
  /** Input waits for the process: bytes written before spawn completes are delivered, not lost. */
  #stdin: Promise<Process | undefined> = new Promise((resolve) => {
    this.#spawned = resolve
  })
  #stdinClosed = false
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(readonly options: ProgramOptions) {
    this.done = this.#run()
  }

  /** The user interacted with the program: its time budget starts again. */
  touch(): void {
    if (this.#ending || !this.#timer) return
    this.#timer.refresh()
  }

  /** Bytes for the program's stdin (already line-disciplined by the shell). */
  write(bytes: Uint8Array): void {
    if (this.#stdinClosed) return
    this.#stdin = this.#stdin.then(async (process) => {
      try {
        await process?.stdin?.write(bytes)
      } catch {
        // the program has exited or closed its stdin: input is dropped, as on a real terminal
      }
      return process
    })
  }

  /** End of input (Ctrl-D at the start of a line). */
  closeStdin(): void {
    if (this.#stdinClosed) return
    this.#stdinClosed = true
    this.#stdin = this.#stdin.then(async (process) => {
      await process?.stdin?.close().catch(() => {})
      return process
    })
  }

  /** Ctrl-C: there are no signals in WASI, so the instance is killed. */
  interrupt(): void {
    this.#stop({ kind: 'interrupted' })
  }

  #stop(end: ProgramEnd): void {
    if (this.#ending) return
    this.#ending = end
    void this.#process?.kill().catch(() => {})
  }

  async #package(): Promise<Package> {
    const { wasmer, wasm } = this.options
    const name = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/.test(this.options.programName ?? '')
      ? this.options.programName!
      : 'main'
    let byName = packages.get(wasm)
    if (!byName) {
      byName = new Map()
      packages.set(wasm, byName)
    }
    let pkg = byName.get(name)
    if (!pkg) {
      pkg = wasmer.packages.create({ modules: { app: wasm }, commands: { [name]: { module: 'app' } } })
      byName.set(name, pkg)
      pkg.catch(() => byName.delete(name))
    }
    return pkg
  }

  async #run(): Promise<ProgramEnd> {
    const o = this.options
    this.#timer = setTimeout(() => this.#stop({ kind: 'timeout' }), o.timeLimitMs)
    try {
      const pkg = await this.#package()
      const files: Record<string, Uint8Array> = {}
      const dirs: string[] = []
      for (const path of o.fs.walk(o.home)) {
        const node = o.fs.stat(path)!
        const rel = path.slice(o.home.length + 1)
        if (node.kind === 'file') files[rel] = node.data
        else dirs.push(rel)
      }
      const sandbox = await o.wasmer.sandboxes.create({ packages: [pkg], files, network: { mode: 'disabled' } })
      this.#sandbox = sandbox
      // why: `files` only creates the directories files live in; empty ones (and the cwd) must exist too
      for (const dir of dirs) await sandbox.fs.mkdir(`${GUEST_HOME}/${dir}`, { recursive: true })
      if (this.#ending) return this.#ending
      const guestCwd = toGuest(o.home, o.cwd)
      const process = await sandbox
        .command(pkg, o.args, { cwd: guestCwd, env: { ...o.env, PWD: guestCwd } })
        .spawn({ stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' })
      this.#process = process
      this.#spawned(process)
      if (this.#ending) void process.kill().catch(() => {})
      let open = true
      const pump = async (stream: AsyncIterable<Uint8Array> | null) => {
        if (!stream) return
        for await (const chunk of stream) {
          if (!open) break
          await o.output(chunk)
        }
      }
      const pumps = Promise.all([pump(process.stdout), pump(process.stderr)]).catch(() => {})
      const result = await process.wait()
      // why: after kill() the SDK never ends the output streams; after a normal exit they end once
      // drained. Bound the wait so a killed or stuck stream cannot hold the shell.
      if (!this.#ending) await Promise.race([pumps, new Promise((r) => setTimeout(r, 2000).unref?.())])
      open = false
      await this.#syncBack(sandbox)
      if (this.#ending) return this.#ending
      return { kind: 'exited', code: result.exitCode }
    } catch (error) {
      if (this.#ending) return this.#ending
      return { kind: 'failed', message: error instanceof Error ? error.message : String(error) }
    } finally {
      this.#spawned(undefined)
      clearTimeout(this.#timer)
      void this.#sandbox?.close().catch(() => {})
    }
  }

  /** Mirrors the sandbox's /workspace back into the session's MemFs. */
  async #syncBack(sandbox: Sandbox): Promise<void> {
    const o = this.options
    const seen = new Set<string>()
    const visit = async (guestDir: string, dir: string) => {
      for (const entry of await sandbox.fs.readDir(guestDir)) {
        const path = `${dir}/${entry.name}`
        const guest = `${guestDir}/${entry.name}`
        seen.add(path)
        if (entry.kind === 'directory') {
          if (!o.fs.isDir(path)) o.fs.mkdirp(path)
          await visit(guest, path)
          continue
        }
        const old = o.fs.stat(path)
        if (old?.kind === 'file' && old.data.length === entry.size) {
          const data = await sandbox.fs.readFile(guest)
          if (equalBytes(old.data, data)) continue
          o.fs.writeFile(path, data)
        } else {
          if (old?.kind === 'dir') o.fs.remove(path, true)
          o.fs.writeFile(path, await sandbox.fs.readFile(guest))
        }
      }
    }
    await visit(GUEST_HOME, o.home)
    for (const path of o.fs.walk(o.home).reverse()) {
      if (!seen.has(path) && o.fs.stat(path)) o.fs.remove(path, true)
    }
  }
}
