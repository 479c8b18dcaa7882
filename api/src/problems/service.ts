import { createHash } from 'node:crypto'
import { relative } from 'node:path'
import { asc, desc, eq, sql } from 'drizzle-orm'
import type { Cache } from '../cache/index.ts'
import { REPO_ROOT } from '../config.ts'
import type { Db } from '../db/index.ts'
import { type Problem, problems } from '../db/schema/index.ts'
import { NotFoundError } from '../http/errors.ts'
import type { Logger } from '../logger.ts'
import { metrics } from '../metrics/index.ts'

/**
 * The admin hears about problems (docs/faults.md): unexpected errors are grouped by code, route
 * and first stack frame, counted, and stored in `problems`; a resolved group reopens when it happens
 * again. Reports are buffered in memory and written in batches, so a report never waits on the
 * database and an outage of the database itself is stored once it is back. With ALERT_WEBHOOK_URL,
 * each group is also POSTed there as JSON, at most once per group per hour.
 */

/** One occurrence of an unexpected error. */
export interface ProblemReport {
  /** `INTERNAL`, `DATABASE_UNAVAILABLE`, `SESSION_START_FAILED`... */
  code: string
  /** The route template, or where a background failure happened (`dependency:database`). */
  route: string
  error?: unknown
  /** Overrides the message taken from `error`. */
  message?: string | undefined
  /** Overrides the first frame taken from `error`'s stack. */
  frame?: string | undefined
  requestId?: string | undefined
  traceId?: string | undefined
}

export interface ProblemView {
  id: string
  code: string
  route: string
  frame: string
  message: string
  status: 'open' | 'resolved'
  count: number
  firstSeen: string
  lastSeen: string
  sampleRequestId: string | null
  sampleTraceId: string | null
  resolvedAt: string | null
}

export interface ProblemsServiceOptions {
  db: Db
  logger: Logger
  /** Shares the webhook's once-per-hour guard between instances (Redis); optional. */
  cache?: Cache | undefined
  /** ALERT_WEBHOOK_URL: where each new group is POSTed (JSON). */
  webhookUrl?: string | undefined
  /** Groups kept in memory while the database is unavailable (default 500); more are counted and dropped. */
  maxBuffered?: number
  /** Delay before a batch is written (default 200 ms); a failed write is retried every `retryMs`. */
  flushDelayMs?: number
  retryMs?: number
  /** At most one webhook message per group in this period (default one hour). */
  alertIntervalMs?: number
  now?: () => number
}

interface Pending {
  fingerprint: string
  code: string
  route: string
  frame: string
  message: string
  count: number
  firstSeen: number
  lastSeen: number
  requestId: string | undefined
  traceId: string | undefined
}

const MAX_MESSAGE = 300
const MAX_FIELD = 200
const WEBHOOK_TIMEOUT_MS = 5000

const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s)

/**
 * The message worth showing: the innermost error that is not a wrapper. drizzle's wrapper repeats
 * the query and its parameters (a password hash, a visitor's input), so it is never used.
 */
export function messageOf(error: unknown): string {
  let best = ''
  for (let e = error as { message?: unknown; cause?: unknown } | undefined, d = 0; e && d < 5; d++) {
    const m = typeof e.message === 'string' ? e.message : typeof e === 'string' ? e : ''
    if (m && !m.startsWith('Failed query:')) best = m
    if (best && !(e.cause instanceof Error)) break
    e = e.cause as typeof e
  }
  return clip((best || 'unknown error').split('\n')[0]!.trim(), MAX_MESSAGE)
}

/**
 * The first stack frame in our own code (`api/src/posts/service.ts:42`), falling back to the first
 * frame at all; columns are dropped so a reformatted line does not split a group.
 */
export function firstFrame(error: unknown): string {
  const stack = (error as { stack?: unknown } | undefined)?.stack
  if (typeof stack !== 'string') return ''
  const frames = stack
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('at '))
    .map((l) => /\(?((?:\/|[A-Za-z]:\\)[^():]+):(\d+)(?::\d+)?\)?$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
  const ours = frames.find((m) => m[1]!.startsWith(REPO_ROOT) && !m[1]!.includes('node_modules')) ?? frames[0]
  if (!ours) return ''
  const file = ours[1]!.startsWith(REPO_ROOT) ? relative(REPO_ROOT, ours[1]!) : ours[1]!
  return clip(`${file}:${ours[2]}`, MAX_FIELD)
}

