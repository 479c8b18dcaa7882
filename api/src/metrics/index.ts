import { timingSafeEqual } from 'node:crypto'
import { Elysia, StatusMap } from 'elysia'
import { NotFoundError } from '../http/errors.ts'
import { CONTENT_TYPE, Registry } from './registry.ts'

export { Counter, Gauge, Histogram, type Labels, Registry } from './registry.ts'

/** Latency buckets in seconds: 1 ms to 10 s (terminal session creation can take seconds). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
/** Session start buckets in seconds (a cold Docker container takes ~1 s, a warm one ~50 ms). */
const START_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30]

/**
 * Creates the Shellfolio metric set on a registry. Every instance exposes the same names, so
 * dashboards sum over instances (`sum by (route) (rate(shellfolio_http_requests_total[5m]))`).
 */
export function createMetrics(registry = new Registry()) {
  const startedAt = Date.now()
  const m = {
    registry,
    /** HTTP latency by method and matched route template (never the raw path). */
    httpDuration: registry.histogram(
      'shellfolio_http_request_duration_seconds',
      'HTTP request latency by route template',
      ['method', 'route'],
      LATENCY_BUCKETS,
    ),
    /** HTTP requests by method, route template and status code. */
    httpRequests: registry.counter('shellfolio_http_requests_total', 'HTTP requests by route template and status', [
      'method',
      'route',
      'status',
    ]),
    /** Terminal sessions attached to this instance, by runner kind: inc on open, dec on end. */
    sessionsActive: registry.gauge(
      'shellfolio_terminal_sessions_active',
      'Live terminal sessions held by this instance, by runner',
      ['runner'],
    ),
    /** Terminal sessions started, by runner kind. */
    sessionStarts: registry.counter('shellfolio_terminal_session_starts_total', 'Terminal sessions started', [
      'runner',
    ]),
    /** Terminal sessions that failed to start or died with an error, by runner and a short reason code. */
    sessionFailures: registry.counter(
      'shellfolio_terminal_session_failures_total',
      'Terminal sessions that failed to start or ended in an error',
      ['runner', 'reason'],
    ),
    /** Time to open a session (ticket to ready), by runner. */
    sessionStartDuration: registry.histogram(
      'shellfolio_terminal_session_start_seconds',
      'Time to open a terminal session',
      ['runner'],
      START_BUCKETS,
    ),
    /** Pre-started containers ready for a session, by runner (set it, or sample it with `sample`). */
    warmPoolSize: registry.gauge('shellfolio_runner_warm_pool_size', 'Pre-started sandboxes ready for a session', [
      'runner',
    ]),
    /** Requests refused by a rate limiter, by limiter name (`auth_token`, `terminal_sessions`...). */
    rateLimitRejections: registry.counter(
      'shellfolio_rate_limit_rejections_total',
      'Requests refused by a rate limiter',
      ['limiter'],
    ),
    /** Read-cache invalidations received over pub/sub, by cache namespace (`posts`, `projects`...). */
    cacheInvalidations: registry.counter(
      'shellfolio_cache_invalidations_total',
      'Cache invalidations received over pub/sub',
      ['channel'],
    ),
    /** Terminal input bytes refused because a session's input budget was full (docs/budgets.md). */
    terminalInputRefused: registry.counter(
      'shellfolio_terminal_input_refused_bytes_total',
      'Terminal input bytes refused because the session was not taking its input',
      ['runner'],
    ),
    /** 1 while a dependency answers, 0 during an outage (docs/faults.md), by `database`, `cache`, `storage`, `runner`. */
    dependencyUp: registry.gauge(
      'shellfolio_dependency_up',
      'Whether a dependency answers (1) or is in an outage (0)',
      ['dependency'],
    ),
    /** Requests and background writes that failed because a dependency was unavailable. */
    dependencyErrors: registry.counter(
      'shellfolio_dependency_errors_total',
      'Operations that failed because a dependency was unavailable',
      ['dependency'],
    ),
    /** Outages seen (one per down-then-up cycle), by dependency. */
    dependencyOutages: registry.counter('shellfolio_dependency_outages_total', 'Dependency outages seen', [
      'dependency',
    ]),
    /** Unexpected errors reported to the Problems list (api/src/problems), by code. */
    problemsReported: registry.counter('shellfolio_problems_reported_total', 'Unexpected errors reported', ['code']),
    residentMemory: registry.gauge('process_resident_memory_bytes', 'Resident set size in bytes'),
    heapUsed: registry.gauge('shellfolio_js_heap_used_bytes', 'JavaScript heap in use, in bytes'),
    startTime: registry.gauge('process_start_time_seconds', 'Start time of the process since the epoch, in seconds'),
    /**
     * Runs `fn` just before each scrape: use it to sample a value someone else owns, e.g.
     * `metrics.sample(() => metrics.warmPoolSize.set({ runner: 'docker' }, runner.pool.ready()))`.
     */
    sample: (fn: () => void) => registry.collect(fn),
  }
  m.startTime.set(undefined, Math.floor(startedAt / 1000))
  registry.collect(() => {
    const usage = process.memoryUsage()
    m.residentMemory.set(undefined, usage.rss)
    m.heapUsed.set(undefined, usage.heapUsed)
  })
  return m
}

