import { randomUUID } from 'node:crypto'
import type { Runner, RunnerSession, TerminalSize } from '@shellfolio/runner'
import type { Cache } from '../cache/index.ts'
import type { Logger } from '../logger.ts'
import type { TerminalProject } from './projects.ts'
import type { SessionRecord } from './registry.ts'
import type { RunnerRegistry } from './runners.ts'
import { hashToken, sameToken } from './tickets.ts'

/**
 * Adoption across API instances (docs/architecture.md, scale-out): a session whose runner outlives
 * the process that opened it (Docker) is described in the shared registry and its screen is
 * mirrored to the cache, so when its instance dies, the instance the visitor reconnects to can take
 * it over. Before taking over, that instance asks the owner over pub/sub whether it is still alive.
 */

const PING_CHANNEL = 'terminal:ping:'
/** How long an adopting instance waits for the owner to answer a ping before declaring it dead. */
const PING_TIMEOUT_MS = 750
/** The serialized screen kept in the cache for adoption, at most (history lines are left out to fit). */
const PERSISTED_SCROLLBACK = 64 * 1024
const scrollbackKey = (id: string) => `terminal:scrollback:${id}`
const adoptKey = (id: string) => `terminal:adopt:${id}`

/** Runners whose sessions outlive the process that opened them (`Runner.resume`): another instance can adopt them. */
const resumable = (r: Runner | undefined): r is Runner & Required<Pick<Runner, 'resume'>> => r?.resume !== undefined

/** Why a takeover did not happen: the owner answered, or the session cannot be adopted here. */
export type TakeoverRefusal = 'owner-alive' | 'not-adoptable'

export interface AdoptionOptions {
  cache: Cache
  runners: RunnerRegistry
  instanceId: string
  /** How long a detached session waits for its client (the mirrored output is kept a minute longer). */
  graceMs: number
  logger: Logger
  now: () => number
}

export class Adoption {
  private readonly unsubscribePing: Promise<() => Promise<void>>

  constructor(private readonly options: AdoptionOptions) {
    const { cache, instanceId } = options
    // Liveness probe: another instance asks "are you there?" before taking a session over.
    this.unsubscribePing = cache.subscribe(`${PING_CHANNEL}${instanceId}`, (replyTo) => {
      if (/^[A-Za-z0-9:_-]{1,120}$/.test(replyTo)) void cache.publish(replyTo, 'alive').catch(() => {})
    })
  }

  /**
   * What the registry record of a new session needs so another instance can adopt it; null when
   * its runner's sessions die with this process.
   */
  describe(
    runner: Runner,
    session: RunnerSession,
    resumeToken: string,
    size: TerminalSize,
  ): Pick<SessionRecord, 'runnerSessionId' | 'resumeHash' | 'cols' | 'rows'> | null {
    if (!resumable(runner)) return null
    return { runnerSessionId: session.id, resumeHash: hashToken(resumeToken), cols: size.cols, rows: size.rows }
  }

  /**
   * Mirrors a session's serialized screen to the cache, for whichever instance adopts it: after small
   * interactive output at once (a crash right after a command must not lose it), floods at most
   * every 250 ms.
   */
  mirror(id: string, screen: (maxBytes: number) => Promise<Uint8Array | null>): ScrollbackMirror {
    const { cache, graceMs } = this.options
    return new ScrollbackMirror(async () => {
      const state = await screen(PERSISTED_SCROLLBACK)
      if (state) await cache.set(scrollbackKey(id), Buffer.from(state).toString('base64'), graceMs + 60_000)
    })
  }

  /**
   * Re-attaches to the sandbox of a session another instance registered, when `token` is its resume
   * token, its owner does not answer and no other instance is adopting it. Keeps the deadline.
   */
  async takeOver(
    record: SessionRecord,
    token: string,
    resolveProject: (slug: string) => Promise<TerminalProject | null>,
  ): Promise<{ runnerSession: RunnerSession; size: TerminalSize; scrollback: Uint8Array | null } | TakeoverRefusal> {
    const { cache, runners, logger, now } = this.options
    if (!record.resumeHash || !sameToken(record.resumeHash, hashToken(token))) return 'not-adoptable'
    if (await this.alive(record.instance)) return 'owner-alive'
    const runner = runners.get(record.runner)
    if (!resumable(runner) || !record.runnerSessionId) return 'not-adoptable'
    // One adopter only, even if the visitor's reconnects reach several instances at once.
    if (!(await cache.setIfAbsent(adoptKey(record.id), this.options.instanceId, 30_000))) return 'not-adoptable'
    const project = await resolveProject(record.project)
    if (!project) return 'not-adoptable'
    const size = { cols: record.cols ?? 80, rows: record.rows ?? 24 }
    const left = record.expiresAt - now()
    if (left <= 0) return 'not-adoptable'
    let runnerSession: RunnerSession
    try {
      runnerSession = await runner.resume(record.runnerSessionId, {
        project: { slug: project.slug, sourceDir: project.sourceDir, policy: project.policy, runtime: project.runtime },
        size,
        timeLimitMs: left,
      })
    } catch (err) {
      logger.warn({ err, sessionId: record.id }, 'terminal session could not be adopted')
      return 'not-adoptable'
    }
    const saved = await cache.get(scrollbackKey(record.id)).catch(() => null)
    return { runnerSession, size, scrollback: saved ? new Uint8Array(Buffer.from(saved, 'base64')) : null }
  }

  /** Drops what the cache holds for an adoptable session that ended. */
  async forget(id: string): Promise<void> {
    await this.options.cache.del(scrollbackKey(id), adoptKey(id)).catch(() => {})
  }

  async close(): Promise<void> {
    await (await this.unsubscribePing)().catch(() => {})
  }

  /** True when the instance answers a ping over pub/sub in time. */
  private async alive(instance: string): Promise<boolean> {
    const { cache } = this.options
    const replyTo = `terminal:pong:${randomUUID()}`
    let answered!: () => void
    const got = new Promise<boolean>((resolve) => {
      answered = () => resolve(true)
      setTimeout(resolve, PING_TIMEOUT_MS, false).unref?.()
    })
    const unsubscribe = await cache.subscribe(replyTo, () => answered())
    try {
      await cache.publish(`${PING_CHANNEL}${instance}`, replyTo)
      return await got
    } finally {
      await unsubscribe().catch(() => {})
    }
  }
}

/** Writes a session's recent output to the cache soon after it changes (see `Adoption.mirror`). */
export class ScrollbackMirror {
  private unsaved = 0
  private saving: Promise<void> | null = null
  private timer: ReturnType<typeof setTimeout> | undefined
  private lastSave = 0
  private stopped = false

  constructor(private readonly save: () => Promise<void>) {}

  /** `bytes` more bytes of output reached the scrollback. */
  wrote(bytes: number): void {
    this.unsaved += bytes
    if (this.stopped || this.saving || this.timer) return
    const wait = this.unsaved < 16 * 1024 ? 0 : Math.max(0, this.lastSave + 250 - Date.now())
    if (wait === 0) this.saveNow()
    else {
      this.timer = setTimeout(() => {
        this.timer = undefined
        this.saveNow()
      }, wait)
      this.timer.unref?.()
    }
  }

  /** The session ended: nothing more is written. */
  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

  private saveNow(): void {
    this.unsaved = 0
    this.lastSave = Date.now()
    this.saving = this.save()
      .catch(() => {})
      .finally(() => {
        this.saving = null
        if (this.unsaved > 0 && !this.stopped) this.wrote(0)
      })
  }
}
