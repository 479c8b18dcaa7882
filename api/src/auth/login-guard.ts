import type { Cache } from '../cache/index.ts'
import { ServiceUnavailableError, TooManyRequestsError } from '../http/errors.ts'
import { metrics } from '../metrics/index.ts'
import { isOverLimit, limiterFor, rateLimitHeaders } from '../rate-limit/limiter.ts'

/** Login throttling knobs; the defaults suit production, tests pass small numbers. */
export interface LoginLimits {
  /** Login attempts per IP per window. */
  ipPoints: number
  ipDurationSec: number
  /** Consecutive failures per account before backoff starts. */
  accountFreeFailures: number
  /** First block after the free failures; doubles with each further failure. */
  backoffBaseSec: number
  backoffCapSec: number
  /** Consecutive failures are forgotten after this long without one (or at a success). */
  failureMemorySec: number
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = Object.freeze({
  ipPoints: 20,
  ipDurationSec: 10 * 60,
  accountFreeFailures: 5,
  backoffBaseSec: 2,
  backoffCapSec: 15 * 60,
  failureMemorySec: 24 * 60 * 60,
})

/**
 * Per-IP and per-account login throttling. The account key is the normalised email whether or not
 * the account exists (unknown accounts back off exactly like real ones: no enumeration). Backoff is
 * exponential and capped instead of a permanent lockout, so an attacker cannot lock a user out for
 * good. Every limiter here fails closed: when Redis is configured but down, login answers 503.
 */
export function createLoginGuard(cache: Cache, limits: LoginLimits) {
  const tag = `${limits.ipPoints}.${limits.ipDurationSec}.${limits.accountFreeFailures}.${limits.backoffBaseSec}`
  const ip = limiterFor(cache, {
    keyPrefix: `login-ip:${tag}`,
    points: limits.ipPoints,
    durationSec: limits.ipDurationSec,
    onStoreFailure: 'closed',
  })
  const failures = limiterFor(cache, {
    keyPrefix: `login-fail:${tag}`,
    points: 1_000_000,
    durationSec: limits.failureMemorySec,
    onStoreFailure: 'closed',
  })
  const blocks = limiterFor(cache, {
    keyPrefix: `login-block:${tag}`,
    points: 1,
    durationSec: 1,
    onStoreFailure: 'closed',
  })
  const unavailable = () => new ServiceUnavailableError('sign-in is temporarily unavailable', 'AUTH_UNAVAILABLE')

  return {
    /** Throws 429 (with RateLimit headers) when the IP or the account is throttled, 503 when the store is down. */
    async admit(clientIp: string, account: string): Promise<void> {
      let blocked: Awaited<ReturnType<typeof blocks.get>>
      try {
        blocked = await blocks.get(account)
      } catch {
        throw unavailable()
      }
      if (blocked && blocked.consumedPoints > 1 && blocked.msBeforeNext > 0) {
        metrics.rateLimitRejections.inc({ limiter: 'login_account' })
        const retryAfter = Math.max(1, Math.ceil(blocked.msBeforeNext / 1000))
        throw new TooManyRequestsError(`too many failed sign-ins; try again in ${retryAfter} s`, retryAfter, {
          'RateLimit-Policy': `"login-account";q=${limits.accountFreeFailures};w=${limits.failureMemorySec}`,
          RateLimit: `"login-account";r=0;t=${retryAfter}`,
        })
      }
      try {
        await ip.consume(clientIp)
      } catch (err) {
        if (!isOverLimit(err)) throw unavailable()
        metrics.rateLimitRejections.inc({ limiter: 'login_ip' })
        const retryAfter = Math.max(1, Math.ceil(err.msBeforeNext / 1000))
        throw new TooManyRequestsError(
          `too many sign-in attempts from this address; try again in ${retryAfter} s`,
          retryAfter,
          rateLimitHeaders('login-ip', limits.ipPoints, limits.ipDurationSec, err),
        )
      }
    },
    /** Records a failure; past the free ones, blocks the account for a doubling, capped time. */
    async failed(account: string): Promise<void> {
      try {
        const res = await failures.penalty(account, 1)
        const over = res.consumedPoints - limits.accountFreeFailures
        if (over > 0) {
          const seconds = Math.min(limits.backoffCapSec, limits.backoffBaseSec * 2 ** Math.min(over - 1, 30))
          await blocks.block(account, seconds)
        }
      } catch {
        throw unavailable()
      }
    },
    /** A success forgets the account's failures. */
    async succeeded(account: string): Promise<void> {
      try {
        await Promise.all([failures.delete(account), blocks.delete(account)])
      } catch {
        throw unavailable()
      }
    },
  }
}

export type LoginGuard = ReturnType<typeof createLoginGuard>
