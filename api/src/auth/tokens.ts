import { createCipheriv, createDecipheriv, createHash, randomBytes, randomUUID } from 'node:crypto'
import { jwt } from '@elysiajs/jwt'
import { t } from 'elysia'

/**
 * Access tokens (HS256 JWTs) and opaque refresh tokens.
 *
 * We sign and verify through @elysiajs/jwt, but never call its `verify` without options: bare, it
 * accepts HS384/HS512 tokens signed with our secret, tokens without `exp` and any `iss`/`aud`
 * (@elysiajs/jwt 1.4). The plugin forwards options to jose's `jwtVerify`, which can pin everything
 * we need, and its `schema` checks our private claims, so there is no reason to bypass it.
 */

export const ISSUER = 'shellfolio'
export const AUDIENCE = 'shellfolio-api'
export const ACCESS_TTL_SECONDS = 15 * 60
export const CLOCK_TOLERANCE_SECONDS = 5
/** Anything longer is not one of ours: rejected before any parsing. */
export const MAX_TOKEN_LENGTH = 4096

/** The claims of an access token once verified. */
export interface AccessClaims {
  iss: string
  aud: string | string[]
  sub: string
  iat: number
  exp: number
  jti: string
  /** Refresh-token family (the login session). */
  sid: string
  /** The user's token_version when issued. */
  ver: number
  typ: 'access'
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const claimsSchema = t.Object({
  sub: t.String({ format: 'uuid' }),
  jti: t.String({ minLength: 8, maxLength: 64 }),
  sid: t.String({ format: 'uuid' }),
  ver: t.Integer({ minimum: 0 }),
  typ: t.Literal('access'),
  iat: t.Number(),
  exp: t.Number(),
})

export function createAccessTokens(secret: string) {
  if (Buffer.byteLength(secret) < 32) throw new Error('JWT secret must be at least 32 bytes')
  const signer = jwt({ name: 'accessJwt', secret, alg: 'HS256', iss: ISSUER, aud: AUDIENCE, schema: claimsSchema })
    .decorator.accessJwt
  const pinned = {
    algorithms: ['HS256'],
    issuer: ISSUER,
    audience: AUDIENCE,
    typ: 'JWT',
    requiredClaims: ['iss', 'aud', 'sub', 'iat', 'exp', 'jti', 'sid', 'ver', 'typ'],
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    // A token claiming to be issued more than this long ago is too old whatever its exp says.
    maxTokenAge: ACCESS_TTL_SECONDS + CLOCK_TOLERANCE_SECONDS,
  } as const

  return {
    /** Signs an access token for a user session; `exp` is always set (sign() drops it when undefined). */
    async sign(input: { sub: string; sid: string; ver: number }): Promise<{ token: string; jti: string; exp: number }> {
      const jti = randomUUID()
      const exp = Math.floor(Date.now() / 1000) + ACCESS_TTL_SECONDS
      const token = await signer.sign({ sub: input.sub, sid: input.sid, ver: input.ver, typ: 'access', jti, exp })
      return { token, jti, exp }
    },
    /** The verified claims, or null for any token that is not a valid, current access token of ours. */
    async verify(token: string): Promise<AccessClaims | null> {
      if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return null
      const claims = await signer.verify(token, {
        ...pinned,
        algorithms: [...pinned.algorithms],
        requiredClaims: [...pinned.requiredClaims],
      })
      if (claims === false) return null
      // The schema's `format: 'uuid'` is not enforced by the plugin's validator: check it here, since
      // a non-uuid sub would make PostgreSQL throw (a 500) instead of a 401.
      if (!UUID.test(String(claims.sub)) || !UUID.test(String(claims.sid))) return null
      return claims as unknown as AccessClaims
    },
  }
}

export type AccessTokens = ReturnType<typeof createAccessTokens>

/** Refresh tokens: 256 random bits, base64url, with a prefix so they are recognisable in leaks. */
const REFRESH_PREFIX = 'sfr_'
const REFRESH_PATTERN = /^sfr_[A-Za-z0-9_-]{43}$/

export function newRefreshToken(): string {
  return REFRESH_PREFIX + randomBytes(32).toString('base64url')
}

export function isRefreshTokenShape(token: string): boolean {
  return REFRESH_PATTERN.test(token)
}

/** Only this hash is stored; the token itself never touches the database. */
export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

/**
 * Seals a short-lived value (the token pair kept for a grace-window retry) so that the cache
 * never holds a usable refresh token in clear. AES-256-GCM with a key derived from the JWT secret.
 */
export function createSealer(secret: string) {
  const key = createHash('sha256').update(`shellfolio:refresh-grace:${secret}`).digest()
  return {
    seal(plain: string): string {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
      return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')
    },
    open(sealed: string): string | null {
      try {
        const raw = Buffer.from(sealed, 'base64url')
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12))
        decipher.setAuthTag(raw.subarray(12, 28))
        return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')
      } catch {
        return null
      }
    },
  }
}
