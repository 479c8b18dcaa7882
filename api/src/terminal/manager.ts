import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import type { CommandPolicy, ExitReason, Runner, RunnerKind, RunnerSession, TerminalSize } from '@shellfolio/runner'
import { eq } from 'drizzle-orm'
import type { Cache } from '../cache/index.ts'
import type { TerminalConfig } from '../config.ts'
import type { Db } from '../db/index.ts'
import { terminalSessions } from '../db/schema/index.ts'
import type { Logger } from '../logger.ts'
import type { MediaStorage } from '../media/storage.ts'
import { metrics } from '../metrics/index.ts'
import { ASCIICAST_CONTENT_TYPE, AsciicastRecorder } from './recording.ts'
import { createSessionRegistry, type SessionRecord, type SessionRegistry } from './registry.ts'
import type { RunnerRegistry } from './runners.ts'
import { Scrollback } from './scrollback.ts'
import type { TicketPayload } from './tickets.ts'

/** A project as the terminal needs it (resolved from the projects table by default). */
export interface TerminalProject {
  slug: string
  /** Absolute host path of the project's sources (wasm-projects/<slug>). */
  sourceDir: string
  policy: CommandPolicy
  runners: RunnerKind[]
}

/**
 * The transport a session writes to: the WebSocket adapter in index.ts, or a test double.
 * `sendBinary` returns Bun's `ws.send` result: bytes sent, -1 when queued under backpressure,
 * 0 when dropped.
 */
export interface TerminalSocket {
  sendBinary(data: Uint8Array): number
  sendText(text: string): number
  /** Bytes queued in the socket, not yet written to the network. */
  bufferedAmount(): number
  close(code: number, reason: string): void
}

/** How a session ended, as its client is told (`message`: the runner's explanation, if any). */
export interface SessionExit {
  code: number | null
  reason: string
  message?: string
}

/** Server → client control messages (DESIGN.md §6). */
export type ServerMessage =
  | { type: 'ready'; sessionId: string; runner: RunnerKind; expiresAt: string; resumeToken: string }
  | ({ type: 'exit' } & SessionExit)
  | { type: 'error'; code: string; message: string }
  | { type: 'notice'; message: string }
  | { type: 'pong' }

/** Why a session ended, as stored in history: a runner reason, or abandoned after the grace period. */
export type EndReason = ExitReason | 'abandoned'

export interface FlowControl {
  /** Pause the runner when this many bytes are sent but not acknowledged (default 2 MB). */
  highWatermark: number
  /** Resume once unacknowledged and socket-buffered bytes are both below this (default 512 KB). */
  lowWatermark: number
}

export interface SessionManagerOptions {
  config: TerminalConfig
  runners: RunnerRegistry
  cache: Cache
  db: Db
  storage: MediaStorage
  logger: Logger
  flow?: Partial<FlowControl>
  /** Scrollback kept for a resume (default 256 KB). */
  scrollbackBytes?: number
  /** How often this instance refreshes its registry records (default 10 s). */
  heartbeatMs?: number
  now?: () => number
}

/** WebSocket close codes sent to the client, each with a reason naming the problem. */
export const CLOSE = {
  normal: 1000,
  badRequest: 4400,
  unauthorized: 4401,
  forbidden: 4403,
  gone: 4404,
  replaced: 4409,
  unavailable: 4503,
} as const

const KILL_CHANNEL = 'terminal:kill'
const PING_CHANNEL = 'terminal:ping:'
/** How long an adopting instance waits for the owner to answer a ping before declaring it dead. */
const PING_TIMEOUT_MS = 750
/** Recent output kept in the cache for adoption (the local scrollback holds more). */
const PERSISTED_SCROLLBACK = 64 * 1024

/** Runners whose sessions outlive the process that opened them (`Runner.resume`): another instance can adopt them. */
const resumable = (r: Runner | undefined): r is Runner & Required<Pick<Runner, 'resume'>> => r?.resume !== undefined
const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url')

