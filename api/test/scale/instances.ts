import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO_ROOT } from '../../src/config.ts'
import { openDatabase } from '../../src/db/index.ts'
import { projects } from '../../src/db/schema/index.ts'

/**
 * Real API processes for the scale-out test and the load test: `bun run api/src/index.ts` on port 0
 * (the process prints the address it got), each with its own DATA_DIR, sharing whatever the caller
 * puts in `env` (DATABASE_URL, REDIS_URL + REDIS_PREFIX, JWT_SECRET...).
 */
export interface Instance {
  name: string
  url: string
  port: number
  pid: number
  /** Everything the process wrote to stderr (start-up steps, errors), for failure messages. */
  stderr: () => string
  /** kill -9: no shutdown hook runs, as when a machine dies. */
  crash(): Promise<void>
  /** SIGTERM and wait (graceful shutdown). */
  stop(): Promise<void>
  /** Resident set size in bytes, from /proc (Linux). */
  rss(): number
  fetch(path: string, init?: RequestInit & { json?: unknown; ip?: string; token?: string }): Promise<Response>
}

/** The `calc` project (both runners) in a database the instances migrated: what terminal tests open. */
export async function seedCalcProject(databaseUrl: string): Promise<void> {
  const database = await openDatabase({ url: databaseUrl, max: 1 })
  const policy = { allow: ['ls', 'cd', 'cat', 'pwd', 'echo', 'clear', 'help', 'make', './*', 'exit', 'stty'] }
  await database.db
    .insert(projects)
    .values([{ slug: 'calc', title: 'calc', sourcePath: 'calc', policy, runners: ['wasi', 'docker'] }])
    .onConflictDoNothing()
  await database.close()
}

/**
 * What the API processes of one multi-process suite share: database, Redis namespace, JWT secret
 * and bootstrap admin, both back ends, a long resume grace; `extra` adds or overrides.
 */
export function clusterEnv(
  shared: { databaseUrl: string; redisUrl: string; prefix: string; admin: { email: string; password: string } },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    APP_ENV: 'test',
    DATABASE_URL: shared.databaseUrl,
    REDIS_URL: shared.redisUrl,
    REDIS_PREFIX: shared.prefix,
    JWT_SECRET: randomBytes(48).toString('base64url'),
    ADMIN_EMAIL: shared.admin.email,
    ADMIN_PASSWORD: shared.admin.password,
    TRUST_PROXY_HOPS: '1',
    RUNNERS: 'wasi,docker',
    TERMINAL_GRACE_MS: '120000',
    // why: `make test` runs the Docker suites once per sandbox runtime (runc, runsc)
    ...(process.env.SANDBOX_RUNTIME ? { SANDBOX_RUNTIME: process.env.SANDBOX_RUNTIME } : {}),
    ...extra,
  }
}

const READY = /Shellfolio is running at (http:\/\/\S+)/

interface Spawned {
  proc: ReturnType<typeof Bun.spawn>
  /** The first capture group of `ready` once it appeared on stderr. */
  ready: string
  stderr: () => string
}

