import { randomBytes, randomUUID } from 'node:crypto'
import type { TerminalSize } from '@shellfolio/runner'
import { CLOSE, type ServerMessage, type SessionExit, WATCH_LIMITS } from '@shellfolio/runner/terminal-protocol'
import type { Cache } from '../cache/index.ts'
import type { Logger } from '../logger.ts'
import type { SessionRecord, SessionRegistry } from './registry.ts'
import type { LiveSession, TerminalSocket } from './session.ts'
import { hashToken, sameToken } from './tickets.ts'

/**
 * Read-only spectators of a live session (docs/terminal-protocol.md, "Watching"). The session's
 * owner creates a watch link with its resume token; anyone holding the link's token opens a
 * spectator socket on any instance and gets the session's screen first, then its live output.
 *
 * The instance that runs the session (the owner) keeps the count of every spectator. A spectator
 * on another instance joins over pub/sub: it asks the owner on `terminal:watch:ctl:<instance>`, and
 * the owner answers on `terminal:watch:out:<session>` with the screen addressed to that spectator,
 * followed by the live output for everyone. One channel per session keeps the screen and the
 * output in order.
 */

const LINK_KEY = (sessionId: string) => `terminal:watch:link:${sessionId}`
const TOKEN_KEY = (hash: string) => `terminal:watch:token:${hash}`
const CTL_CHANNEL = (instance: string) => `terminal:watch:ctl:${instance}`
const OUT_CHANNEL = (sessionId: string) => `terminal:watch:out:${sessionId}`
const REVOKE_CHANNEL = 'terminal:watch:revoke'
/** How long a spectator on another instance waits for the owner's screen. */
const JOIN_TIMEOUT_MS = 3000
/** Spectators on other instances say they are still there this often; silent ones are dropped after 3 periods. */
const ALIVE_MS = 10_000

/** What a watch token grants: a session's shareable link, or an admin's own view of it. */
interface TokenGrant {
  sessionId: string
  kind: 'link' | 'admin'
}

/** Owner → spectator instances, on the session's out channel. */
type OutMessage =
  | { k: 'snap'; to: string; data: string; cols: number; rows: number; project: string }
  | { k: 'refuse'; to: string; code: string; message: string; close: number }
  | { k: 'out'; data: string }
  | { k: 'size'; cols: number; rows: number }
  | { k: 'end'; exit: SessionExit }

/** Spectator instance → owner, on the owner's control channel. */
type CtlMessage =
  | { op: 'join'; sessionId: string; watcher: string }
  | { op: 'leave'; sessionId: string; watcher: string }
  | { op: 'alive'; sessionId: string; watchers: string[] }

/** One spectator socket on this instance. */
export interface Spectator {
  readonly id: string
  readonly socket: TerminalSocket
  readonly ip: string
  readonly tokenHash: string
  readonly sessionId: string
  /** Where its session runs: this instance (`local`) or another one. */
  owner: 'local' | string
  /** Gets live output (its screen was sent). */
  live: boolean
  closed: boolean
}

export type WatchRefusal = { ok: false; code: string; message: string; close: number }

export interface WatchHubOptions {
  cache: Cache
  registry: SessionRegistry
  instanceId: string
  /** A live session of this instance. */
  local(sessionId: string): LiveSession | undefined
  logger: Logger
  now: () => number
}

const send = (socket: TerminalSocket, message: ServerMessage) => socket.sendText(JSON.stringify(message))

const refused = (close: number, code: string, message: string): WatchRefusal => ({ ok: false, code, message, close })

const GONE = refused(CLOSE.gone, 'WATCH_GONE', 'this watch link is invalid, was revoked, or its session ended')

/** The owner's side of one watched session: its spectators here and on other instances. */
interface Watched {
  local: Set<Spectator>
  /** Spectators on other instances, by id, with when they last said they are there. */
  remote: Map<string, { instance: string; seen: number }>
}

