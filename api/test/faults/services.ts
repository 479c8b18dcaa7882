import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO_ROOT } from '../../src/config.ts'

/**
 * Real dependencies the fault suite can stop and start (docs/faults.md): a PostgreSQL cluster of its
 * own (initdb/pg_ctl), a Redis server of its own, and s3rver, each on a side port. No mocks: a fault
 * is the real process going away.
 */

const listenable = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })

/**
 * A free TCP port on loopback, below the kernel's ephemeral range: these suites stop a server and
 * start it again on the same port, and a port from the ephemeral range can be taken meanwhile as
 * the local end of any outgoing connection on the machine (PostgreSQL then fails to bind).
 */
export async function freePort(): Promise<number> {
  const range = await Bun.file('/proc/sys/net/ipv4/ip_local_port_range')
    .text()
    .catch(() => '32768 60999')
  const low = Number(range.trim().split(/\s+/)[0]) || 32768
  if (low > 12_000) {
    for (let i = 0; i < 50; i++) {
      const port = 10_000 + Math.floor(Math.random() * (low - 10_000))
      if (await listenable(port)) return port
    }
  }
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

function pgBin(): string {
  const root = '/usr/lib/postgresql'
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin/initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : []
  if (versions.length === 0) {
    throw new Error('the fault suite needs PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin')
  }
  return join(root, versions[0]!, 'bin')
}

/** initdb refuses root: run the server binaries as `postgres` when we are root. */
function asPostgres(cmd: string[]): string[] {
  return process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', ...cmd] : cmd
}

async function run(cmd: string[], what: string): Promise<void> {
  const proc = Bun.spawn(cmd, { stdout: 'pipe', stderr: 'pipe' })
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  if (code !== 0) throw new Error(`${what} failed (${code}): ${err || out}`)
}

export interface PgCluster extends AsyncDisposable {
  port: number
  url: string
  /** `pg_ctl -m immediate stop`: every connection is cut, as in a crash. */
  kill(): Promise<void>
  start(): Promise<void>
}

/** A PostgreSQL cluster of its own on a side port, with a `shellfolio` database. */
export async function startPgCluster(): Promise<PgCluster> {
  const bin = pgBin()
  const dir = mkdtempSync(join(tmpdir(), 'sf-faults-pg-'))
  if (process.getuid?.() === 0) {
    // initdb refuses root: the cluster belongs to the `postgres` user.
    const id = (flag: string) => Number(Bun.spawnSync(['id', flag, 'postgres']).stdout.toString().trim())
    const [uid, gid] = [id('-u'), id('-g')]
    if (!uid) throw new Error('the fault suite runs PostgreSQL as the `postgres` user when run as root; create it')
    chownSync(dir, uid, gid)
  }
  const port = await freePort()
  const data = join(dir, 'data')
  await run(asPostgres([join(bin, 'initdb'), '-D', data, '-A', 'trust', '-U', 'root', '--no-sync']), 'initdb')
  const ctl = (...args: string[]) =>
    runWithLog(
      asPostgres([
        join(bin, 'pg_ctl'),
        '-D',
        data,
        '-l',
        join(dir, 'log'),
        '-o',
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60`,
        ...args,
      ]),
      `pg_ctl ${args.join(' ')}`,
    )
  // pg_ctl only says "examine the log output": a failure carries the server log's last lines.
  const runWithLog = (cmd: string[], what: string) =>
    run(cmd, what).catch(async (err: Error) => {
      const log = await Bun.file(join(dir, 'log'))
        .text()
        .catch(() => '')
      throw new Error(`${err.message}\nserver log:\n${log.split('\n').slice(-15).join('\n')}`)
    })
  await ctl('-w', 'start')
  await run(
    ['psql', `postgres://root@127.0.0.1:${port}/postgres`, '-qc', 'create database shellfolio'],
    'create database',
  )
  let running = true
  return {
    port,
    url: `postgres://root@127.0.0.1:${port}/shellfolio`,
    async kill() {
      await ctl('-m', 'immediate', '-w', 'stop')
      running = false
    },
    async start() {
      await ctl('-w', 'start')
      running = true
    },
    async [Symbol.asyncDispose]() {
      if (running) await ctl('-m', 'immediate', '-w', 'stop').catch(() => {})
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface RedisServer extends AsyncDisposable {
  port: number
  url: string
  /** SIGKILL: the data is gone (started with `--save ''`), like a restart without persistence. */
  kill(): Promise<void>
  start(): Promise<void>
}

/** `redis-server --port <p> --save ''` of its own. */
export async function startRedisServer(): Promise<RedisServer> {
  if (!Bun.which('redis-server')) throw new Error('the fault suite needs redis-server on PATH')
  const port = await freePort()
  let proc: ReturnType<typeof Bun.spawn> | undefined
  const start = async () => {
    proc = Bun.spawn(
      ['redis-server', '--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'],
      {
        stdout: 'ignore',
        stderr: 'ignore',
      },
    )
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline) {
      const ping = Bun.spawnSync(['redis-cli', '-p', String(port), 'ping'])
      if (ping.stdout.toString().trim() === 'PONG') return
      await Bun.sleep(50)
    }
    throw new Error(`redis-server on ${port} did not answer`)
  }
  await start()
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      proc?.kill(9)
      await proc?.exited
      proc = undefined
    },
    start,
    async [Symbol.asyncDispose]() {
      proc?.kill(9)
      await proc?.exited
    },
  }
}

export interface S3Server extends AsyncDisposable {
  port: number
  endpoint: string
  bucket: string
  stop(): Promise<void>
  start(): Promise<void>
  /** Objects stored under `prefix` (read from s3rver's folder). */
  objects(): string[]
}

/** s3rver (npm, runs under Bun) with its own folder, restartable on the same port. */
export async function startS3Server(): Promise<S3Server> {
  const dir = mkdtempSync(join(tmpdir(), 'sf-faults-s3-'))
  const { default: S3rver } = (await import(Bun.resolveSync('s3rver', join(REPO_ROOT, 'api')))) as {
    default: new (options: object) => { run(): Promise<{ port: number }>; close(): Promise<void> }
  }
  const bucket = 'shellfolio-faults'
  const port = await freePort()
  let server: { close(): Promise<void> } | undefined
  const start = async () => {
    const s = new S3rver({
      address: '127.0.0.1',
      port,
      silent: true,
      directory: dir,
      configureBuckets: [{ name: bucket }],
    })
    await s.run()
    server = s
  }
  await start()
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    async stop() {
      // why closeAllConnections: `close()` stops listening at once but resolves only when the API's
      // kept-alive S3 connections end, which both hangs the stop and keeps serving them: a real
      // outage drops every connection.
      const http = (server as { httpServer?: { closeAllConnections?: () => void } } | undefined)?.httpServer
      const closing = server?.close()
      http?.closeAllConnections?.()
      await Promise.race([closing, Bun.sleep(5000)])
      server = undefined
    },
    start,
    objects() {
      const root = join(dir, bucket)
      const out: string[] = []
      const walk = (d: string, rel: string) => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
          if (e.isDirectory()) walk(join(d, e.name), rel ? `${rel}/${e.name}` : e.name)
          else if (e.name.endsWith('._S3rver_object')) out.push(rel ? `${rel}/${e.name}` : e.name)
        }
      }
      if (existsSync(root)) walk(root, '')
      return out
    },
    async [Symbol.asyncDispose]() {
      await server?.close().catch(() => {})
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface ApiProcess extends AsyncDisposable {
  url: string
  /** The API's process id (`bun run` runs the file in this process). */
  pid: number
  /** Log lines (pino JSON on stdout) and start-up steps (stderr) so far. */
  logs(): string
  fetch(path: string, init?: RequestInit & { json?: unknown; ip?: string; token?: string }): Promise<Response>
  stop(): Promise<void>
}

/**
 * `bun run api/src/index.ts` on port 0 with `env`, keeping its logs (the suite counts outage lines).
 * A `DATA_DIR` in `env` is used and kept; otherwise a temporary one is made and removed on stop.
 */
export async function startApi(env: Record<string, string>): Promise<ApiProcess> {
  const ownDataDir = !env.DATA_DIR
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'sf-faults-api-'))
  const proc = Bun.spawn(['bun', 'run', join(REPO_ROOT, 'api/src/index.ts')], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      ...env,
    },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  let out = ''
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder()
    const reader = stream.getReader()
    for (let r = await reader.read(); !r.done; r = await reader.read()) out += decoder.decode(r.value, { stream: true })
  }
  void drain(proc.stdout as ReadableStream<Uint8Array>)
  void drain(proc.stderr as ReadableStream<Uint8Array>)
  // why: a loaded machine (other suites sharing two cores) has taken over 90 s to open PGlite
  const deadline = Date.now() + 180_000
  let url: string | undefined
  while (!url) {
    url = /Shellfolio is running at (http:\/\/\S+)/.exec(out)?.[1]
    if (url) break
    if (proc.exitCode !== null) {
      if (ownDataDir) rmSync(dataDir, { recursive: true, force: true })
      throw new Error(`the API exited with ${proc.exitCode}:\n${out.slice(-3000)}`)
    }
    if (Date.now() > deadline) {
      // Nothing left behind: the process and the data folder it was given.
      proc.kill('SIGKILL')
      await proc.exited
      if (ownDataDir) rmSync(dataDir, { recursive: true, force: true })
      throw new Error(`the API did not start:\n${out.slice(-3000)}`)
    }
    await Bun.sleep(50)
  }
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM')
    await proc.exited
    if (ownDataDir) rmSync(dataDir, { recursive: true, force: true })
  }
  return {
    url,
    pid: proc.pid,
    logs: () => out,
    fetch(path, init = {}) {
      const { json, ip, token, ...rest } = init
      const headers = new Headers(rest.headers)
      if (json !== undefined) headers.set('content-type', 'application/json')
      if (ip) headers.set('x-forwarded-for', ip)
      if (token) headers.set('authorization', `Bearer ${token}`)
      return fetch(`${url}${path}`, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body })
    },
    stop,
    [Symbol.asyncDispose]: stop,
  }
}

/** Signs `admin` in on `api` (from a fresh address: the sign-in throttle is per IP) and returns the access token. */
export async function signIn(api: ApiProcess, admin: { email: string; password: string }, ip: string): Promise<string> {
  const res = await api.fetch('/api/v1/auth/token', { method: 'POST', json: admin, ip })
  if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { data: { accessToken: string } }).data.accessToken
}

/** Publishes the post a fault test's readers ask for during the outage; returns its id and slug. */
export async function publishReadPost(
  api: ApiProcess,
  token: string,
  slug: string,
  ip: string,
): Promise<{ id: string; slug: string }> {
  const post = await api.fetch('/api/v1/posts', {
    method: 'POST',
    token,
    ip,
    json: { slug, title: 'Read', markdown: 'hello', status: 'published' },
  })
  if (post.status !== 201) throw new Error(`the read post could not be published: ${post.status} ${await post.text()}`)
  return { id: ((await post.json()) as { data: { id: string } }).data.id, slug }
}
