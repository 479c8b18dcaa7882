import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { OpenOptions, RunnerKind, TerminalSize } from '../types.ts'
import type { BundleRef } from './bundle.ts'
import type { FilesGrant } from './files.ts'

/**
 * Session grants between an API instance and a runner service (placement, docs/runners.md). The shared
 * secret (RUNNER_TOKEN) never travels: each request carries a grant signed with a key derived from
 * it, valid for seconds, bound to one runner service's current boot, and accepted once. The end
 * user's token is never involved.
 *
 *   <base64url(JSON body)>.<base64url(HMAC-SHA256(key, body))>
 */
export type GrantBody =
  /**
   * Open a session of `kind` for this project and size. `bundle` names the project's files by hash
   * and size when the API sends them over the socket (bundle.ts); without it the service looks the
   * project up by name under its own roots.
   */
  | { typ: 'open'; kind: RunnerKind; options: OpenOptions; bundle?: BundleRef }
  /** Re-attach to a live session of this service (the API instance holding it died). */
  | { typ: 'attach'; session: string; size: TerminalSize }
  /** Read this service's capacity and health. */
  | { typ: 'health' }
  /** One upload into, or download from, a live session's workspace (files.ts). */
  | FilesGrant

export type Grant = GrantBody & {
  /** The runner service boot the grant is for; `*` only for health. */
  aud: string
  /** Unique id: a service accepts each grant once. */
  jti: string
  /** Issued at and expiry, epoch ms. */
  iat: number
  exp: number
}

/** How long a grant is valid. */
export const GRANT_TTL_MS = 30_000
/**
 * Tolerated clock difference between API and runner hosts, for a grant issued "in the future" only:
 * a grant is never accepted after its `exp` by this service's clock (docs/terminal-protocol.md).
 */
const SKEW_MS = 30_000
/** Grants larger than this are refused before any parsing (an open grant is well under 8 KB). */
const MAX_GRANT_CHARS = 16 * 1024

const keyOf = (secret: string) => createHmac('sha256', secret).update('shellfolio runner grant v1').digest()
const mac = (key: Buffer, body: string) => createHmac('sha256', key).update(body).digest()

export function signGrant(secret: string, body: GrantBody, aud: string, now = Date.now()): string {
  const grant: Grant = { ...body, aud, jti: randomBytes(16).toString('base64url'), iat: now, exp: now + GRANT_TTL_MS }
  const encoded = Buffer.from(JSON.stringify(grant)).toString('base64url')
  return `${encoded}.${mac(keyOf(secret), encoded).toString('base64url')}`
}

export interface GrantVerifier {
  /** The grant, or why it is refused (never echoing the grant). */
  verify(token: string): Grant | { refused: string }
}

/**
 * Verifies grants for one runner service boot: signature, audience (`boot`, or `*` for health),
 * lifetime, and single use (ids are remembered until they expire).
 */
export function createGrantVerifier(secret: string, boot: string, now: () => number = Date.now): GrantVerifier {
  const key = keyOf(secret)
  const seen = new Map<string, number>()
  let lastPrune = 0
  const prune = (t: number) => {
    if (t - lastPrune < 5_000) return
    lastPrune = t
    // An id only needs remembering while its grant could still be accepted.
    for (const [jti, exp] of seen) if (exp < t) seen.delete(jti)
  }
  return {
    verify(token) {
      if (token.length > MAX_GRANT_CHARS) return { refused: 'grant too large' }
      const dot = token.indexOf('.')
      if (dot <= 0) return { refused: 'malformed grant' }
      const encoded = token.slice(0, dot)
      const given = Buffer.from(token.slice(dot + 1), 'base64url')
      const expected = mac(key, encoded)
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { refused: 'bad signature' }
      let grant: Grant
      try {
        grant = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as Grant
      } catch {
        return { refused: 'malformed grant' }
      }
      const t = now()
      prune(t)
      if (typeof grant.jti !== 'string' || typeof grant.exp !== 'number' || typeof grant.iat !== 'number')
        return { refused: 'malformed grant' }
      if (grant.exp <= t) return { refused: 'grant expired' }
      if (grant.iat > t + SKEW_MS || grant.exp - grant.iat > GRANT_TTL_MS) return { refused: 'grant lifetime invalid' }
      if (grant.aud !== boot && !(grant.typ === 'health' && grant.aud === '*'))
        return { refused: 'grant is for another runner service (or an earlier start of this one)' }
      if (seen.has(grant.jti)) return { refused: 'grant already used' }
      seen.set(grant.jti, grant.exp)
      return grant
    },
  }
}

/** Reads `Authorization: Grant <token>`. */
export function grantOf(req: Request): string | null {
  const header = req.headers.get('authorization') ?? ''
  return header.startsWith('Grant ') ? header.slice(6).trim() : null
}
