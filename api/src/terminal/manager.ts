import { randomBytes, randomUUID } from 'node:crypto'
import type { RunnerSession, TerminalSize } from '@shellfolio/runner'
import { CLOSE, FLOW_CONTROL, type SessionExit } from '@shellfolio/runner/terminal-protocol'
import type { Cache } from '../cache/index.ts'
import type { TerminalConfig } from '../config.ts'
import type { Db } from '../db/index.ts'
import type { Logger } from '../logger.ts'
import type { MediaStorage } from '../media/storage.ts'
import { metrics } from '../metrics/index.ts'
import { Adoption } from './adoption.ts'
import type { FlowLimits } from './flow.ts'
import { SessionHistory } from './history.ts'
import type { ProjectResolver, TerminalProject } from './projects.ts'
import { type ClaimResult, createSessionQueue, type QueueOptions, type SessionQueue } from './queue.ts'
import { createSessionRegistry, type SessionRecord, type SessionRegistry } from './registry.ts'
import { ReplayStore } from './replays.ts'
import type { RunnerRegistry } from './runners.ts'
import { LiveSession, type SessionSettings, type TerminalSocket } from './session.ts'
import { hashToken, sameToken, type TicketPayload } from './tickets.ts'
import { WatchHub } from './watch.ts'

export interface SessionManagerOptions {
  config: TerminalConfig
  runners: RunnerRegistry
  cache: Cache
  db: Db
  storage: MediaStorage
  logger: Logger
  flow?: Partial<FlowLimits>
  /** How often this instance refreshes its registry records (default 10 s). */
  heartbeatMs?: number
  /** Told when a runner fails to start a session or a session ends in an error (the admin's Problems list, docs/faults.md). */
  problems?: {
    report(problem: { code: string; route: string; error?: unknown; message?: string; frame?: string }): void
  }
  now?: () => number
  /** The waiting line's bounds (queue.ts; tests shorten its heartbeat). */
  queue?: QueueOptions
}

/** Why a resume could not reattach: what to tell the client before closing with `code`. */
export interface ResumeRefusal {
  ok: false
  code: number
  reason: string
  /** The session ended within the grace period: the client gets its `exit`. */
  exit?: SessionExit
}

const KILL_CHANNEL = 'terminal:kill'
const GONE = 'the session is gone (ended or past its reconnect grace period)'

/**
 * Owns this instance's terminal sessions: opens them on a runner, resumes them (or adopts them from
 * a dead instance), kills them on any instance, and keeps the shared registry current. Each session
 * reports to it through events; history and recordings go to `SessionHistory`, adoption across
 * instances to `Adoption`.
 */
export class SessionManager {
  readonly instanceId = randomUUID()
  readonly registry: SessionRegistry
  /** The waiting line for a slot when the deployment is full (queue.ts). */
  readonly queue: SessionQueue
  readonly config: TerminalConfig
  private readonly settings: SessionSettings
  private readonly sessions = new Map<string, LiveSession>()
  /** Ended sessions kept for the grace period, so a late resume still gets its `exit`. */
  private readonly tombstones = new Map<string, { token: string; exit: SessionExit }>()
  private readonly heartbeat: ReturnType<typeof setInterval>
  /** Slots this instance reserved for tickets, released on shutdown. */
  private readonly reserved = new Set<string>()
  private readonly staleAfterMs: number
  private readonly unsubscribeKill: Promise<() => Promise<void>>
  private readonly history: SessionHistory
  private readonly adoption: Adoption
  /** Read-only spectators of sessions (watch.ts). */
  readonly watch: WatchHub
  /** Published recordings (replays.ts). */
  readonly replays: ReplayStore
  private readonly now: () => number

