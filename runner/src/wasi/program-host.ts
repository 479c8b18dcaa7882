/**
 * A program host: a child Bun process that runs WASI programs with @wasmer/sdk, one at a time,
 * for the WASI runner (see program.ts).
 *
 * why a process: @wasmer/sdk 0.16's `kill()` marks a process terminated but the worker thread
 * keeps executing a tight loop (`for (;;);`), and under Bun neither the SDK nor Worker.terminate()
 * can stop running WebAssembly. Only killing the OS process frees that CPU, so every program runs
 * here and Ctrl-C or the time limit SIGKILLs the host. A host whose program exited normally is
 * reused, so the common case pays no start-up.
 *
 * Protocol (Bun IPC, structured clone): parent → child `run`, `stdin`, `stdin-close`, `ack`;
 * child → parent `ready`, `out`, `ended`, `exit`, `error`. Output is credit-based: at most HOST_WINDOW
 * unacknowledged bytes, so a paused terminal stalls the program instead of growing memory.
 */
import { type Package, type Process, Wasmer } from '@wasmer/sdk/node'
import { dieWithParent } from './proc-stats.ts'

export const HOST_WINDOW = 256 * 1024

export type HostRequest =
  | {
      type: 'run'
      wasm: Uint8Array
      name: string
      args: string[]
      cwd: string
      env: Record<string, string>
      files: Record<string, Uint8Array>
      dirs: string[]
      /** Bytes of files the run may hand back (the workspace quota); the rest are left out. */
      quota?: number
    }
  | { type: 'stdin'; bytes: Uint8Array }
  | { type: 'stdin-close' }
  | { type: 'ack'; bytes: number }

export type HostReply =
  | { type: 'ready' }
  /** Output of the program: `fd` 1 (stdout) or 2 (stderr). */
  | { type: 'out'; bytes: Uint8Array; fd: 1 | 2 }
  | {
      type: 'exit'
      code: number
      /** Files the run created or changed. */
      files: Record<string, Uint8Array>
      /** Files still there unchanged. */
      kept: string[]
      dirs: string[]
      unsaved?: number
    }
  | { type: 'error'; message: string }
  /** The program exited (its files are being collected): it reads no more input. */
  | { type: 'ended' }

const GUEST_HOME = '/workspace'

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length))
}

