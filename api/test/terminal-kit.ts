/**
 * Test helpers for the terminal module: a fake Runner (legitimate for unit-testing the session
 * manager: it honours pause/resume so flow control is observable), a running app on port 0, and a
 * WebSocket client that waits on messages with deadlines instead of sleeping.
 */
import type {
  ExitInfo,
  ExitReason,
  OpenOptions,
  Runner,
  RunnerKind,
  RunnerSession,
  TerminalSize,
} from '@shellfolio/runner'
import { RunnerError } from '@shellfolio/runner'
import {
  createRedisRegistration,
  createRemotePool,
  createRunnerServer,
  type RunnerServer,
} from '@shellfolio/runner/remote'
import { createApp } from '../src/app.ts'
import { ensureAdmin } from '../src/bootstrap.ts'
import { projects } from '../src/db/schema/index.ts'
import { createLogger } from '../src/logger.ts'
import { createFilesystemStorage, type MediaStorage } from '../src/media/storage.ts'
import type { FlowLimits } from '../src/terminal/flow.ts'
import { SessionManager } from '../src/terminal/manager.ts'
import { type RunnerRegistry, runnerRegistryOf } from '../src/terminal/runners.ts'
import { type Backend, req, testConfig } from './harness.ts'

const encoder = new TextEncoder()

/** A fake session: prints `$ `, echoes input, `flood` streams output while not paused, `exit N` ends. */
export class FakeSession implements RunnerSession {
  readonly id = crypto.randomUUID()
  private listeners = new Set<(chunk: Uint8Array) => void>()
  paused = false
  /** Bytes produced by the fake program (what a real one would have written to its pty). */
  produced = 0
  flooding = false
  resizes: TerminalSize[] = []
  /** Input bytes written to the session (what reached the "program"). */
  received = 0
  /** Ctrl-C bytes that reached the "program". */
  interrupts = 0
  /** While true, `write` refuses input like a runner whose input budget is full. */
  refuseInput = false
  private line = ''
  private done = false
  private resolveExit!: (info: ExitInfo) => void
  readonly exited: Promise<ExitInfo>

  constructor(
    readonly kind: RunnerKind,
    readonly options: OpenOptions,
  ) {
    this.exited = new Promise((resolve) => {
      this.resolveExit = resolve
    })
    queueMicrotask(() => this.emit('$ '))
  }

  write(data: Uint8Array | string): boolean {
    if (this.done) return true
    if (this.refuseInput) return false
    this.received += typeof data === 'string' ? data.length : data.length
    const text = typeof data === 'string' ? data : new TextDecoder().decode(data)
    this.interrupts += text.split('\x03').length - 1
    // The echo of a run of plain characters goes out as one chunk (a big paste is one write).
    let echo = ''
    for (const ch of text) {
      if (ch === '\r' || ch === '\n') {
        const line = this.line.trim()
        this.line = ''
        this.emit(`${echo}\r\n`)
        echo = ''
        this.run(line)
      } else {
        this.line += ch
        echo += ch
      }
    }
    if (echo) this.emit(echo)
    return true
  }

  private run(line: string): void {
    if (line === 'flood') {
      this.flooding = true
      this.pump()
      return
    }
    const exit = /^exit(?: (\d+))?$/.exec(line)
    if (exit) {
      this.finish({ code: Number(exit[1] ?? 0), reason: 'exit' })
      return
    }
    if (line.startsWith('print ')) this.emit(`${line.slice(6)}\r\n`)
    this.emit('$ ')
  }

  /** Streams 64 KiB chunks on the macrotask queue until paused or ended, like a pty reader. */
  private pump(): void {
    if (this.done || this.paused || !this.flooding) return
    const chunk = encoder.encode(`${'y\r\n'.repeat(21845)}y\r`)
    this.produced += chunk.length
    for (const l of this.listeners) l(chunk)
    setImmediate(() => this.pump())
  }

  /** Output before the first listener is kept and delivered to it (as the real runners do). */
  private unheard: Uint8Array[] = []

  private emit(text: string): void {
    const chunk = encoder.encode(text)
    this.produced += chunk.length
    if (this.listeners.size === 0) this.unheard.push(chunk)
    for (const l of this.listeners) l(chunk)
  }