  constructor(private readonly options: SessionManagerOptions) {
    const { config, cache, logger } = options
    this.config = config
    this.now = options.now ?? Date.now
    this.registry = createSessionRegistry(cache, this.now)
    this.queue = createSessionQueue(cache, { now: this.now, ...options.queue })
    this.settings = {
      config,
      flow: {
        highWatermark: FLOW_CONTROL.highWatermark,
        lowWatermark: FLOW_CONTROL.lowWatermark,
        ...options.flow,
      },
    }
    const heartbeatMs = options.heartbeatMs ?? 10_000
    this.staleAfterMs = heartbeatMs * 3
    this.heartbeat = setInterval(() => void this.beat(), heartbeatMs)
    this.heartbeat.unref?.()
    this.history = new SessionHistory({ db: options.db, storage: options.storage, logger, now: this.now })
    this.adoption = new Adoption({
      cache,
      runners: options.runners,
      instanceId: this.instanceId,
      graceMs: config.graceMs,
      logger,
      now: this.now,
    })
    this.replays = new ReplayStore({ db: options.db, storage: options.storage })
    this.watch = new WatchHub({
      cache,
      registry: this.registry,
      instanceId: this.instanceId,
      local: (id) => this.sessions.get(id),
      logger,
      now: this.now,
    })
    this.unsubscribeKill = cache.subscribe(KILL_CHANNEL, (id) => {
      void this.sessions.get(id)?.end('killed')
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

  /**
   * A waiting place's poll (queue.ts): refreshes it, and when it is its turn and a slot is free,
   * reserves the slot for a new session id whose ticket the caller issues.
   */
  async claim(placeId: string): Promise<ClaimResult & { sessionId?: string; ticketExpiresAt?: number }> {
    const now = this.now()
    const sessionId = randomUUID()
    const ticketExpiresAt = now + this.config.ticketTtlMs
    const result = await this.queue.claim(
      placeId,
      { perIp: this.config.maxPerIp, global: this.config.maxSessions },
      { sessionId, instance: this.instanceId, timeLimitMs: this.config.timeLimitMs, staleAt: ticketExpiresAt + 2000 },
    )
    if (result.state !== 'ready') return result
    this.reserved.add(sessionId)
    const t = setTimeout(() => this.reserved.delete(sessionId), ticketExpiresAt + 2000 - now)
    t.unref?.()
    return { ...result, sessionId, ticketExpiresAt }
  }

  /** Frees the slot of a ticket that will not be opened. */
  async release(sessionId: string): Promise<void> {
    await this.registry.remove(sessionId)
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
      ...(ticket.origin ? { origin: ticket.origin } : {}),
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
        project: { slug: project.slug, sourceDir: project.sourceDir, policy: project.policy, runtime: project.runtime },
        size: { ...size },
        timeLimitMs: this.config.timeLimitMs,
      })
    } catch (err) {
      metrics.sessionFailures.inc({ runner: ticket.runner, reason: (err as { code?: string }).code ?? 'OPEN_FAILED' })
      this.options.problems?.report({ code: 'SESSION_START_FAILED', route: `terminal:${ticket.runner}`, error: err })
      await this.registry.remove(record.id).catch(() => {})
      throw err
    }
    metrics.sessionStarts.inc({ runner: ticket.runner })
    metrics.sessionStartDuration.observe({ runner: ticket.runner }, (performance.now() - openStarted) / 1000)
    this.reserved.delete(record.id)
    if (runnerSession.host) record.host = runnerSession.host
    const resumeToken = randomBytes(24).toString('base64url')
    record.tokenHash = hashToken(resumeToken)
    const adoptable = this.adoption.describe(runner, runnerSession, resumeToken, size)
    if (adoptable) Object.assign(record, adoptable)
    const session = this.host(record, runnerSession, { ...size }, resumeToken, adoptable !== null)
    // Start before anything else awaits: output produced meanwhile lands in the screen and
    // reaches the client with the first attach.
    session.start()
    await this.history.started(record, this.instanceId)
    session.attach(socket, true)
    this.options.logger.info(
      { sessionId: record.id, project: record.project, runner: record.runner },
      'terminal session started',
    )
    return session
  }

