import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO_ROOT } from '../config.ts'

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

const READY = /Shellfolio is running at (http:\/\/\S+)/

export async function startInstance(
  name: string,
  env: Record<string, string>,
  options: { timeoutMs?: number } = {},
): Promise<Instance> {
  const dataDir = mkdtempSync(join(tmpdir(), `sf-${name}-`))
  const proc = Bun.spawn(['bun', 'run', join(REPO_ROOT, 'api/src/index.ts')], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'pipe',
  })
  let err = ''
  let resolveUrl: (url: string) => void = () => {}
  const urlReady = new Promise<string>((resolve) => {
    resolveUrl = resolve
  })
  void (async () => {
    const decoder = new TextDecoder()
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) {
      err += decoder.decode(chunk, { stream: true })
      const m = READY.exec(err)
      if (m) resolveUrl(m[1]!)
    }
  })()
  const timeoutMs = options.timeoutMs ?? 60_000
  let timer: Timer | undefined
  const url = await Promise.race([
    urlReady,
    proc.exited.then((code) => {
      throw new Error(`instance ${name} exited with ${code} before listening:\n${err.slice(-2000)}`)
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`instance ${name} did not listen within ${timeoutMs} ms:\n${err.slice(-2000)}`)),
        timeoutMs,
      )
    }),
  ]).finally(() => clearTimeout(timer))
  const cleanup = () => rmSync(dataDir, { recursive: true, force: true })
  return {
    name,
    url,
    port: Number(new URL(url).port),
    pid: proc.pid,
    stderr: () => err,
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

/** A terminal WebSocket client speaking DESIGN.md §6: binary frames are terminal bytes, text is JSON control. */
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

  static open(url: string): Promise<TerminalClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url)
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
  sees(text: string, timeoutMs?: number): Promise<true> {
    return this.until(
      `output containing ${JSON.stringify(text)}`,
      () => this.output.includes(text) || undefined,
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