export class WatchHub {
  /** Sessions of this instance that have spectators (owner side). */
  private readonly watched = new Map<string, Watched>()
  /** Spectators connected to this instance. */
  private readonly spectators = new Set<Spectator>()
  private readonly perIp = new Map<string, number>()
  /** Out-channel subscriptions for spectators of sessions on other instances. */
  private readonly subscriptions = new Map<string, { count: number; unsubscribe: Promise<() => Promise<void>> }>()
  private readonly unsubscribeCtl: Promise<() => Promise<void>>
  private readonly unsubscribeRevoke: Promise<() => Promise<void>>
  private readonly timer: ReturnType<typeof setInterval>

  constructor(private readonly options: WatchHubOptions) {
    const { cache, instanceId } = options
    this.unsubscribeCtl = cache.subscribe(CTL_CHANNEL(instanceId), (raw) => void this.control(raw))
    this.unsubscribeRevoke = cache.subscribe(REVOKE_CHANNEL, (hash) => this.revoked(hash))
    this.timer = setInterval(() => this.tick(), ALIVE_MS)
    this.timer.unref?.()
  }

  // ---- links -------------------------------------------------------------------------------

  /**
   * The watch link's token of session `sessionId` for the holder of its resume token (the same
   * token on every call until revoked); null when no live session has this id and token.
   */
  async link(sessionId: string, resumeToken: string): Promise<string | null> {
    const record = await this.owned(sessionId, resumeToken)
    if (!record) return null
    const { cache, now } = this.options
    const ttl = Math.max(1000, record.expiresAt - now() + 60_000)
    const existing = await cache.get(LINK_KEY(sessionId))
    if (existing) return existing
    const token = randomBytes(32).toString('base64url')
    if (!(await cache.setIfAbsent(LINK_KEY(sessionId), token, ttl))) {
      // A concurrent call created it first.
      return (await cache.get(LINK_KEY(sessionId))) ?? null
    }
    await cache.set(TOKEN_KEY(hashToken(token)), JSON.stringify({ sessionId, kind: 'link' } satisfies TokenGrant), ttl)
    return token
  }

  /** An admin's own watch token for any live session (not revoked with the owner's link). */
  async adminToken(sessionId: string): Promise<string | null> {
    const record = await this.options.registry.get(sessionId)
    if (!record || record.status === 'pending') return null
    const token = randomBytes(32).toString('base64url')
    const ttl = Math.max(1000, record.expiresAt - this.options.now() + 60_000)
    const grant: TokenGrant = { sessionId, kind: 'admin' }
    await this.options.cache.set(TOKEN_KEY(hashToken(token)), JSON.stringify(grant), ttl)
    return token
  }

  /**
   * Revokes the session's watch link: the token stops working and its spectators, on every
   * instance, are closed. False when no live session has this id and token.
   */
  async revoke(sessionId: string, resumeToken: string): Promise<boolean> {
    if (!(await this.owned(sessionId, resumeToken))) return false
    await this.dropLink(sessionId, 'WATCH_REVOKED')
    return true
  }

  private async dropLink(sessionId: string, _why: string): Promise<void> {
    const { cache } = this.options
    const token = await cache.get(LINK_KEY(sessionId)).catch(() => null)
    if (!token) return
    const hash = hashToken(token)
    await cache.del(LINK_KEY(sessionId), TOKEN_KEY(hash)).catch(() => {})
    await cache.publish(REVOKE_CHANNEL, hash).catch(() => {})
  }

  /** The session's record when `resumeToken` is its resume token. */
  private async owned(sessionId: string, resumeToken: string): Promise<SessionRecord | null> {
    const live = this.options.local(sessionId)
    if (live) return !live.ended && sameToken(live.resumeToken, resumeToken) ? live.record : null
    const record = await this.options.registry.get(sessionId).catch(() => null)
    if (!record?.tokenHash || record.status === 'pending') return null
    return sameToken(record.tokenHash, hashToken(resumeToken)) ? record : null
  }