const noticeLead = (limitMs: number) => Math.min(60_000, Math.floor(limitMs / 2))
const minutes = (ms: number) => {
  if (ms >= 90_000) return `${Math.round(ms / 60_000)} minutes`
  if (ms >= 60_000) return '1 minute'
  const secs = Math.max(1, Math.ceil(ms / 1000))
  return `${secs} second${secs === 1 ? '' : 's'}`
}

/** One terminal session on this instance: a runner session plus everything around it. */
export class LiveSession {
  readonly resumeToken: string
  readonly scrollback: Scrollback
  readonly recorder: AsciicastRecorder
  socket: TerminalSocket | null = null
  /** Bytes sent on the current socket and not acknowledged yet. */
  unacked = 0
  paused = false
  /** Output that arrived after pausing (the runner stops soon after `pause()`), sent on resume. */
  private pending: Uint8Array[] = []
  pendingBytes = 0
  endReason: EndReason | undefined
  exit: (SessionExit & { reason: EndReason }) | undefined
  private timers = new Map<string, ReturnType<typeof setTimeout>>()
  private unsubscribe: () => void = () => {}
  /** Resolves once the session ended and its recording and history row are stored. */
  readonly finished: Promise<void>
  private finish!: () => void

  constructor(
    readonly manager: SessionManager,
    readonly record: SessionRecord,
    readonly runner: RunnerSession,
    readonly size: TerminalSize,
    resumeToken?: string,
  ) {
    this.resumeToken = resumeToken ?? randomBytes(24).toString('base64url')
    this.scrollback = new Scrollback(manager.scrollbackBytes)
    this.recorder = new AsciicastRecorder(size, manager.config.recordingLimit, { title: record.project })
    this.finished = new Promise((resolve) => {
      this.finish = resolve
    })
  }

  get id(): string {
    return this.record.id
  }

  get ended(): boolean {
    return this.exit !== undefined
  }

  /** @internal wiring done by the manager once the session is registered. */
  start(): void {
    const { config } = this.manager
    this.unsubscribe = this.runner.onData((chunk) => this.output(chunk))
    // From the record's expiry, so a session adopted from another instance keeps its deadline.
    const left = this.record.expiresAt - Date.now()
    this.timer('hard', left, () => void this.end('timeout'))
    const lead = noticeLead(config.timeLimitMs)
    this.timer('hard-notice', left - lead, () =>
      this.send({ type: 'notice', message: `this session reaches its time limit in ${minutes(lead)}` }),
    )
    this.touch()
    this.runner.exited.then(
      (info) => void this.finalize(info.code, info.reason, info.message),
      () => void this.finalize(null, 'error'),
    )
  }

  /** Attaches a socket: `ready`, then the scrollback replay; a previous socket is replaced. */
  attach(socket: TerminalSocket, replay: boolean): void {
    const previous = this.socket
    if (previous && previous !== socket) previous.close(CLOSE.replaced, 'replaced by a newer connection')
    this.clearTimer('grace')
    this.socket = socket
    this.unacked = 0
    this.pending = []
    this.pendingBytes = 0
    this.send({
      type: 'ready',
      sessionId: this.id,
      runner: this.record.runner,
      expiresAt: new Date(this.record.expiresAt).toISOString(),
      resumeToken: this.resumeToken,
    })
    if (replay) {
      const snapshot = this.scrollback.snapshot()
      if (snapshot.length > 0) this.deliver(snapshot)
    }
    this.maybeResume()
    void this.manager.updateRecord(this, 'attached')
  }

  /** The socket went away: keep the session for the grace period, paused. */
  detach(socket: TerminalSocket): void {
    if (this.socket !== socket) return
    this.socket = null
    this.pending = []
    this.pendingBytes = 0
    if (this.ended) return
    this.pauseRunner()
    this.timer('grace', this.manager.config.graceMs, () => void this.end('abandoned'))
    void this.manager.updateRecord(this, 'detached')
  }