  /**
   * A resume: the session must live on this instance and the token must match, or live on a dead
   * instance and be adoptable. Returns what the caller should tell the client when it cannot be resumed.
   */
  async resume(
    sessionId: string,
    token: string,
    socket: TerminalSocket,
    resolveProject: ProjectResolver,
  ): Promise<{ ok: true; session: LiveSession } | ResumeRefusal> {
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
      if (record && record.instance !== this.instanceId) {
        const adopted = await this.adopt(record, token, socket, resolveProject)
        if (adopted === 'owner-alive') {
          return { ok: false, code: CLOSE.gone, reason: 'the session runs on another server instance' }
        }
        if (adopted !== 'not-adoptable') return { ok: true, session: adopted }
      }
    }
    return { ok: false, code: CLOSE.gone, reason: GONE }
  }

  /**
   * Takes over a session whose owner instance died (docs/architecture.md, scale-out): re-attaches
   * to its sandbox, restores its screen from the cache and keeps its id, resume token and deadline.
   */
  private async adopt(record: SessionRecord, token: string, socket: TerminalSocket, resolveProject: ProjectResolver) {
    const taken = await this.adoption.takeOver(record, token, resolveProject)
    if (typeof taken === 'string') return taken
    const { runnerSession, size, scrollback } = taken
    const mine: SessionRecord = {
      ...record,
      instance: this.instanceId,
      status: 'attached',
      runnerSessionId: runnerSession.id,
      staleAt: this.now() + this.staleAfterMs,
    }
    if (runnerSession.host) mine.host = runnerSession.host
    await this.registry.put(mine)
    const session = this.host(mine, runnerSession, size, token, true)
    // The owner's serialized screen, parsed by this one's (docs/terminal-protocol.md, Resume).
    if (scrollback) session.screen.write(scrollback)
    session.start()
    await this.history.adopted(mine.id, this.instanceId)
    session.attach(socket, true)
    this.options.logger.info({ sessionId: mine.id, from: record.instance }, 'terminal session adopted')
    return session
  }

  /**
   * A new local session over `runnerSession`, wired to this manager through its events; the
   * screen of an `adoptable` one is mirrored to the cache for whichever instance adopts it.
   */
  private host(
    record: SessionRecord,
    runnerSession: RunnerSession,
    size: TerminalSize,
    resumeToken: string,
    adoptable: boolean,
  ): LiveSession {
    const mirror = adoptable ? this.adoption.mirror(record.id, (max) => session.screen.snapshot(max)) : undefined
    const session: LiveSession = new LiveSession(record, runnerSession, size, resumeToken, this.settings, {
      status: (status) => void this.updateRecord(session, status),
      output: (chunk) => {
        mirror?.wrote(chunk.length)
        this.watch.output(session, chunk)
      },
      resized: (size) => this.watch.resized(session, size),
      ended: (exit) => {
        mirror?.stop()
        return this.ended(session, exit, adoptable)
      },
    })
    // A crashed program host does not end the session; the admin hears of it (docs/faults.md).
    runnerSession.onIncident?.((message) =>
      this.options.problems?.report({
        code: 'PROGRAM_HOST_CRASHED',
        route: `terminal:${record.runner}`,
        message,
        frame: '',
      }),
    )
    this.sessions.set(record.id, session)
    metrics.sessionsActive.inc({ runner: record.runner })
    return session
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
    return this.history.recording(id)
  }

  /** Keeps the session's registry record current (and alive past a crash, for adoption). */
  private async updateRecord(session: LiveSession, status: SessionRecord['status']): Promise<void> {
    if (session.ended) return
    session.record.status = status
    session.record.cols = session.size.cols
    session.record.rows = session.size.rows
    // Kept past a crash for as long as the session could still be adopted.
    session.record.staleAt = this.now() + Math.max(this.staleAfterMs, this.config.graceMs + this.staleAfterMs)
    await this.registry.put(session.record).catch(() => {})
  }

  /** A session ended: forget it here and in the registry, then store its recording and history. */
  private async ended(session: LiveSession, exit: SessionExit, adoptable: boolean): Promise<void> {
    const { id } = session
    // A crashed program host, a dead runner service: the admin hears about it (docs/faults.md).
    if (exit.reason === 'error') {
      this.options.problems?.report({
        code: 'SESSION_ENDED_IN_ERROR',
        route: `terminal:${session.record.runner}`,
        message: exit.message ?? 'the session ended in an error',
        frame: '',
      })
    }
    this.sessions.delete(id)
    metrics.sessionsActive.dec({ runner: session.record.runner })
    this.tombstones.set(id, { token: session.resumeToken, exit })
    const t = setTimeout(() => this.tombstones.delete(id), this.config.graceMs)
    t.unref?.()
    await this.registry.remove(id).catch(() => {})
    // How long it lasted feeds the waiting line's estimate (queue.ts).
    await this.queue.recordLength(this.now() - session.record.startedAt).catch(() => {})
    await this.watch.ended(id, exit)
    if (adoptable) await this.adoption.forget(id)
    await this.history.ended(id, exit, session.recorder)
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
    await this.watch.close()
    await this.adoption.close()
    await this.history.close()
  }

  private async beat(): Promise<void> {
    for (const s of this.sessions.values()) await this.updateRecord(s, s.record.status)
  }
}