async function main(): Promise<void> {
  const send = (reply: HostReply) => process.send?.(reply)
  const wasmer = new Wasmer({ cache: false })
  await wasmer.ready()
  const packages = new Map<string, Promise<Package>>()
  let current: Process | undefined
  let stdin: Promise<void> = Promise.resolve()
  let unacked = 0
  let creditWaiters: (() => void)[] = []
  // why: with a message in flight, output gathers until its ack (or 64 KiB), so a flood of small
  // writes becomes few large messages while a lone prompt goes at once
  let outbox: Uint8Array[] = []
  let outboxBytes = 0
  /** The stream the outbox holds: a message carries one stream's bytes. */
  let outboxFd: 1 | 2 = 1
  const flushOut = () => {
    if (outboxBytes === 0) return
    let bytes = outbox[0]!
    if (outbox.length > 1) {
      bytes = new Uint8Array(outboxBytes)
      let at = 0
      for (const part of outbox) {
        bytes.set(part, at)
        at += part.length
      }
    }
    outbox = []
    outboxBytes = 0
    unacked += bytes.length
    send({ type: 'out', bytes, fd: outboxFd })
  }
  let pendingInput: HostRequest[] = []
  /** True from `run` to its end: input outside a run belongs to nobody and is dropped. */
  let running = false

  const run = async (job: Extract<HostRequest, { type: 'run' }>) => {
    const key = `${Bun.hash(job.wasm)}:${job.name}`
    let pkg = packages.get(key)
    if (!pkg) {
      pkg = wasmer.packages.create({ modules: { app: job.wasm }, commands: { [job.name]: { module: 'app' } } })
      packages.set(key, pkg)
    }
    const p = await pkg
    const sandbox = await wasmer.sandboxes.create({ packages: [p], files: job.files, network: { mode: 'disabled' } })
    try {
      for (const dir of job.dirs) await sandbox.fs.mkdir(`${GUEST_HOME}/${dir}`, { recursive: true })
      const proc = await sandbox
        .command(p, job.args, { cwd: job.cwd, env: { ...job.env, PWD: job.cwd } })
        .spawn({ stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' })
      current = proc
      for (const req of pendingInput) handleInput(req)
      pendingInput = []
      const pump = async (stream: AsyncIterable<Uint8Array> | null, fd: 1 | 2) => {
        if (!stream) return
        for await (const chunk of stream) {
          if (outboxFd !== fd) {
            flushOut()
            outboxFd = fd
          }
          outbox.push(chunk)
          outboxBytes += chunk.length
          if (unacked === 0 || outboxBytes >= 64 * 1024) flushOut()
          while (unacked + outboxBytes > HOST_WINDOW) await new Promise<void>((r) => creditWaiters.push(r))
        }
      }
      const pumps = Promise.all([pump(proc.stdout, 1), pump(proc.stderr, 2)])
      const result = await proc.wait()
      // the program is gone: typed input still held for it belongs to the shell now
      send({ type: 'ended' })
      await pumps
      flushOut()
      current = undefined
      // the workspace after the run: every file and directory under /workspace
      const files: Record<string, Uint8Array> = {}
      const kept: string[] = []
      const dirs: string[] = []
      // why: the originals are the yardstick for "changed"; unchanged files are named, not sent,
      // so a full workspace is not copied a third time (the host's memory budget, docs/budgets.md)
      const originals = job.files
      // the walk reads every file back: collect what the run left behind first
      Bun.gc(true)
      // why: what the program wrote goes back to the session only up to the workspace quota
      let room = job.quota ?? Number.POSITIVE_INFINITY
      let unsaved = 0
      const walk = async (dir: string, rel: string) => {
        for (const e of await sandbox.fs.readDir(dir)) {
          const r = rel ? `${rel}/${e.name}` : e.name
          if (e.kind === 'directory') {
            dirs.push(r)
            await walk(`${dir}/${e.name}`, r)
          } else {
            const data = await sandbox.fs.readFile(`${dir}/${e.name}`)
            const original = originals[r]
            if (data.length > room) unsaved++
            else if (original && sameBytes(original, data)) {
              room -= data.length
              kept.push(r)
            } else {
              room -= data.length
              files[r] = data
            }
          }
        }
      }
      await walk(GUEST_HOME, '')
      send({ type: 'exit', code: result.exitCode, files, kept, dirs, ...(unsaved > 0 ? { unsaved } : {}) })
    } finally {
      current = undefined
      running = false
      pendingInput = []
      await sandbox.close().catch(() => {})
    }
  }

  const handleInput = (req: HostRequest) => {
    const proc = current
    if (!proc) {
      // why: keys typed after a program ended must never reach the next program (issue 14 item 5)
      if (running) pendingInput.push(req)
      return
    }
    if (req.type === 'stdin') stdin = stdin.then(() => proc.stdin?.write(req.bytes)).catch(() => {})
    else if (req.type === 'stdin-close') stdin = stdin.then(() => proc.stdin?.close()).catch(() => {})
  }

  process.on('message', (req: HostRequest) => {
    if (req.type === 'run') {
      unacked = 0
      outbox = []
      outboxBytes = 0
      running = true
      pendingInput = []
      stdin = Promise.resolve()
      run(req).catch((error) =>
        send({ type: 'error', message: error instanceof Error ? error.message : String(error) }),
      )
    } else if (req.type === 'ack') {
      unacked -= req.bytes
      flushOut()
      if (unacked + outboxBytes <= HOST_WINDOW) {
        const waiters = creditWaiters
        creditWaiters = []
        for (const w of waiters) w()
      }
    } else handleInput(req)
  })
  // the parent went away: nothing left to serve
  process.on('disconnect', () => process.exit(0))
  // a program host busy in a long WebAssembly call never runs that handler: the kernel kills it
  dieWithParent()
  send({ type: 'ready' })
}

if (import.meta.main) await main()
