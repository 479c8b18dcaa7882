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
   */
  async redeem(ticket: string): Promise<TicketPayload | null> {
    if (!TICKET_FORMAT.test(ticket)) return null
    const key = hashToken(ticket)
    const claimed = await this.cache.setIfAbsent(`terminal:ticket-used:${key}`, '1', this.ttlMs + 1000)
    if (!claimed) return null
    const raw = await this.cache.get(`terminal:ticket:${key}`)
    await this.cache.del(`terminal:ticket:${key}`)
    if (!raw) return null
    const payload = JSON.parse(raw) as TicketPayload
    return payload.expiresAt > this.now() ? payload : null
  }
}