  async resize(size: TerminalSize): Promise<void> {
    this.resizes.push(size)
  }

  /** The fake has no workspace: file routes are tested on the real runners (api/src/terminal/files.test.ts). */
  async putFiles(): Promise<never> {
    throw new RunnerError('FILES_FAILED', 'the fake runner has no workspace')
  }

  async getFile(): Promise<never> {
    throw new RunnerError('FILES_FAILED', 'the fake runner has no workspace')
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    this.listeners.add(listener)
    for (const chunk of this.unheard.splice(0)) listener(chunk)
    return () => this.listeners.delete(listener)
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    if (!this.paused) return
    this.paused = false
    if (this.flooding) setImmediate(() => this.pump())
  }

  async kill(reason: ExitReason = 'killed'): Promise<void> {
    this.finish({ code: null, reason })
  }

  private finish(info: ExitInfo): void {
    if (this.done) return
    this.done = true
    this.flooding = false
    queueMicrotask(() => this.resolveExit(info))
  }
}

export class FakeRunner implements Runner {
  readonly sessions: FakeSession[] = []
  up = true
  constructor(readonly kind: RunnerKind = 'wasi') {}
  /** Like DockerRunner.resume: sessions outlive their opener, so another instance may adopt them. */
  async resume(id: string) {
    const s = this.sessions.find((x) => x.id === id)
    if (!s) throw new Error('no such session')
    return s
  }
  async available() {
    return this.up
  }
  async open(options: OpenOptions) {
    const s = new FakeSession(this.kind, options)
    this.sessions.push(s)
    return s
  }
  async close() {
    await Promise.all(this.sessions.map((s) => s.kill()))
  }
}

/** The fake WASI session the server opened last (its runner runs in this process). */
export const lastFakeSession = (server: TerminalServer): FakeSession =>
  (server.backing('wasi') as FakeRunner).sessions.at(-1) as FakeSession

export interface TerminalServer extends AsyncDisposable {
  url: string
  ws: string
  port: number
  manager: SessionManager
  runners: RunnerRegistry
  placement: Placement
  /** The runner that actually runs sessions of `kind` (behind the runner service when remote). */
  backing(kind: RunnerKind): Runner | undefined
  /** The runner service (remote placement only). */
  service: RunnerServer | undefined
  storage: MediaStorage
  /** POST /api/v1/terminal/sessions with JSON. */
  create(body: unknown, headers?: Record<string, string>): Promise<Response>
  /** A bearer token of the bootstrap admin. */
  adminToken(): Promise<string>
}

/**
 * Where runners run (docs/runners.md): in the API process, or behind a runner service the API reaches
 * over the internal WebSocket (RUNNER_URLS). Terminal suites run against both.
 */
export type Placement = 'in-process' | 'remote'
export const PLACEMENTS: Placement[] = ['in-process', 'remote']
const SERVICE_TOKEN = `terminal-test-runner-token-${crypto.randomUUID()}`

export interface ServerOptions {
  env?: Record<string, string>
  runners?: Runner[] | RunnerRegistry
  /** Default in-process; `remote` puts `runners` behind a runner service (or `service`, shared). */
  placement?: Placement
  /** An existing runner service to use (several API instances sharing one, remote placement). */
  service?: RunnerServer
  flow?: Partial<FlowLimits>
  /** Another "instance" sharing the backend (its own manager and app). */
  cache?: Backend['cache']
}

const projectsSeeded = new WeakSet<Backend>()
let sharedLogger: ReturnType<typeof createLogger> | undefined

/** Inserts the test projects once per backend: `demo` (fake-run) and the real `calc` and `selftest`. */
export async function seedProjects(backend: Backend): Promise<void> {
  if (projectsSeeded.has(backend)) return
  projectsSeeded.add(backend)
  const policy = { allow: ['ls', 'cd', 'cat', 'pwd', 'echo', 'clear', 'help', 'make', './*', 'exit', 'stty'] }
  await backend.database.db
    .insert(projects)
    .values([
      { slug: 'demo', title: 'Demo', sourcePath: 'calc', policy, runners: ['wasi', 'docker'] },
      { slug: 'calc', title: 'calc', sourcePath: 'calc', policy, runners: ['wasi', 'docker'] },
      { slug: 'wasi-only', title: 'WASI only', sourcePath: 'calc', policy, runners: ['wasi'] },
    ])
    .onConflictDoNothing()
}

