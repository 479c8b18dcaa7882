import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { RunnerKind } from '@shellfolio/runner'
import type { Cache } from '../cache/index.ts'

/**
 * Single-use, short-lived WebSocket tickets kept in the Cache, so a ticket issued by one API
 * instance can be redeemed on any other. Browsers cannot set headers on a WebSocket upgrade, so
 * the ticket travels in the query string: it is useless once redeemed or after its TTL.
 */
export interface TicketPayload {
  sessionId: string
  project: string
  runner: RunnerKind
  ip: string
  /** The embedding page's origin, when opened from an embed. */
  origin?: string
  /** Epoch ms after which the ticket is refused even if the cache still holds it. */
  expiresAt: number
}

const TICKET_FORMAT = /^[A-Za-z0-9_-]{43}$/

/** SHA-256 (base64url) of a secret token: what is stored and compared instead of the token itself. */
export const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url')

/** Compares two tokens (or two hashes) in constant time. */
export function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** Two client IPs are the same address (an IPv4 address may arrive IPv6-mapped on one socket). */
export function sameIp(a: string, b: string): boolean {
  const plain = (ip: string) => ip.toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '')
  return plain(a) === plain(b)
}

export class TicketStore {
  constructor(
    private readonly cache: Cache,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Stores the payload and returns the opaque ticket (256 random bits, base64url). */
  async issue(payload: Omit<TicketPayload, 'expiresAt'>): Promise<{ ticket: string; expiresAt: number }> {
    const ticket = randomBytes(32).toString('base64url')
    const expiresAt = this.now() + this.ttlMs
    await this.cache.set(`terminal:ticket:${hashToken(ticket)}`, JSON.stringify({ ...payload, expiresAt }), this.ttlMs)
    return { ticket, expiresAt }
  }

  /**
   * Returns the payload once; every later call (on any instance) and every call after expiry
   * returns null. The claim is an atomic set-if-absent, so two concurrent redeems cannot both win.
   * With `ip`, a ticket issued to another client IP is refused (`'wrong-ip'`) without being used
   * up: a leaked ticket is worthless elsewhere, and its owner can still redeem it.
   */
  async redeem(ticket: string, ip?: string): Promise<TicketPayload | 'wrong-ip' | null> {
    if (!TICKET_FORMAT.test(ticket)) return null
    const key = hashToken(ticket)
    const raw = await this.cache.get(`terminal:ticket:${key}`)
    if (!raw) return null
    const payload = JSON.parse(raw) as TicketPayload
    if (ip !== undefined && !sameIp(payload.ip, ip)) return 'wrong-ip'
    const claimed = await this.cache.setIfAbsent(`terminal:ticket-used:${key}`, '1', this.ttlMs + 1000)
    if (!claimed) return null
    await this.cache.del(`terminal:ticket:${key}`)
    return payload.expiresAt > this.now() ? payload : null
  }
}
