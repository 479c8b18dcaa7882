import {
  DEPENDENCY_CODES,
  DEPENDENCY_RETRY_AFTER_SECONDS,
  type Dependency,
  DependencyUnavailableError,
} from '../http/errors.ts'
import type { Logger } from '../logger.ts'
import { metrics } from '../metrics/index.ts'

/**
 * Dependency outages (docs/faults.md): which driver errors mean "a dependency is down" rather than
 * "our bug", and one monitor per app that turns a stream of such errors into one log line when an
 * outage starts, one when it ends, a metric, and a Problems entry.
 */

export { DEPENDENCY_CODES, type Dependency, DependencyUnavailableError }

/** postgres.js connection errors (its own codes) and SQLSTATEs that mean the server is unavailable. */
const PG_CONNECTION_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
])
// 08xxx connection exception, 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now,
// 53xxx insufficient resources (disk full, out of memory, too many connections).
const PG_UNAVAILABLE_STATE = /^(08[0-9A-Z]{3}|57P0[123]|53[0-9A-Z]{3})$/
/** Socket errors: attributed through the endpoint they were connecting to, or the driver wrapping them. */
const NET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
  // Bun's fetch names them this way.
  'ConnectionRefused',
  'ConnectionClosed',
  'FailedToOpenSocket',
])
/** A full or read-only disk under DATA_DIR (the media folder). */
const DISK_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS'])
/** ioredis with `enableOfflineQueue: false` (api/src/cache) rejects at once with these while disconnected. */
const REDIS_MESSAGES = [/^Stream isn't writeable/, /^Connection is closed/, /max retries per request/i]

/** host:port → dependency, claimed by the adapters that connect there (a bare ECONNREFUSED names only the port). */
const endpoints = new Map<string, Dependency>()

/** Registers `url`'s port as belonging to `dependency`, so a bare socket error to it is attributed. */
export function claimEndpoint(url: string | undefined, dependency: Dependency): void {
  if (!url) return
  try {
    const u = new URL(url)
    const port = u.port || (u.protocol === 'https:' ? '443' : u.protocol === 'http:' ? '80' : '')
    if (port) endpoints.set(port, dependency)
  } catch {
    // Not a URL: nothing to attribute.
  }
}

type ErrorLike = {
  name?: unknown
  message?: unknown
  code?: unknown
  port?: unknown
  address?: unknown
  statusCode?: unknown
  $metadata?: { httpStatusCode?: number }
  cause?: unknown
  constructor?: { name?: string }
}

/**
 * Which dependency `err` says is unavailable, or null for any other error. Looks through `cause`
 * (drizzle wraps the driver's error in a DrizzleQueryError).
 */
export function classifyDependencyError(err: unknown): Dependency | null {
  let wrappedByDrizzle = false
  for (let e = err as ErrorLike | undefined, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    if (e instanceof DependencyUnavailableError) return e.dependency
    const message = typeof e.message === 'string' ? e.message : ''
    const code = typeof e.code === 'string' ? e.code : undefined
    if (e.constructor?.name === 'DrizzleQueryError' || message.startsWith('Failed query:')) wrappedByDrizzle = true
    if (code && PG_CONNECTION_CODES.has(code)) return 'database'
    if (code && PG_UNAVAILABLE_STATE.test(code)) return 'database'
    if (/^PGlite is clos(ed|ing)$/.test(message) || message === 'database is closed') return 'database'
    if (REDIS_MESSAGES.some((re) => re.test(message)) || e.name === 'MaxRetriesPerRequestError') return 'cache'
    if (code && DISK_CODES.has(code)) return 'storage'
    // dockerode: the engine's socket is gone, or the engine answered with a server error.
    if (typeof e.address === 'string' && e.address.includes('docker')) return 'runner'
    if (
      e.constructor?.name === 'DockerError' ||
      (typeof e.statusCode === 'number' && 'json' in e && e.statusCode >= 500)
    ) {
      return 'runner'
    }
    if (code && NET_CODES.has(code)) {
      const claimed = e.port !== undefined ? endpoints.get(String(e.port)) : undefined
      if (claimed) return claimed
      if (wrappedByDrizzle) return 'database'
      if (e.$metadata) return 'storage'
    }
    e = e.cause as ErrorLike | undefined
  }
  return null
}

/** The error a request should fail with: `err` itself, or its 503 when it is a dependency outage. */
export function asDependencyError(err: unknown): DependencyUnavailableError | null {
  if (err instanceof DependencyUnavailableError) return err
  const dependency = classifyDependencyError(err)
  return dependency ? new DependencyUnavailableError(dependency, err) : null
}

/** What is known about the request that found an outage (for the Problems entry). */
export interface OutageContext {
  requestId?: string | undefined
  traceId?: string | undefined
  route?: string | undefined
}

export interface Outage extends OutageContext {
  dependency: Dependency
  code: string
  /** The driver's message, e.g. "connect ECONNREFUSED 127.0.0.1:5432". */
  message: string
  error: unknown
}

export interface DependencyMonitorOptions {
  logger: Logger
  /** How to check each dependency while it is down; without one, an outage ends after a quiet spell. */
  probes?: Partial<Record<Dependency, () => Promise<unknown>>>
  /** Called once when an outage starts (the Problems list, api/src/problems). */
  onOutage?: (outage: Outage) => void
  /** How often a down dependency is probed (default 500 ms). */
  probeIntervalMs?: number
}

interface DownState {
  since: number
  lastError: number
  /** Operations that failed during this outage. */
  failures: number
  /** Its recovery was logged already: this is the echo of a restarted PostgreSQL (OUTAGE_SETTLE_MS). */
  echo?: boolean
}

const messageOf = (err: unknown): string => {
  for (let e = err as ErrorLike | undefined, d = 0; e && d < 5; d++, e = e.cause as ErrorLike | undefined) {
    if (!(e instanceof DependencyUnavailableError) && e.constructor?.name !== 'DrizzleQueryError') {
      const m = typeof e.message === 'string' ? e.message : String(e)
      return m.slice(0, 300)
    }
  }
  return 'unavailable'
}

/**
 * A database outage that starts again this soon after it ended is the same outage: a restarted
 * PostgreSQL refuses the pool's stale connections once more, as each is next used — up to 6.5 s
 * after the restart in a fresh-clone run of the fault suite on a loaded machine (docs/faults.md).
 * Other dependencies have no such echo, and a new refusal of theirs is a new outage.
 */
export const OUTAGE_SETTLE_MS = 15_000

/**
 * Tracks which dependencies are down. `failed` is called for every operation an outage broke (cheap
 * after the first); the first one logs, sets `shellfolio_dependency_up` to 0 and starts probing; the
 * probe that succeeds logs the recovery with how long it lasted and how many operations failed.
 */
export class DependencyMonitor {
  private readonly down = new Map<Dependency, DownState>()
  private readonly timers = new Map<Dependency, ReturnType<typeof setInterval>>()
  /** Outages that ended recently: one that comes back within OUTAGE_SETTLE_MS is the same outage. */
  private readonly ended = new Map<Dependency, { at: number; state: DownState }>()
  private closed = false

  constructor(private readonly options: DependencyMonitorOptions) {
    for (const dependency of Object.keys(options.probes ?? {}) as Dependency[]) {
      metrics.dependencyUp.set({ dependency }, 1)
    }
  }

  /** True while `dependency` is in an outage. */
  isDown(dependency: Dependency): boolean {
    return this.down.has(dependency)
  }

  /** Every dependency in an outage, with when it started. */
  outages(): { dependency: Dependency; since: string; failures: number }[] {
    return [...this.down].map(([dependency, s]) => ({
      dependency,
      since: new Date(s.since).toISOString(),
      failures: s.failures,
    }))
  }

  /** An operation failed because `dependency` is unavailable. */
  failed(dependency: Dependency, error: unknown, context: OutageContext = {}): void {
    metrics.dependencyErrors.inc({ dependency })
    const now = Date.now()
    const state = this.down.get(dependency)
    if (state) {
      state.lastError = now
      state.failures++
      return
    }
    if (this.closed) return
    const last = this.ended.get(dependency)
    if (dependency === 'database' && last && now - last.at < OUTAGE_SETTLE_MS) {
      // the same outage going on (a restarted PostgreSQL refuses the pool's stale connections once
      // more): no second log line, metric or Problems occurrence (docs/faults.md)
      this.ended.delete(dependency)
      this.down.set(dependency, { ...last.state, lastError: now, failures: last.state.failures + 1, echo: true })
      metrics.dependencyUp.set({ dependency }, 0)
      this.watch(dependency)
      return
    }
    this.down.set(dependency, { since: now, lastError: now, failures: 1 })
    metrics.dependencyUp.set({ dependency }, 0)
    metrics.dependencyOutages.inc({ dependency })
    const code = DEPENDENCY_CODES[dependency]
    const message = messageOf(error)
    this.options.logger.error(
      { dependency, code, cause: message, requestId: context.requestId },
      `${dependency} unavailable: answering 503 ${code} until it recovers`,
    )
    try {
      this.options.onOutage?.({ dependency, code, message, error, ...context })
    } catch {
      // Reporting an outage must never fail the request that found it.
    }
    this.watch(dependency)
  }

  /** `dependency` answered: ends its outage, if any. */
  recovered(dependency: Dependency): void {
    const state = this.down.get(dependency)
    if (!state) return
    this.down.delete(dependency)
    this.ended.set(dependency, { at: Date.now(), state })
    clearInterval(this.timers.get(dependency))
    this.timers.delete(dependency)
    metrics.dependencyUp.set({ dependency }, 1)
    // the echo's end is not a second recovery: its line was written when the outage first ended
    if (state.echo) return
    this.options.logger.warn(
      { dependency, downMs: Date.now() - state.since, failures: state.failures },
      `${dependency} recovered`,
    )
  }

  close(): void {
    this.closed = true
    for (const t of this.timers.values()) clearInterval(t)
    this.timers.clear()
  }

  private watch(dependency: Dependency): void {
    const probe = this.options.probes?.[dependency]
    let probing = false
    const timer = setInterval(async () => {
      if (probing) return
      const state = this.down.get(dependency)
      if (!state) return
      if (!probe) {
        // No way to ask: the outage ends once nothing failed for a Retry-After period.
        if (Date.now() - state.lastError > DEPENDENCY_RETRY_AFTER_SECONDS * 1000) this.recovered(dependency)
        return
      }
      probing = true
      try {
        await withTimeout(probe(), 2000)
        this.recovered(dependency)
      } catch {
        // Still down; the next tick asks again.
      } finally {
        probing = false
      }
    }, this.options.probeIntervalMs ?? 500)
    timer.unref?.()
    this.timers.set(dependency, timer)
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}