  input(data: Uint8Array): void {
    if (this.ended) return
    this.touch()
    this.runner.write(data)
  }

  async resize(cols: number, rows: number): Promise<void> {
    if (this.ended) return
    this.size.cols = cols
    this.size.rows = rows
    this.recorder.resize(cols, rows)
    await this.runner.resize({ cols, rows })
  }

  /** The client processed `bytes` more bytes (xterm's write callback). */
  ack(bytes: number): void {
    this.unacked = Math.max(0, this.unacked - bytes)
    this.maybeResume()
  }

  /** The socket drained its send buffer. */
  drained(): void {
    this.maybeResume()
  }

  send(message: ServerMessage): void {
    this.socket?.sendText(JSON.stringify(message))
  }

  /** Ends the session (idempotent); the client gets `exit` with this reason. */
  async end(reason: EndReason): Promise<void> {
    if (this.ended || this.endReason) return
    this.endReason = reason
    await this.runner.kill(reason === 'abandoned' ? 'idle' : reason).catch(() => {})
  }

  private output(chunk: Uint8Array): void {
    this.scrollback.append(chunk)
    this.recorder.output(chunk)
    if (this.persistent) this.persistSoon(chunk.length)
    if (!this.socket) return
    if (this.paused) {
      this.pending.push(chunk)
      this.pendingBytes += chunk.length
      return
    }
    this.deliver(chunk)
  }

  private deliver(chunk: Uint8Array): void {
    const socket = this.socket
    if (!socket) return
    const sent = socket.sendBinary(chunk)
    this.unacked += chunk.length
    // -1: Bun queued it under backpressure; stop the source until `drain`.
    if (sent === -1 || this.unacked >= this.manager.flow.highWatermark) this.pauseRunner()
  }

  /** Set for sessions another instance can adopt: the recent output is kept in the cache too. */
  persistent = false
  private unpersisted = 0
  private persisting: Promise<void> | null = null
  private persistTimer: ReturnType<typeof setTimeout> | undefined
  private lastPersist = 0

  /**
   * Writes the recent output to the cache for an adopting instance: small interactive output at
   * once (a crash right after a command must not lose it), floods at most every 250 ms.
   */
  private persistSoon(bytes: number): void {
    this.unpersisted += bytes
    if (this.persisting || this.persistTimer) return
    const wait = this.unpersisted < 16 * 1024 ? 0 : Math.max(0, this.lastPersist + 250 - Date.now())
    if (wait === 0) this.persistNow()
    else {
      this.persistTimer = setTimeout(() => {
        this.persistTimer = undefined
        this.persistNow()
      }, wait)
      this.persistTimer.unref?.()
    }
  }

  private persistNow(): void {
    this.unpersisted = 0
    this.lastPersist = Date.now()
    this.persisting = this.manager
      .persistScrollback(this)
      .catch(() => {})
      .finally(() => {
        this.persisting = null
        if (this.unpersisted > 0 && !this.ended) this.persistSoon(0)
      })
  }

  private pauseRunner(): void {
    if (this.paused) return
    this.paused = true
    this.runner.pause()
  }

  private maybeResume(): void {
    const socket = this.socket
    if (!this.paused || !socket || this.ended) return
    const { lowWatermark } = this.manager.flow
    if (this.unacked > lowWatermark || socket.bufferedAmount() > lowWatermark) return
    this.paused = false
    while (this.pending.length > 0 && !this.paused) {
      const chunk = this.pending.shift() as Uint8Array
      this.pendingBytes -= chunk.length
      this.deliver(chunk)
    }
    if (!this.paused) this.runner.resume()
  }

  /** Input arrived: restart the idle countdown (and its notice). */
  private touch(): void {
    const { idleMs } = this.manager.config
    const lead = noticeLead(idleMs)
    this.timer('idle-notice', idleMs - lead, () =>
      this.send({ type: 'notice', message: `this session ends in ${minutes(lead)} without input` }),
    )
    this.timer('idle', idleMs, () => void this.end('idle'))
  }