/** Starts the whole app on port 0 with a terminal manager over the given runners. */
export async function startServer(backend: Backend, options: ServerOptions = {}): Promise<TerminalServer> {
  await seedProjects(backend)
  const password = 'terminal-admin-password-1'
  const config = testConfig({ ADMIN_PASSWORD: password, ...options.env })
  sharedLogger ??= createLogger(config.logLevel)
  const logger = sharedLogger
  const cache = options.cache ?? backend.cache
  const placement = options.placement ?? 'in-process'
  const backingRunners = Array.isArray(options.runners)
    ? options.runners
    : options.runners === undefined
      ? [new FakeRunner('wasi'), new FakeRunner('docker')]
      : []
  let service: RunnerServer | undefined
  let runners: RunnerRegistry
  if (!Array.isArray(options.runners) && options.runners !== undefined) runners = options.runners
  else if (placement === 'remote') {
    service =
      options.service ??
      createRunnerServer({
        runners: backingRunners,
        token: SERVICE_TOKEN,
        port: 0,
        ownsRunners: options.runners === undefined,
        ...(cache.redis ? { registration: createRedisRegistration(cache.redis) } : {}),
      })
    const pool = createRemotePool({
      urls: [service.url],
      token: SERVICE_TOKEN,
      ...(cache.redis ? { redis: cache.redis } : {}),
    })
    runners = runnerRegistryOf(
      backingRunners.map((r) => pool.runner(r.kind)),
      {},
    )
  } else runners = runnerRegistryOf(backingRunners)
  await runners.refresh()
  const storage = createFilesystemStorage(`${config.dataDir}/media`)
  const manager = new SessionManager({
    config: config.terminal,
    runners,
    cache,
    db: backend.database.db,
    storage,
    logger,
    ...(options.flow ? { flow: options.flow } : {}),
  })
  // The generic per-IP write budget (60/min, api/src/rate-limit) is tested elsewhere; here every
  // session comes from 127.0.0.1 and the terminal's own caps are under test.
  const app = createApp({
    config,
    logger,
    database: backend.database,
    cache,
    runners,
    terminal: manager,
    rateLimits: [],
  })
  app.listen({ hostname: '127.0.0.1', port: 0 })
  const port = app.server?.port as number
  const url = `http://127.0.0.1:${port}`
  let token: string | undefined
  return {
    url,
    port,
    ws: `ws://127.0.0.1:${port}/api/v1/terminal/ws`,
    manager,
    runners,
    placement,
    service,
    backing: (kind) => backingRunners.find((r) => r.kind === kind),
    storage,
    create: (body, headers = {}) =>
      fetch(`${url}/api/v1/terminal/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      }),
    async adminToken() {
      if (token) return token
      await ensureAdmin(backend.database.db, config)
      const res = await app.handle(
        req('/api/v1/auth/token', { method: 'POST', json: { email: config.adminEmail, password } }),
      )
      const body = (await res.json()) as { data: { accessToken: string } }
      token = body.data.accessToken
      return token
    },
    async [Symbol.asyncDispose]() {
      await manager.close()
      await app.stop(true)
      if (placement === 'remote') await runners.close()
      if (service && !options.service) await service.close()
      if (options.runners === undefined) await Promise.all(backingRunners.map((r) => r.close()))
    },
  }
}

/** Acknowledge output in batches of this many bytes (well under the server's low watermark). */
const ACK_BATCH = 64 * 1024

export type Control = { type: string; [k: string]: unknown }

/** A protocol client: collects binary output and control messages; every wait has a deadline. */
export class TermClient implements Disposable {
  readonly ws: WebSocket
  readonly controls: Control[] = []
  readonly chunks: Uint8Array[] = []
  bytes = 0
  text = ''
  closed: { code: number; reason: string } | undefined
  private unackedBytes = 0
  private readonly decoder = new TextDecoder()
  private waiters = new Set<() => void>()
  readonly opened: Promise<void>

  constructor(
    url: string,
    init: { origin?: string; autoAck?: boolean; maxText?: number; headers?: Record<string, string> } = {},
  ) {
    // Bun's WebSocket accepts headers (used to send an Origin like a browser would).
    const headers = { ...init.headers, ...(init.origin ? { origin: init.origin } : {}) }
    this.ws = new WebSocket(url, Object.keys(headers).length > 0 ? ({ headers } as unknown as string[]) : undefined)
    this.ws.binaryType = 'arraybuffer'
    this.opened = new Promise((resolve) => this.ws.addEventListener('open', () => resolve(), { once: true }))
    this.ws.addEventListener('message', (ev) => {
      if (typeof ev.data === 'string') this.controls.push(JSON.parse(ev.data) as Control)
      else {
        const chunk = new Uint8Array(ev.data as ArrayBuffer)
        this.chunks.push(chunk)
        this.bytes += chunk.length
        this.text += this.decoder.decode(chunk, { stream: true })
        // Long floods: keep only the tail so matching stays cheap.
        if (init.maxText && this.text.length > init.maxText * 2) this.text = this.text.slice(-init.maxText)
        if (init.autoAck) {
          // Like the web client: acknowledge in batches, not per frame.
          this.unackedBytes += chunk.length
          if (this.unackedBytes >= ACK_BATCH) {
            this.ack(this.unackedBytes)
            this.unackedBytes = 0
          }
        }
      }
      this.wake()
    })
    this.ws.addEventListener('close', (ev) => {
      this.closed = { code: ev.code, reason: ev.reason }
      this.wake()
    })
  }

  private wake() {
    for (const w of this.waiters) w()
  }

  /** Resolves when `predicate` holds; rejects with what was seen after `ms`. */
  until<T>(predicate: () => T | undefined | false, ms = 5000, what = 'condition'): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const v = predicate()
        if (v) {
          clearTimeout(timer)
          clearInterval(poll)
          this.waiters.delete(check)
          resolve(v)
        }
      }
      // Predicates may read server state that changes without a message (e.g. a runner pausing).
      const poll = setInterval(check, 20)
      const timer = setTimeout(() => {
        clearInterval(poll)
        this.waiters.delete(check)
        reject(
          new Error(
            `timed out waiting for ${what}; controls=${JSON.stringify(this.controls)} closed=${JSON.stringify(this.closed)} text=${JSON.stringify(this.text.slice(-300))}`,
          ),
        )
      }, ms)
      this.waiters.add(check)
      check()
    })
  }

  control(type: string, ms?: number): Promise<Control> {
    return this.until(() => this.controls.find((c) => c.type === type), ms, `a ${type} message`)
  }

  output(pattern: string | RegExp, ms?: number): Promise<true> {
    return this.until(
      () => (typeof pattern === 'string' ? this.text.includes(pattern) : pattern.test(this.text)),
      ms,
      `output ${pattern}`,
    ) as Promise<true>
  }

  closedWith(ms?: number): Promise<{ code: number; reason: string }> {
    return this.until(() => this.closed, ms, 'the socket to close')
  }

  type(text: string) {
    this.ws.send(new TextEncoder().encode(text))
  }

  send(message: unknown) {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message))
  }

  ack(bytes: number) {
    if (this.ws.readyState === WebSocket.OPEN) this.send({ type: 'ack', bytes })
  }

  [Symbol.dispose]() {
    if (this.ws.readyState <= WebSocket.OPEN) this.ws.close()
  }
}

/** Creates a session over HTTP and connects to it. */
export async function connect(
  server: TerminalServer,
  body: { project: string; runner?: RunnerKind } = { project: 'demo', runner: 'wasi' },
  init: { origin?: string; autoAck?: boolean; maxText?: number; query?: string } = {},
): Promise<{ client: TermClient; sessionId: string; ticket: string }> {
  const res = await server.create(body)
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${await res.text()}`)
  const { data } = (await res.json()) as { data: { sessionId: string; ticket: string } }
  const client = new TermClient(`${server.ws}?ticket=${data.ticket}${init.query ?? ''}`, init)
  return { client, sessionId: data.sessionId, ticket: data.ticket }
}