/** Spawns `cmd` and waits until its stderr matches `ready` (or it exits, or the deadline passes). */
async function spawnService(
  name: string,
  cmd: string[],
  env: Record<string, string>,
  ready: RegExp,
  timeoutMs: number,
): Promise<Spawned> {
  const proc = Bun.spawn(cmd, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'pipe',
  })
  let err = ''
  let resolveReady: (value: string) => void = () => {}
  const readyPromise = new Promise<string>((resolve) => {
    resolveReady = resolve
  })
  void (async () => {
    const decoder = new TextDecoder()
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) {
      err += decoder.decode(chunk, { stream: true })
      const m = ready.exec(err)
      if (m) resolveReady(m[1] ?? m[0])
    }
  })()
  let timer: Timer | undefined
  const value = await Promise.race([
    readyPromise,
    proc.exited.then((code) => {
      throw new Error(`${name} exited with ${code} before it was ready:\n${err.slice(-2000)}`)
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${name} was not ready within ${timeoutMs} ms:\n${err.slice(-2000)}`)),
        timeoutMs,
      )
    }),
  ]).finally(() => clearTimeout(timer))
  return { proc, ready: value, stderr: () => err }
}

export async function startInstance(
  name: string,
  env: Record<string, string>,
  options: { timeoutMs?: number } = {},
): Promise<Instance> {
  const dataDir = mkdtempSync(join(tmpdir(), `sf-${name}-`))
  const {
    proc,
    ready: url,
    stderr,
  } = await spawnService(
    `instance ${name}`,
    ['bun', 'run', join(REPO_ROOT, 'api/src/index.ts')],
    { HOST: '127.0.0.1', PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env },
    READY,
    options.timeoutMs ?? 60_000,
  )
  const cleanup = () => rmSync(dataDir, { recursive: true, force: true })
  return {
    name,
    url,
    port: Number(new URL(url).port),
    pid: proc.pid,
    stderr,
    async crash() {
      proc.kill(9)
      await proc.exited
      cleanup()
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM')
      await proc.exited
      cleanup()
    },
    rss() {
      try {
        const status = readFileSync(`/proc/${proc.pid}/status`, 'utf8')
        return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
      } catch {
        return 0
      }
    },
    fetch(path, init = {}) {
      const { json, ip, token, ...rest } = init
      const headers = new Headers(rest.headers)
      if (json !== undefined) headers.set('content-type', 'application/json')
      if (ip) headers.set('x-forwarded-for', ip)
      if (token) headers.set('authorization', `Bearer ${token}`)
      return fetch(`${url}${path}`, {
        ...rest,
        headers,
        body: json !== undefined ? JSON.stringify(json) : rest.body,
      })
    },
  }
}

/** A runner service process (`bun run runner`, docs/runners.md). */
export interface RunnerService {
  name: string
  url: string
  pid: number
  stderr: () => string
  /** kill -9: its sessions' sockets drop without any goodbye. */
  crash(): Promise<void>
  stop(): Promise<void>
}

/** Starts `runner/src/server.ts` with `env` (RUNNER_TOKEN, RUNNER_PORT, …) and waits until it serves. */
export async function startRunnerService(
  name: string,
  env: Record<string, string>,
  options: { timeoutMs?: number } = {},
): Promise<RunnerService> {
  const { proc, ready, stderr } = await spawnService(
    `runner service ${name}`,
    ['bun', 'run', join(REPO_ROOT, 'runner/src/server.ts')],
    { RUNNER_HOST: '127.0.0.1', ...env },
    /"msg":"serving".*?"url":"(ws:\/\/[^"]+)"/,
    options.timeoutMs ?? 60_000,
  )
  return {
    name,
    url: ready,
    pid: proc.pid,
    stderr,
    async crash() {
      proc.kill(9)
      await proc.exited
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM')
      await proc.exited
    },
  }
}

/** A terminal WebSocket client speaking docs/terminal-protocol.md: binary frames are terminal bytes, text is JSON control. */
export class TerminalClient {
  readonly messages: Record<string, unknown>[] = []
  private output = ''
  private readonly waiters = new Set<() => void>()
  private closedWith: { code: number; reason: string } | null = null

  private constructor(private readonly ws: WebSocket) {
    ws.binaryType = 'arraybuffer'
    const decoder = new TextDecoder()
    ws.addEventListener('message', (ev) => {
      if (typeof ev.data === 'string') {
        const msg = JSON.parse(ev.data) as Record<string, unknown>
        this.messages.push(msg)
      } else {
        const bytes = new Uint8Array(ev.data as ArrayBuffer)
        this.output += decoder.decode(bytes, { stream: true })
        // Flow control: acknowledge what we consumed so the server keeps sending.
        ws.send(JSON.stringify({ type: 'ack', bytes: bytes.byteLength }))
      }
      this.wake()
    })
    ws.addEventListener('close', (ev) => {
      this.closedWith = { code: ev.code, reason: ev.reason }
      this.wake()
    })
  }

  /**
   * Connects to `url`; `ip` is sent as X-Forwarded-For (as the proxy would), which must be the IP
   * the ticket was requested from: tickets are bound to it (docs/terminal-protocol.md).
   */
  static open(url: string, options: { ip?: string } = {}): Promise<TerminalClient> {
    return new Promise((resolve, reject) => {
      const ws = options.ip
        ? new WebSocket(url, { headers: { 'x-forwarded-for': options.ip } } as unknown as string[])
        : new WebSocket(url)
      const client = new TerminalClient(ws)
      ws.addEventListener('open', () => resolve(client), { once: true })
      ws.addEventListener('error', () => reject(new Error(`WebSocket to ${url} failed`)), { once: true })
    })
  }

  private wake() {
    for (const w of this.waiters) w()
  }

  /** Resolves when `predicate` holds, re-checked on every frame; rejects on close or timeout. */
  until<T>(what: string, predicate: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const v = predicate()
        if (v) {
          done()
          resolve(v)
        } else if (this.closedWith) {
          done()
          reject(
            new Error(
              `socket closed (${this.closedWith.code} ${this.closedWith.reason}) while waiting for ${what}; messages: ${JSON.stringify(this.messages)}; output: ${JSON.stringify(this.output.slice(-500))}`,
            ),
          )
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(
          new Error(
            `timed out waiting for ${what}; messages: ${JSON.stringify(this.messages)}; output: ${JSON.stringify(this.output.slice(-500))}`,
          ),
        )
      }, timeoutMs)
      const done = () => {
        clearTimeout(timer)
        this.waiters.delete(check)
      }
      this.waiters.add(check)
      check()
    })
  }

  message(type: string, timeoutMs?: number): Promise<Record<string, unknown>> {
    return this.until(`a ${type} message`, () => this.messages.find((m) => m.type === type), timeoutMs)
  }

  /** Waits until the terminal output contains `text`. */
  sees(text: string | RegExp, timeoutMs?: number): Promise<true> {
    return this.until(
      `output containing ${typeof text === 'string' ? JSON.stringify(text) : text}`,
      () => (typeof text === 'string' ? this.output.includes(text) : text.test(this.output)) || undefined,
      timeoutMs,
    )
  }

  get text(): string {
    return this.output
  }

  type(input: string): void {
    this.ws.send(new TextEncoder().encode(input))
  }

  close(): void {
    this.ws.close()
  }

  get closed(): { code: number; reason: string } | null {
    return this.closedWith
  }
}

/**
 * Polls `read` until it returns what `done` accepts or the deadline passes. Used only where the
 * design is eventually consistent across processes (pub/sub invalidation), never to wait out time.
 */
export async function eventually<T>(read: () => Promise<T>, done: (v: T) => boolean, deadlineMs = 3000): Promise<T> {
  const until = performance.now() + deadlineMs
  let last = await read()
  while (!done(last) && performance.now() < until) {
    await new Promise((r) => setTimeout(r, 25))
    last = await read()
  }
  return last
}