  private timer(name: string, ms: number, fn: () => void): void {
    this.clearTimer(name)
    const t = setTimeout(fn, Math.max(0, ms))
    t.unref?.()
    this.timers.set(name, t)
  }

  private clearTimer(name: string): void {
    const t = this.timers.get(name)
    if (t) clearTimeout(t)
    this.timers.delete(name)
  }

  private async finalize(code: number | null, runnerReason: ExitReason, message?: string): Promise<void> {
    if (this.exit) return
    const reason = this.endReason ?? runnerReason
    // A runner's explanation (e.g. its runner service stopped) reaches the visitor with the exit.
    this.exit = message && !this.endReason ? { code, reason, message } : { code, reason }
    clearTimeout(this.persistTimer)
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
    this.unsubscribe()
    const socket = this.socket
    if (socket) {
      this.send({ type: 'exit', ...this.exit })
      socket.close(CLOSE.normal, `session ended: ${reason}`)
      this.socket = null
    }
    try {
      await this.manager.finalize(this)
    } finally {
      this.finish()
    }
  }
}

/**
 * Owns this instance's terminal sessions: opens them on a runner, wires sockets, timers, flow
 * control, recordings and history, and keeps the shared registry current.
 */
export class SessionManager {
  readonly instanceId = randomUUID()
  readonly registry: SessionRegistry
  readonly config: TerminalConfig
  readonly flow: FlowControl
  readonly scrollbackBytes: number
  private readonly sessions = new Map<string, LiveSession>()
  /** Ended sessions kept for the grace period, so a late resume still gets its `exit`. */
  private readonly tombstones = new Map<string, { token: string; exit: SessionExit }>()
  private readonly heartbeat: ReturnType<typeof setInterval>
  /** Slots this instance reserved for tickets, released on shutdown. */
  private readonly reserved = new Set<string>()
  private readonly staleAfterMs: number
  private unsubscribeKill: Promise<() => Promise<void>>
  private unsubscribePing: Promise<() => Promise<void>>
  private readonly now: () => number

  constructor(private readonly options: SessionManagerOptions) {
    this.config = options.config
    this.now = options.now ?? Date.now
    this.registry = createSessionRegistry(options.cache, this.now)
    this.flow = { highWatermark: 2 * 1024 * 1024, lowWatermark: 512 * 1024, ...options.flow }
    this.scrollbackBytes = options.scrollbackBytes ?? 256 * 1024
    const heartbeatMs = options.heartbeatMs ?? 10_000
    this.staleAfterMs = heartbeatMs * 3
    this.heartbeat = setInterval(() => void this.beat(), heartbeatMs)
    this.heartbeat.unref?.()
    this.unsubscribeKill = options.cache.subscribe(KILL_CHANNEL, (id) => {
      void this.sessions.get(id)?.end('killed')
    })
    // Liveness probe for adoption: another instance asks "are you there?" before taking a session over.
    this.unsubscribePing = options.cache.subscribe(`${PING_CHANNEL}${this.instanceId}`, (replyTo) => {
      if (/^[A-Za-z0-9:_-]{1,120}$/.test(replyTo)) void options.cache.publish(replyTo, 'alive').catch(() => {})
    })
  }

  get runners(): RunnerRegistry {
    return this.options.runners
  }

  /** Sessions running on this instance. */
  get local(): LiveSession[] {
    return [...this.sessions.values()]
  }

  get(id: string): LiveSession | undefined {
    return this.sessions.get(id)
  }