  // ---- spectators on this instance ------------------------------------------------------------

  /** Counts of spectators: on this instance, and of this instance's sessions (for tests and metrics). */
  get size(): { here: number; watchedSessions: number } {
    return { here: this.spectators.size, watchedSessions: this.watched.size }
  }

  /** How many watch session `sessionId` (owner side). */
  count(sessionId: string): number {
    const w = this.watched.get(sessionId)
    return w ? w.local.size + w.remote.size : 0
  }

  /**
   * Attaches a spectator socket for watch token `token` from `ip`: its session's screen, then its
   * output. Refused (the caller sends the error and closes) when the token is unknown, a bound is
   * reached or the session is gone.
   */
  async attach(
    token: string | undefined,
    socket: TerminalSocket,
    ip: string,
  ): Promise<{ ok: true; spectator: Spectator } | WatchRefusal> {
    if (!token || token.length > 100) return GONE
    const hash = hashToken(token)
    const raw = await this.options.cache.get(TOKEN_KEY(hash))
    if (!raw) return GONE
    const grant = JSON.parse(raw) as TokenGrant
    if (this.spectators.size >= WATCH_LIMITS.perInstance) {
      return refused(CLOSE.limited, 'WATCH_LIMIT', 'this server has as many spectators as it takes; try again later')
    }
    if ((this.perIp.get(ip) ?? 0) >= WATCH_LIMITS.perIp) {
      return refused(
        CLOSE.limited,
        'WATCH_LIMIT_IP',
        `you already watch ${WATCH_LIMITS.perIp} sessions from this address; close one first`,
      )
    }
    const local = this.options.local(grant.sessionId)
    let owner: string
    if (local && !local.ended) owner = 'local'
    else {
      const record = await this.options.registry.get(grant.sessionId).catch(() => null)
      if (!record || record.status === 'pending' || record.instance === this.options.instanceId) return GONE
      owner = record.instance
    }
    const spectator: Spectator = {
      id: randomUUID(),
      socket,
      ip,
      tokenHash: hash,
      sessionId: grant.sessionId,
      owner,
      live: false,
      closed: false,
    }
    this.spectators.add(spectator)
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1)
    const joined =
      owner === 'local' && local ? await this.joinLocal(local, spectator) : await this.joinRemote(spectator)
    if (!joined.ok) {
      this.forget(spectator)
      return joined
    }
    return { ok: true, spectator }
  }

  /** A spectator's socket closed. */
  detach(spectator: Spectator): void {
    if (spectator.closed) return
    spectator.closed = true
    this.forget(spectator)
    if (spectator.owner === 'local') {
      const w = this.watched.get(spectator.sessionId)
      if (w?.local.delete(spectator)) this.changed(spectator.sessionId)
    } else {
      void this.options.cache
        .publish(
          CTL_CHANNEL(spectator.owner),
          JSON.stringify({ op: 'leave', sessionId: spectator.sessionId, watcher: spectator.id } satisfies CtlMessage),
        )
        .catch(() => {})
      this.unsubscribe(spectator.sessionId)
    }
  }

  private forget(spectator: Spectator): void {
    if (!this.spectators.delete(spectator)) return
    const n = (this.perIp.get(spectator.ip) ?? 1) - 1
    if (n <= 0) this.perIp.delete(spectator.ip)
    else this.perIp.set(spectator.ip, n)
  }

  private closeSpectator(spectator: Spectator, messages: ServerMessage[], close: number, reason: string): void {
    for (const m of messages) send(spectator.socket, m)
    spectator.socket.close(close, reason.slice(0, 120))
    this.detach(spectator)
  }

  private async joinLocal(session: LiveSession, spectator: Spectator): Promise<{ ok: true } | WatchRefusal> {
    const w = this.entry(session.id)
    if (w.local.size + w.remote.size >= WATCH_LIMITS.perSession) {
      return refused(CLOSE.limited, 'WATCH_FULL', `this session already has ${WATCH_LIMITS.perSession} spectators`)
    }
    w.local.add(spectator)
    this.changed(session.id)
    const state = await this.screenOf(session)
    if (!state || spectator.closed) {
      w.local.delete(spectator)
      this.changed(session.id)
      return GONE
    }
    send(spectator.socket, {
      type: 'watching',
      sessionId: session.id,
      project: session.record.project,
      cols: session.size.cols,
      rows: session.size.rows,
    })
    if (state.length > 0) spectator.socket.sendBinary(state)
    spectator.live = true
    return { ok: true }
  }

  /**
   * The session's screen with everything written so far, taken in the same turn as the spectator
   * goes live: output after it reaches the spectator through `output`, none twice.
   */
  private async screenOf(session: LiveSession): Promise<Uint8Array | null> {
    // Bounded: under a flood, the screen is taken after at most a few catch-ups (a slice may repeat
    // in the spectator's view, never go missing).
    for (let i = 0; i < 20 && session.screen.pendingBytes > 0 && !session.ended; i++) await session.screen.flushed()
    if (session.ended) return null
    return session.screen.serialize()
  }

  private joinRemote(spectator: Spectator): Promise<{ ok: true } | WatchRefusal> {
    const { cache } = this.options
    this.subscribe(spectator.sessionId)
    return new Promise((resolve) => {
      const timeout = setTimeout(() => {
        this.pending.delete(spectator.id)
        this.unsubscribe(spectator.sessionId)
        resolve(refused(CLOSE.unavailable, 'WATCH_UNAVAILABLE', "the session's server did not answer; try again"))
      }, JOIN_TIMEOUT_MS)
      timeout.unref?.()
      this.pending.set(spectator.id, (result) => {
        clearTimeout(timeout)
        this.pending.delete(spectator.id)
        if (!result.ok) this.unsubscribe(spectator.sessionId)
        resolve(result)
      })
      void this.subscriptions
        .get(spectator.sessionId)
        ?.unsubscribe.then(() =>
          cache.publish(
            CTL_CHANNEL(spectator.owner),
            JSON.stringify({ op: 'join', sessionId: spectator.sessionId, watcher: spectator.id } satisfies CtlMessage),
          ),
        )
        .catch(() => {})
    })
  }

  /** Spectators waiting for their screen from another instance. */
  private readonly pending = new Map<string, (result: { ok: true } | WatchRefusal) => void>()

  private subscribe(sessionId: string): void {
    const existing = this.subscriptions.get(sessionId)
    if (existing) {
      existing.count++
      return
    }
    const unsubscribe = this.options.cache.subscribe(OUT_CHANNEL(sessionId), (raw) => this.fromOwner(sessionId, raw))
    this.subscriptions.set(sessionId, { count: 1, unsubscribe })
  }

  private unsubscribe(sessionId: string): void {
    const sub = this.subscriptions.get(sessionId)
    if (!sub) return
    if (--sub.count > 0) return
    this.subscriptions.delete(sessionId)
    void sub.unsubscribe.then((off) => off()).catch(() => {})
  }

  /** What the owner of a watched session on another instance published for its spectators here. */
  private fromOwner(sessionId: string, raw: string): void {
    let m: OutMessage
    try {
      m = JSON.parse(raw) as OutMessage
    } catch {
      return
    }
    const here = [...this.spectators].filter((s) => s.sessionId === sessionId && s.owner !== 'local')
    switch (m.k) {
      case 'snap': {
        const s = here.find((x) => x.id === m.to)
        if (!s) return
        send(s.socket, { type: 'watching', sessionId, project: m.project, cols: m.cols, rows: m.rows })
        if (m.data) s.socket.sendBinary(new Uint8Array(Buffer.from(m.data, 'base64')))
        s.live = true
        this.pending.get(s.id)?.({ ok: true })
        return
      }
      case 'refuse':
        this.pending.get(m.to)?.(refused(m.close, m.code, m.message))
        return
      case 'out': {
        const bytes = new Uint8Array(Buffer.from(m.data, 'base64'))
        for (const s of here) if (s.live) this.deliver(s, bytes)
        return
      }
      case 'size':
        for (const s of here) if (s.live) send(s.socket, { type: 'size', cols: m.cols, rows: m.rows })
        return
      case 'end':
        for (const s of here) {
          this.pending.get(s.id)?.(GONE)
          if (s.live) this.closeSpectator(s, [{ type: 'exit', ...m.exit }], CLOSE.normal, 'session ended')
        }
        return
    }
  }

  private deliver(spectator: Spectator, bytes: Uint8Array): void {
    if (spectator.closed) return
    spectator.socket.sendBinary(bytes)
    // A spectator gets no flow control of its own: one that cannot follow is let go.
    if (spectator.socket.bufferedAmount() > WATCH_LIMITS.maxBuffered) {
      this.closeSpectator(
        spectator,
        [{ type: 'error', code: 'WATCH_TOO_SLOW', message: 'your connection could not keep up with the session' }],
        CLOSE.limited,
        'too slow to follow the session',
      )
    }
  }

  /** The session's link was revoked: its spectators here are closed. */
  private revoked(hash: string): void {
    for (const s of [...this.spectators]) {
      if (s.tokenHash !== hash) continue
      if (!s.live) {
        this.pending.get(s.id)?.(GONE)
        continue
      }
      this.closeSpectator(
        s,
        [{ type: 'error', code: 'WATCH_REVOKED', message: 'the owner of this session stopped sharing it' }],
        CLOSE.gone,
        'the watch link was revoked',
      )
    }
  }

  // ---- the owner's side --------------------------------------------------------------------

  private entry(sessionId: string): Watched {
    let w = this.watched.get(sessionId)
    if (!w) {
      w = { local: new Set(), remote: new Map() }
      this.watched.set(sessionId, w)
    }
    return w
  }

  /** The count changed: the owner's client is told. */
  private changed(sessionId: string): void {
    const w = this.watched.get(sessionId)
    const count = w ? w.local.size + w.remote.size : 0
    if (w && count === 0) this.watched.delete(sessionId)
    this.options.local(sessionId)?.setWatchers(count)
  }

  /** A control message from a spectator's instance. */
  private async control(raw: string): Promise<void> {
    let m: CtlMessage
    try {
      m = JSON.parse(raw) as CtlMessage
    } catch {
      return
    }
    const { cache, now } = this.options
    const publish = (message: OutMessage) =>
      cache.publish(OUT_CHANNEL(m.sessionId), JSON.stringify(message)).catch(() => {})
    if (m.op === 'leave') {
      if (this.watched.get(m.sessionId)?.remote.delete(m.watcher)) this.changed(m.sessionId)
      return
    }
    if (m.op === 'alive') {
      const w = this.watched.get(m.sessionId)
      for (const id of m.watchers) {
        const r = w?.remote.get(id)
        if (r) r.seen = now()
      }
      return
    }
    const session = this.options.local(m.sessionId)
    if (!session || session.ended) {
      await publish({ k: 'refuse', to: m.watcher, ...GONE })
      return
    }
    const w = this.entry(m.sessionId)
    if (w.local.size + w.remote.size >= WATCH_LIMITS.perSession) {
      await publish({
        k: 'refuse',
        to: m.watcher,
        code: 'WATCH_FULL',
        message: `this session already has ${WATCH_LIMITS.perSession} spectators`,
        close: CLOSE.limited,
      })
      return
    }
    const state = await this.screenOf(session)
    if (!state) {
      await publish({ k: 'refuse', to: m.watcher, ...GONE })
      return
    }
    // Same turn as the screen was taken: output from now on is published for it.
    w.remote.set(m.watcher, { instance: '', seen: now() })
    this.changed(m.sessionId)
    await publish({
      k: 'snap',
      to: m.watcher,
      data: Buffer.from(state).toString('base64'),
      cols: session.size.cols,
      rows: session.size.rows,
      project: session.record.project,
    })
  }

  /** Output of a session of this instance reached its screen. */
  output(session: LiveSession, chunk: Uint8Array): void {
    const w = this.watched.get(session.id)
    if (!w) return
    for (const s of [...w.local]) if (s.live) this.deliver(s, chunk)
    if (w.remote.size > 0) {
      void this.options.cache
        .publish(OUT_CHANNEL(session.id), JSON.stringify({ k: 'out', data: Buffer.from(chunk).toString('base64') }))
        .catch(() => {})
    }
  }

  /** A session of this instance changed size. */
  resized(session: LiveSession, size: TerminalSize): void {
    const w = this.watched.get(session.id)
    if (!w) return
    for (const s of w.local) if (s.live) send(s.socket, { type: 'size', cols: size.cols, rows: size.rows })
    if (w.remote.size > 0) {
      void this.options.cache
        .publish(OUT_CHANNEL(session.id), JSON.stringify({ k: 'size', cols: size.cols, rows: size.rows }))
        .catch(() => {})
    }
  }

  /** A session of this instance ended: its spectators get its exit, its link dies. */
  async ended(sessionId: string, exit: SessionExit): Promise<void> {
    const w = this.watched.get(sessionId)
    this.watched.delete(sessionId)
    for (const s of w?.local ?? []) {
      s.owner = 'ended'
      this.forget(s)
      s.closed = true
      send(s.socket, { type: 'exit', ...exit })
      s.socket.close(CLOSE.normal, 'session ended')
    }
    if (w && w.remote.size > 0) {
      await this.options.cache
        .publish(OUT_CHANNEL(sessionId), JSON.stringify({ k: 'end', exit } satisfies OutMessage))
        .catch(() => {})
    }
    const { cache } = this.options
    const token = await cache.get(LINK_KEY(sessionId)).catch(() => null)
    if (token) await cache.del(LINK_KEY(sessionId), TOKEN_KEY(hashToken(token))).catch(() => {})
  }

  /** Keeps spectators on other instances counted while they are there, and drops silent ones. */
  private tick(): void {
    const { cache, now } = this.options
    const byOwner = new Map<string, Map<string, string[]>>()
    for (const s of this.spectators) {
      if (s.owner === 'local' || !s.live) continue
      const sessions = byOwner.get(s.owner) ?? new Map<string, string[]>()
      byOwner.set(s.owner, sessions)
      sessions.set(s.sessionId, [...(sessions.get(s.sessionId) ?? []), s.id])
    }
    for (const [owner, sessions] of byOwner) {
      for (const [sessionId, watchers] of sessions) {
        void cache
          .publish(CTL_CHANNEL(owner), JSON.stringify({ op: 'alive', sessionId, watchers } satisfies CtlMessage))
          .catch(() => {})
      }
    }
    const cutoff = now() - 3 * ALIVE_MS
    for (const [sessionId, w] of this.watched) {
      let dropped = false
      for (const [id, r] of w.remote) {
        if (r.seen < cutoff) {
          w.remote.delete(id)
          dropped = true
        }
      }
      if (dropped) this.changed(sessionId)
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer)
    for (const s of [...this.spectators]) {
      this.closeSpectator(
        s,
        [{ type: 'notice', message: 'the server is shutting down' }],
        CLOSE.internal,
        'server shutting down',
      )
    }
    await (await this.unsubscribeCtl)().catch(() => {})
    await (await this.unsubscribeRevoke)().catch(() => {})
    for (const sessionId of [...this.subscriptions.keys()]) {
      const sub = this.subscriptions.get(sessionId)
      this.subscriptions.delete(sessionId)
      await sub?.unsubscribe.then((off) => off()).catch(() => {})
    }
  }
}