export type Metrics = ReturnType<typeof createMetrics>

/**
 * The process-wide metric set. Feature modules record into it directly:
 *
 *   metrics.sessionsActive.inc({ runner: 'docker' })
 *   metrics.rateLimitRejections.inc({ limiter: 'auth_token' })
 */
export const metrics: Metrics = createMetrics()

const starts = new WeakMap<Request, number>()

function statusOf(set: { status?: number | string }, response: unknown): number {
  if (response instanceof Response) return response.status
  if (typeof set.status === 'number') return set.status
  if (typeof set.status === 'string') return (StatusMap as Record<string, number>)[set.status] ?? 200
  return 200
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

export interface MetricsModuleOptions {
  /** The metric set to record into and expose (default the process-wide one). */
  metrics?: Metrics
  /** When set, GET /metrics needs `Authorization: Bearer <token>` (METRICS_TOKEN). */
  token?: string | undefined
  /**
   * True in production: without a token, GET /metrics answers 404 instead of serving the metrics
   * to anyone (docs/configuration.md).
   */
  requireToken?: boolean
}

/**
 * module.metrics: times every request by its matched route template and serves GET /metrics in the
 * Prometheus text format. Register it right after plugin.http so its timer starts early.
 */
export function metricsModule(options: MetricsModuleOptions = {}) {
  const m = options.metrics ?? metrics
  return new Elysia({ name: 'module.metrics' })
    .onRequest(({ request }) => {
      starts.set(request, performance.now())
    })
    .onAfterResponse({ as: 'global' }, ({ request, route, set, responseValue }) => {
      const started = starts.get(request)
      // An unmatched path has no template; never label by the raw path (unbounded cardinality).
      const template = route || 'unmatched'
      const method = request.method
      const status = statusOf(set, responseValue)
      m.httpRequests.inc({ method, route: template, status })
      if (started !== undefined)
        m.httpDuration.observe({ method, route: template }, (performance.now() - started) / 1000)
    })
    .get(
      '/metrics',
      async ({ request, set }) => {
        set.headers['cache-control'] = 'no-store'
        // why: a production instance reachable from outside must not publish its internals by default
        if (!options.token && options.requireToken) throw new NotFoundError('no route for GET /metrics')
        if (options.token) {
          const auth = request.headers.get('authorization') ?? ''
          const given = auth.startsWith('Bearer ') ? auth.slice(7) : ''
          if (!sameSecret(given, options.token)) {
            set.headers['www-authenticate'] = 'Bearer realm="metrics"'
            return new Response('metrics need the bearer token in METRICS_TOKEN\n', {
              status: 401,
              headers: { 'content-type': 'text/plain; charset=utf-8', 'www-authenticate': 'Bearer realm="metrics"' },
            })
          }
        }
        return new Response(await m.registry.render(), {
          headers: { 'content-type': CONTENT_TYPE, 'cache-control': 'no-store' },
        })
      },
      { detail: { summary: 'Prometheus metrics (text exposition format)', tags: ['health'] } },
    )
}