  /** Reserves a registry slot for a ticket; throws nothing, answers which cap refused it. */
  async reserve(ticket: TicketPayload) {
    const now = this.now()
    this.reserved.add(ticket.sessionId)
    const t = setTimeout(() => this.reserved.delete(ticket.sessionId), ticket.expiresAt + 2000 - now)
    t.unref?.()
    return this.registry.reserve(
      {
        id: ticket.sessionId,
        project: ticket.project,
        runner: ticket.runner,
        ip: ticket.ip,
        instance: this.instanceId,
        status: 'pending',
        startedAt: now,
        expiresAt: now + this.config.timeLimitMs,
        // A ticket not redeemed in time frees its slot.
        staleAt: ticket.expiresAt + 2000,
      },
      { perIp: this.config.maxPerIp, global: this.config.maxSessions },
    )
  }

  /** Opens the runner session for a redeemed ticket and attaches the socket. */
  async open(ticket: TicketPayload, project: TerminalProject, size: TerminalSize, socket: TerminalSocket) {
    const runner = this.options.runners.get(ticket.runner)
    if (!runner) throw new Error(`runner ${ticket.runner} is not configured`)
    const startedAt = this.now()
    const record: SessionRecord = {
      id: ticket.sessionId,
      project: ticket.project,
      runner: ticket.runner,
      ip: ticket.ip,
      instance: this.instanceId,
      status: 'attached',
      startedAt,
      expiresAt: startedAt + this.config.timeLimitMs,
      staleAt: startedAt + this.staleAfterMs,
    }
    await this.registry.put(record)
    const openStarted = performance.now()
    let runnerSession: RunnerSession
    try {
      runnerSession = await runner.open({
        project: { slug: project.slug, sourceDir: project.sourceDir, policy: project.policy },
        size: { ...size },
        timeLimitMs: this.config.timeLimitMs,
      })
    } catch (err) {
      metrics.sessionFailures.inc({ runner: ticket.runner, reason: (err as { code?: string }).code ?? 'OPEN_FAILED' })
      await this.registry.remove(record.id).catch(() => {})
      throw err
    }
    metrics.sessionStarts.inc({ runner: ticket.runner })
    metrics.sessionsActive.inc({ runner: ticket.runner })
    metrics.sessionStartDuration.observe({ runner: ticket.runner }, (performance.now() - openStarted) / 1000)
    this.reserved.delete(record.id)
    if (runnerSession.host) record.host = runnerSession.host
    const session = new LiveSession(this, record, runnerSession, { ...size })
    this.sessions.set(record.id, session)
    if (resumable(runner)) {
      session.persistent = true
      Object.assign(record, {
        runnerSessionId: runnerSession.id,
        resumeHash: hashToken(session.resumeToken),
        cols: size.cols,
        rows: size.rows,
      })
    }
    // Subscribe before anything else awaits: output produced meanwhile lands in the scrollback
    // and reaches the client with the first attach.
    session.start()
    await this.options.db
      .insert(terminalSessions)
      .values({
        id: record.id,
        projectSlug: record.project,
        runner: record.runner,
        clientIp: record.ip,
        instanceId: this.instanceId,
        status: 'running',
        startedAt: new Date(startedAt),
      })
      .catch((err: unknown) =>
        this.options.logger.error({ err, sessionId: record.id }, 'terminal history insert failed'),
      )
    session.attach(socket, true)
    this.options.logger.info(
      { sessionId: record.id, project: record.project, runner: record.runner },
      'terminal session started',
    )
    return session
  }

  /**
   * A resume: the session must live on this instance and the token must match. Returns what the
   * caller should tell the client when it cannot be resumed.
   */
  async resume(
    sessionId: string,
    token: string,
    socket: TerminalSocket,
    resolveProject?: (slug: string) => Promise<TerminalProject | null>,
  ): Promise<{ ok: true; session: LiveSession } | { ok: false; code: number; reason: string; exit?: SessionExit }> {
    const session = this.sessions.get(sessionId)
    if (session && !session.ended && sameToken(session.resumeToken, token)) {
      session.attach(socket, true)
      return { ok: true, session }
    }
    const tomb = this.tombstones.get(sessionId)
    if (tomb && sameToken(tomb.token, token)) {
      return { ok: false, code: CLOSE.normal, reason: 'the session has ended', exit: tomb.exit }
    }
    if (!session) {
      const record = await this.registry.get(sessionId).catch(() => null)
      if (record && record.instance !== this.instanceId && record.resumeHash && resolveProject) {
        if (!sameToken(record.resumeHash, hashToken(token))) {
          return { ok: false, code: CLOSE.gone, reason: GONE }
        }
        if (await this.alive(record.instance)) {
          return { ok: false, code: CLOSE.gone, reason: 'the session runs on another server instance' }
        }
        const adopted = await this.adopt(record, token, socket, resolveProject)
        if (adopted) return { ok: true, session: adopted }
      }
    }
    return { ok: false, code: CLOSE.gone, reason: GONE }
  }