export const fingerprintOf = (code: string, route: string, frame: string) =>
  createHash('sha256').update(`${code}\n${route}\n${frame}`).digest('hex').slice(0, 32)

const view = (p: Problem): ProblemView => ({
  id: p.id,
  code: p.code,
  route: p.route,
  frame: p.frame,
  message: p.message,
  status: p.status,
  count: p.count,
  firstSeen: p.firstSeen.toISOString(),
  lastSeen: p.lastSeen.toISOString(),
  sampleRequestId: p.sampleRequestId,
  sampleTraceId: p.sampleTraceId,
  resolvedAt: p.resolvedAt?.toISOString() ?? null,
})

export function createProblemsService(options: ProblemsServiceOptions) {
  const { db, logger, cache, webhookUrl } = options
  const now = options.now ?? Date.now
  const maxBuffered = options.maxBuffered ?? 500
  const flushDelayMs = options.flushDelayMs ?? 200
  const retryMs = options.retryMs ?? 2000
  const alertIntervalMs = options.alertIntervalMs ?? 60 * 60 * 1000
  let buffer = new Map<string, Pending>()
  let timer: ReturnType<typeof setTimeout> | undefined
  let flushing: Promise<boolean> | null = null
  let dropped = 0
  let closed = false
  /** fingerprint → when this instance last sent it to the webhook. */
  const alerted = new Map<string, number>()
  let webhookFailing = false

  const schedule = (ms: number) => {
    if (timer || closed) return
    timer = setTimeout(() => {
      timer = undefined
      void flush()
    }, ms)
    timer.unref?.()
  }

  const merge = (into: Map<string, Pending>, p: Pending): boolean => {
    const had = into.get(p.fingerprint)
    if (had) {
      had.count += p.count
      had.firstSeen = Math.min(had.firstSeen, p.firstSeen)
      if (p.lastSeen >= had.lastSeen) {
        had.lastSeen = p.lastSeen
        had.message = p.message
        had.requestId = p.requestId ?? had.requestId
        had.traceId = p.traceId ?? had.traceId
      }
      return true
    }
    if (into.size >= maxBuffered) return false
    into.set(p.fingerprint, { ...p })
    return true
  }

  async function write(batch: Map<string, Pending>): Promise<void> {
    for (const p of batch.values()) {
      await db
        .insert(problems)
        .values({
          fingerprint: p.fingerprint,
          code: p.code,
          route: p.route,
          frame: p.frame,
          message: p.message,
          status: 'open',
          count: p.count,
          firstSeen: new Date(p.firstSeen),
          lastSeen: new Date(p.lastSeen),
          sampleRequestId: p.requestId ?? null,
          sampleTraceId: p.traceId ?? null,
        })
        .onConflictDoUpdate({
          target: problems.fingerprint,
          set: {
            count: sql`${problems.count} + ${p.count}`,
            lastSeen: sql`greatest(${problems.lastSeen}, excluded.last_seen)`,
            message: sql`excluded.message`,
            sampleRequestId: sql`coalesce(excluded.sample_request_id, ${problems.sampleRequestId})`,
            sampleTraceId: sql`coalesce(excluded.sample_trace_id, ${problems.sampleTraceId})`,
            // A resolved group that happens again is open again.
            status: 'open',
            resolvedAt: null,
          },
        })
      batch.delete(p.fingerprint)
    }
  }

  /** Writes what is buffered; false (and a retry scheduled) when the database refused. */
  function flush(): Promise<boolean> {
    if (flushing) return flushing
    if (buffer.size === 0) return Promise.resolve(true)
    const batch = buffer
    buffer = new Map()
    flushing = write(batch)
      .then(() => true)
      .catch(() => {
        // Keep what was not written, together with what arrived meanwhile (bounded).
        for (const p of batch.values()) if (!merge(buffer, p)) dropped += p.count
        schedule(retryMs)
        return false
      })
      .finally(() => {
        flushing = null
        if (dropped > 0) {
          logger.error(
            { dropped, buffered: buffer.size },
            'problems: buffer full while the database is down; some reports were dropped',
          )
          dropped = 0
        }
        if (buffer.size > 0) schedule(flushDelayMs)
      })
    return flushing
  }

  function alert(p: Pending): void {
    if (!webhookUrl) return
    const t = now()
    const last = alerted.get(p.fingerprint)
    if (last !== undefined && t - last < alertIntervalMs) return
    alerted.set(p.fingerprint, t)
    if (alerted.size > 5000) alerted.delete(alerted.keys().next().value!)
    // Never awaited: a slow or dead receiver must not hold up the request that found the problem.
    void (async () => {
      // Another instance may have sent this group this hour (a Redis outage only loses the sharing).
      const first = cache
        ? await cache.setIfAbsent(`problems:alerted:${p.fingerprint}`, String(t), alertIntervalMs).catch(() => true)
        : true
      if (!first) return
      try {
        const res = await fetch(webhookUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            event: 'problem',
            fingerprint: p.fingerprint,
            code: p.code,
            route: p.route,
            frame: p.frame,
            message: p.message,
            firstSeen: new Date(p.firstSeen).toISOString(),
            lastSeen: new Date(p.lastSeen).toISOString(),
            requestId: p.requestId ?? null,
            traceId: p.traceId ?? null,
          }),
          signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
        })
        await res.body?.cancel().catch(() => {})
        if (!res.ok) throw new Error(`the receiver answered ${res.status}`)
        if (webhookFailing) {
          webhookFailing = false
          logger.warn('alert webhook: delivering again')
        }
      } catch (err) {
        // Logged once per failing spell, not once per problem (the URL may carry a token: never logged).
        if (!webhookFailing) {
          webhookFailing = true
          logger.error({ cause: messageOf(err) }, 'alert webhook: delivery failed (ALERT_WEBHOOK_URL)')
        }
      }
    })()
  }

  return {
    /** Records one occurrence; returns at once (the write is batched, the webhook not awaited). */
    report(input: ProblemReport): void {
      if (closed) return
      try {
        const code = clip(input.code, MAX_FIELD)
        const route = clip(input.route, MAX_FIELD)
        const frame = input.frame ?? firstFrame(input.error)
        const message = input.message ? clip(input.message, MAX_MESSAGE) : messageOf(input.error)
        const t = now()
        const p: Pending = {
          fingerprint: fingerprintOf(code, route, frame),
          code,
          route,
          frame,
          message,
          count: 1,
          firstSeen: t,
          lastSeen: t,
          requestId: input.requestId,
          traceId: input.traceId,
        }
        metrics.problemsReported.inc({ code })
        if (!merge(buffer, p)) dropped++
        alert(p)
        schedule(flushDelayMs)
      } catch (err) {
        logger.error({ cause: messageOf(err) }, 'problems: a report could not be recorded')
      }
    },

    flush,

    /** Groups not yet written (buffered while the database is down). */
    buffered: () => buffer.size,

    /** Every group, open ones first, most recent first (at most `limit`). */
    async list(filter: { status?: 'open' | 'resolved' | undefined; limit?: number } = {}): Promise<ProblemView[]> {
      await flush()
      const rows = await db
        .select()
        .from(problems)
        .where(filter.status ? eq(problems.status, filter.status) : undefined)
        .orderBy(asc(problems.status), desc(problems.lastSeen))
        .limit(filter.limit ?? 200)
      return rows.map(view)
    },

    /** Marks a group resolved; it reopens when it happens again. */
    async resolve(id: string): Promise<ProblemView> {
      const [row] = await db
        .update(problems)
        .set({ status: 'resolved', resolvedAt: new Date(now()) })
        .where(eq(problems.id, id))
        .returning()
      if (!row) throw new NotFoundError('no problem with this id', 'PROBLEM_NOT_FOUND')
      return view(row)
    },

    /** Writes what is buffered (best effort) and stops. */
    async close(): Promise<void> {
      closed = true
      clearTimeout(timer)
      timer = undefined
      await flush().catch(() => false)
    },
  }
}

export type ProblemsService = ReturnType<typeof createProblemsService>
