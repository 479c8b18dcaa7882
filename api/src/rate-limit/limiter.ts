import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible'
import type { Cache } from '../cache/index.ts'

/**
 * rate-limiter-flexible over our cache: RateLimiterRedis on the cache's ioredis client (its key
 * prefix applies, so every instance on the same prefix shares the counters), RateLimiterMemory on
 * the in-process cache. Memory limiters are kept per cache object so that two apps built over the
 * same in-process cache share their counters exactly as two instances share Redis.
 */

export interface LimiterSpec {
  /** Part of every key: two specs with the same name share counters. */
  keyPrefix: string
  points: number
  durationSec: number
  /**
   * 'closed': a store failure rejects with the store's error (callers answer 503).
   * 'open': fall back to a per-process memory limiter while Redis is away.
   */
  onStoreFailure: 'closed' | 'open'
}

const memoryLimiters = new WeakMap<Cache, Map<string, RateLimiterAbstract>>()

export function limiterFor(cache: Cache, spec: LimiterSpec): RateLimiterAbstract {
  const id = `${spec.keyPrefix}:${spec.points}:${spec.durationSec}:${spec.onStoreFailure}`
  let byId = memoryLimiters.get(cache)
  if (!byId) {
    byId = new Map()
    memoryLimiters.set(cache, byId)
  }
  const existing = byId.get(id)
  if (existing) return existing
  const base = { keyPrefix: `rl:${spec.keyPrefix}`, points: spec.points, duration: spec.durationSec }
  const limiter =
    cache.kind === 'redis' && cache.redis
      ? new RateLimiterRedis({
          ...base,
          storeClient: cache.redis,
          // Fail fast instead of queueing while Redis reconnects.
          rejectIfRedisNotReady: true,
          ...(spec.onStoreFailure === 'open' ? { insuranceLimiter: new RateLimiterMemory(base) } : {}),
        })
      : new RateLimiterMemory(base)
  byId.set(id, limiter)
  return limiter
}

/** A rejection from a limiter is either "over the limit" (RateLimiterRes) or a store error. */
export function isOverLimit(err: unknown): err is RateLimiterRes {
  return err instanceof RateLimiterRes
}

/**
 * IETF RateLimit headers (draft-ietf-httpapi-ratelimit-headers): the policy as
 * `"name";q=quota;w=window` and the current state as `"name";r=remaining;t=seconds-to-reset`.
 */
export function rateLimitHeaders(
  name: string,
  points: number,
  durationSec: number,
  res: { remainingPoints: number; msBeforeNext: number },
): Record<string, string> {
  const reset = Math.max(0, Math.ceil(res.msBeforeNext / 1000))
  return {
    'RateLimit-Policy': `"${name}";q=${points};w=${durationSec}`,
    RateLimit: `"${name}";r=${Math.max(0, res.remainingPoints)};t=${reset}`,
  }
}