  /** True when the instance answers a ping over pub/sub in time. */
  private async alive(instance: string): Promise<boolean> {
    const replyTo = `terminal:pong:${randomUUID()}`
    let answered!: () => void
    const got = new Promise<boolean>((resolve) => {
      answered = () => resolve(true)
      setTimeout(resolve, PING_TIMEOUT_MS, false).unref?.()
    })
    const unsubscribe = await this.options.cache.subscribe(replyTo, () => answered())
    try {
      await this.options.cache.publish(`${PING_CHANNEL}${instance}`, replyTo)
      return await got
    } finally {
      await unsubscribe().catch(() => {})
    }
  }

  /**
   * Takes over a session whose owner instance died (DESIGN.md §9): re-attaches to its sandbox,
   * restores the recent output from the cache and keeps its id, resume token and deadline.
   */
  private async adopt(
    record: SessionRecord,
    token: string,
    socket: TerminalSocket,
    resolveProject: (slug: string) => Promise<TerminalProject | null>,
  ): Promise<LiveSession | null> {
    const runner = this.options.runners.get(record.runner)
    if (!resumable(runner) || !record.runnerSessionId) return null
    // One adopter only, even if the visitor's reconnects reach several instances at once.
    if (!(await this.options.cache.setIfAbsent(`terminal:adopt:${record.id}`, this.instanceId, 30_000))) return null
    const project = await resolveProject(record.project)
    if (!project) return null
    const size = { cols: record.cols ?? 80, rows: record.rows ?? 24 }
    const left = record.expiresAt - this.now()
    if (left <= 0) return null
    let runnerSession: RunnerSession
    try {
      runnerSession = await runner.resume(record.runnerSessionId, {
        project: { slug: project.slug, sourceDir: project.sourceDir, policy: project.policy },
        size,
        timeLimitMs: left,
      })
    } catch (err) {
      this.options.logger.warn({ err, sessionId: record.id }, 'terminal session could not be adopted')
      return null
    }
    const mine: SessionRecord = {
      ...record,
      instance: this.instanceId,
      status: 'attached',
      runnerSessionId: runnerSession.id,
      staleAt: this.now() + this.staleAfterMs,
    }
    if (runnerSession.host) mine.host = runnerSession.host
    await this.registry.put(mine)
    const session = new LiveSession(this, mine, runnerSession, size, token)
    session.persistent = true
    const saved = await this.options.cache.get(`terminal:scrollback:${record.id}`).catch(() => null)
    if (saved) session.scrollback.append(new Uint8Array(Buffer.from(saved, 'base64')))
    this.sessions.set(mine.id, session)
    metrics.sessionsActive.inc({ runner: mine.runner })
    session.start()
    await this.options.db
      .update(terminalSessions)
      .set({ instanceId: this.instanceId })
      .where(eq(terminalSessions.id, mine.id))
      .catch(() => {})
    session.attach(socket, true)
    this.options.logger.info({ sessionId: mine.id, from: record.instance }, 'terminal session adopted')
    return session
  }

