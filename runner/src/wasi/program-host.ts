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
 * child → parent `ready`, `out`, `exit`, `error`. Output is credit-based: at most HOST_WINDOW
 * unacknowledged bytes, so a paused terminal stalls the program instead of growing memory.
 */
import { type Package, type Process, Wasmer } from '@wasmer/sdk/node'

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
    }
  | { type: 'stdin'; bytes: Uint8Array }
  | { type: 'stdin-close' }
  | { type: 'ack'; bytes: number }

export type HostReply =
  | { type: 'ready' }
  | { type: 'out'; bytes: Uint8Array }
  | { type: 'exit'; code: number; files: Record<string, Uint8Array>; dirs: string[] }
  | { type: 'error'; message: string }

const GUEST_HOME = '/workspace'

async function main(): Promise<void> {
  const send = (reply: HostReply) => process.send?.(reply)
  const wasmer = new Wasmer({ cache: false })
  await wasmer.ready()
  const packages = new Map<string, Promise<Package>>()
  let current: Process | undefined
  let stdin: Promise<void> = Promise.resolve()
  let unacked = 0
  let creditWaiters: (() => void)[] = []
  let pendingInput: HostRequest[] = []

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
      const pump = async (stream: AsyncIterable<Uint8Array> | null) => {
        if (!stream) return
        for await (const chunk of stream) {
          send({ type: 'out', bytes: chunk })
          unacked += chunk.length
          while (unacked > HOST_WINDOW) await new Promise<void>((r) => creditWaiters.push(r))
        }
      }
      const pumps = Promise.all([pump(proc.stdout), pump(proc.stderr)])
      const result = await proc.wait()
      await pumps
      current = undefined
      // the workspace after the run: every file and directory under /workspace
      const files: Record<string, Uint8Array> = {}
      const dirs: string[] = []
      const walk = async (dir: string, rel: string) => {
        for (const e of await sandbox.fs.readDir(dir)) {
          const r = rel ? `${rel}/${e.name}` : e.name
          if (e.kind === 'directory') {
            dirs.push(r)
            await walk(`${dir}/${e.name}`, r)
          } else files[r] = await sandbox.fs.readFile(`${dir}/${e.name}`)
        }
      }
      await walk(GUEST_HOME, '')
      send({ type: 'exit', code: result.exitCode, files, dirs })
    } finally {
      current = undefined
      await sandbox.close().catch(() => {})
    }
  }

  const handleInput = (req: HostRequest) => {
    const proc = current
    if (!proc) {
      pendingInput.push(req)
      return
    }
    if (req.type === 'stdin') stdin = stdin.then(() => proc.stdin?.write(req.bytes)).catch(() => {})
    else if (req.type === 'stdin-close') stdin = stdin.then(() => proc.stdin?.close()).catch(() => {})
  }

  process.on('message', (req: HostRequest) => {
    if (req.type === 'run') {
      unacked = 0
      stdin = Promise.resolve()
      run(req).catch((error) =>
        send({ type: 'error', message: error instanceof Error ? error.message : String(error) }),
      )
    } else if (req.type === 'ack') {
      unacked -= req.bytes
      if (unacked <= HOST_WINDOW) {
        const waiters = creditWaiters
        creditWaiters = []
        for (const w of waiters) w()
      }
    } else handleInput(req)
  })
  // the parent went away: nothing left to serve
  process.on('disconnect', () => process.exit(0))
  send({ type: 'ready' })
}

if (import.meta.main) await main()
