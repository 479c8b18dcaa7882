import { Elysia } from 'elysia'
import type { Cache } from '../cache/index.ts'
import type { Config } from '../config.ts'
import { clientIp } from '../http/client-ip.ts'
import { TooManyRequestsError } from '../http/errors.ts'
import type { Logger } from '../logger.ts'
import { metrics } from '../metrics/index.ts'
import { isOverLimit, limiterFor, rateLimitHeaders } from './limiter.ts'

export { isOverLimit, limiterFor, rateLimitHeaders } from './limiter.ts'

/** One budget per client IP for the requests a rule matches (the first matching rule wins). */
export interface RateRule {
  /** Names the budget in keys and in the RateLimit headers. */
  name: string
  /** Path prefix the rule covers. */
  prefix: string
  /** Methods the rule covers; omitted means every method. */
  methods?: string[]
  points: number
  durationSec: number
}

const WRITES = ['POST', 'PUT', 'PATCH', 'DELETE']

/** 60 requests a minute per IP on auth routes and on every API write. */
export const DEFAULT_RATE_RULES: readonly RateRule[] = Object.freeze([
  { name: 'auth', prefix: '/api/v1/auth/', points: 60, durationSec: 60 },
  { name: 'write', prefix: '/api/', methods: WRITES, points: 60, durationSec: 60 },
])

export interface RateLimitOptions {
  cache: Cache
  config: Pick<Config, 'trustProxyHops'>
  logger: Logger
  /** Most specific first; defaults to DEFAULT_RATE_RULES. */
  rules?: readonly RateRule[]
}

/**
 * plugin.rate-limit: per-IP budgets shared by every instance through the cache. A Redis outage
 * falls back to a per-process budget (fail open) for general traffic; login has its own limiter
 * that fails closed (auth/login-guard.ts).
 */
export function rateLimitPlugin(options: RateLimitOptions) {
  const rules = (options.rules ?? DEFAULT_RATE_RULES).map((rule) => ({
    rule,
    methods: rule.methods ? new Set(rule.methods) : undefined,
    limiter: limiterFor(options.cache, {
      keyPrefix: `req:${rule.name}`,
      points: rule.points,
      durationSec: rule.durationSec,
      onStoreFailure: 'open',
    }),
  }))
  return new Elysia({ name: 'plugin.rate-limit', seed: rules.map((r) => r.rule) }).onRequest(
    async ({ request, server, set }) => {
      if (request.method === 'OPTIONS') return
      const path = new URL(request.url).pathname
      const match = rules.find((r) => path.startsWith(r.rule.prefix) && (!r.methods || r.methods.has(request.method)))
      if (!match) return
      const ip = clientIp(request, server?.requestIP(request)?.address, options.config.trustProxyHops)
      const { name, points, durationSec } = match.rule
      try {
        const res = await match.limiter.consume(ip)
        Object.assign(set.headers, rateLimitHeaders(name, points, durationSec, res))
      } catch (err) {
        if (isOverLimit(err)) {
          metrics.rateLimitRejections.inc({ limiter: name })
          const retryAfter = Math.max(1, Math.ceil(err.msBeforeNext / 1000))
          throw new TooManyRequestsError(
            `too many requests; try again in ${retryAfter} s`,
            retryAfter,
            rateLimitHeaders(name, points, durationSec, err),
          )
        }
        // Both the store and its insurance failed: do not turn a limiter fault into an outage.
        options.logger.warn({ err, rule: name }, 'rate limiter unavailable; request let through')
      }
    },
  )
}