  /** @internal the recent output of an adoptable session, for whichever instance adopts it. */
  async persistScrollback(session: LiveSession): Promise<void> {
    const tail = session.scrollback.snapshot(PERSISTED_SCROLLBACK)
    await this.options.cache.set(
      `terminal:scrollback:${session.id}`,
      Buffer.from(tail).toString('base64'),
      this.config.graceMs + 60_000,
    )
  }

  /** Kills a session on whichever instance runs it; false when no such live session exists. */
  async kill(id: string): Promise<boolean> {
    const local = this.sessions.get(id)
    if (local) {
      await local.end('killed')
      return true
    }
    const record = await this.registry.get(id)
    if (!record || record.status === 'pending') return false
    await this.options.cache.publish(KILL_CHANNEL, id)
    return true
  }

  /** The recording of a session: live from memory on this instance, else from storage. */
  async recording(id: string): Promise<Uint8Array | null> {
    const live = this.sessions.get(id)
    if (live) return live.recorder.toBytes()
    const stored = await this.options.storage.get(recordingKey(id))
    return stored?.body ?? null
  }

  /** @internal */
  async updateRecord(session: LiveSession, status: SessionRecord['status']): Promise<void> {
    if (session.ended) return
    session.record.status = status
    session.record.cols = session.size.cols
    session.record.rows = session.size.rows
    // Kept past a crash for as long as the session could still be adopted.
    session.record.staleAt = this.now() + Math.max(this.staleAfterMs, this.config.graceMs + this.staleAfterMs)
    await this.registry.put(session.record).catch(() => {})
  }

  /** @internal stores the recording and history once a session ended. */
  async finalize(session: LiveSession): Promise<void> {
    const { id } = session
    const exit = session.exit as SessionExit & { reason: EndReason }
    this.sessions.delete(id)
    metrics.sessionsActive.dec({ runner: session.record.runner })
    this.tombstones.set(id, { token: session.resumeToken, exit })
    const t = setTimeout(() => this.tombstones.delete(id), this.config.graceMs)
    t.unref?.()
    await this.registry.remove(id).catch(() => {})
    if (session.persistent) {
      await this.options.cache.del(`terminal:scrollback:${id}`, `terminal:adopt:${id}`).catch(() => {})
    }
    const key = recordingKey(id)
    let stored: string | null = key
    try {
      await this.options.storage.put(key, session.recorder.toBytes(), ASCIICAST_CONTENT_TYPE)
    } catch (err) {
      stored = null
      this.options.logger.error({ err, sessionId: id }, 'terminal recording could not be stored')
    }
    await this.options.db
      .update(terminalSessions)
      .set({
        status: 'ended',
        exitCode: exit.code,
        exitReason: exit.reason,
        recordingKey: stored,
        bytesOut: session.recorder.bytesOut,
        endedAt: new Date(this.now()),
      })
      .where(eq(terminalSessions.id, id))
      .catch((err: unknown) => this.options.logger.error({ err, sessionId: id }, 'terminal history update failed'))
    this.options.logger.info({ sessionId: id, ...exit, bytesOut: session.recorder.bytesOut }, 'terminal session ended')
  }

  /** Ends every local session (reason `killed`, with a notice) and stops timers. */
  async close(): Promise<void> {
    clearInterval(this.heartbeat)
    const sessions = this.local
    for (const s of sessions) s.send({ type: 'notice', message: 'the server is shutting down' })
    await Promise.allSettled(sessions.map((s) => s.end('killed')))
    await Promise.allSettled(sessions.map((s) => s.finished))
    const unused = [...this.reserved].filter((id) => !this.sessions.has(id))
    await Promise.allSettled(unused.map((id) => this.registry.remove(id)))
    await (await this.unsubscribeKill)().catch(() => {})
    await (await this.unsubscribePing)().catch(() => {})
  }

  private async beat(): Promise<void> {
    for (const s of this.sessions.values()) await this.updateRecord(s, s.record.status)
  }
}

export const recordingKey = (id: string) => `recordings/${id}.cast`
const GONE = 'the session is gone (ended or past its reconnect grace period)'

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
