import { randomUUID } from 'node:crypto'
import { and, eq, ne, sql } from 'drizzle-orm'
import type { Cache } from '../cache/index.ts'
import type { Db } from '../db/index.ts'
import { refreshTokens, users } from '../db/schema/index.ts'
import { ForbiddenError, ServiceUnavailableError, UnauthorizedError } from '../http/errors.ts'
import type { Logger } from '../logger.ts'
import { createLoginGuard, DEFAULT_LOGIN_LIMITS, type LoginLimits } from './login-guard.ts'
import {
  ACCESS_TTL_SECONDS,
  type AccessClaims,
  CLOCK_TOLERANCE_SECONDS,
  createAccessTokens,
  createSealer,
  hashRefreshToken,
  isRefreshTokenShape,
  MAX_TOKEN_LENGTH,
  newRefreshToken,
} from './tokens.ts'
import { dummyHash, normalizeEmail, type Role, revokeAllSessions, setPassword, verifyPassword } from './users.ts'

export const REFRESH_TTL_SECONDS = 14 * 24 * 60 * 60
/** A retry of the token just rotated, within this window, gets the same new pair (lost responses). */
export const REFRESH_GRACE_MS = 5_000
/** How long the sealed pair is kept for such a retry; longer than the grace window, never much more. */
const GRACE_CACHE_MS = 10_000

export interface AuthUser {
  id: string
  email: string
  role: Role
  displayName: string
}

export interface TokenPair {
  accessToken: string
  refreshToken: string
  tokenType: 'Bearer'
  expiresIn: number
}

/** What the auth macro resolves besides the user: the presented access token. */
export interface AccessTokenInfo {
  jti: string
  sid: string
  exp: number
}

export interface AuthServiceOptions {
  db: Db
  cache: Cache
  logger: Logger
  secret: string
  limits?: Partial<LoginLimits>
}

const keys = {
  denied: (jti: string) => `auth:deny:${jti}`,
  familyRevoked: (familyId: string) => `auth:family-revoked:${familyId}`,
  grace: (parentHash: string) => `auth:grace:${parentHash}`,
}
/** Revocation markers outlive every access token that could carry the family. */
const MARKER_TTL_MS = (ACCESS_TTL_SECONDS + CLOCK_TOLERANCE_SECONDS * 2) * 1000

const invalidToken = () =>
  new UnauthorizedError('the access token is missing, invalid, expired or revoked', 'INVALID_TOKEN')
const invalidRefresh = () =>
  new UnauthorizedError('the refresh token is invalid, expired or revoked', 'INVALID_REFRESH_TOKEN')
const invalidCredentials = () => new UnauthorizedError('email or password is incorrect', 'INVALID_CREDENTIALS')

/** Extracts the token from `Authorization: Bearer <token>`; null when absent or malformed. */
export function bearerToken(header: string | null | undefined): string | null {
  if (!header || header.length > MAX_TOKEN_LENGTH + 16) return null
  const match = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(header)
  return match ? match[1]! : null
}

/**
 * Accounts and tokens (plain TypeScript, no HTTP): login, rotation with reuse detection, logout,
 * password change and the per-request check behind the auth macro.
 */
export function createAuthService(options: AuthServiceOptions) {
  const { db, cache, logger } = options
  const tokens = createAccessTokens(options.secret)
  const sealer = createSealer(options.secret)
  const guard = createLoginGuard(cache, { ...DEFAULT_LOGIN_LIMITS, ...options.limits })
  // Hash once at start so the first unknown-user login is not faster than the rest.
  void dummyHash()

  /** Cache writes that back up the database: a failure is logged, the DB stays authoritative. */
  const bestEffort = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn()
    } catch (err) {
      logger.warn({ err, what }, 'auth cache write failed; the database still enforces it')
    }
  }

  async function issue(userId: string, tokenVersion: number, familyId: string, parentId: string | null, tx: Db) {
    const refreshToken = newRefreshToken()
    const [row] = await tx
      .insert(refreshTokens)
      .values({
        tokenHash: hashRefreshToken(refreshToken),
        familyId,
        parentId,
        userId,
        expiresAt: new Date(Date.now() + REFRESH_TTL_SECONDS * 1000),
      })
      .returning({ id: refreshTokens.id })
    const access = await tokens.sign({ sub: userId, sid: familyId, ver: tokenVersion })
    const pair: TokenPair = {
      accessToken: access.token,
      refreshToken,
      tokenType: 'Bearer',
      expiresIn: ACCESS_TTL_SECONDS,
    }
    return { pair, childId: row!.id }
  }

  async function revokeFamily(familyId: string, userId?: string): Promise<void> {
    await db
      .update(refreshTokens)
      .set({ status: 'revoked' })
      .where(
        and(
          eq(refreshTokens.familyId, familyId),
          ne(refreshTokens.status, 'revoked'),
          userId ? eq(refreshTokens.userId, userId) : undefined,
        ),
      )
    await markFamiliesRevoked([familyId])
  }

  const markFamiliesRevoked = (familyIds: string[]) =>
    bestEffort('family revocation marker', () =>
      Promise.all(familyIds.map((id) => cache.set(keys.familyRevoked(id), '1', MARKER_TTL_MS))),
    )

  const publicUser = (u: { id: string; email: string; role: Role; displayName: string }): AuthUser => ({
    id: u.id,
    email: u.email,
    role: u.role,
    displayName: u.displayName,
  })

  return {
    tokens,

    /** Email + password → a new session (refresh family). Throttled; no user enumeration. */
    async login(input: { email: string; password: string; ip: string }): Promise<TokenPair> {
      const account = normalizeEmail(input.email)
      await guard.admit(input.ip, account)
      const [user] = await db
        .select()
        .from(users)
        .where(and(eq(sql`lower(${users.email})`, account), sql`${users.deletedAt} is null`))
        .limit(1)
      // Unknown users are checked against a dummy hash so both failures take the same time.
      const ok = await verifyPassword(input.password, user?.passwordHash ?? (await dummyHash()))
      if (!user || !ok || user.status !== 'active') {
        // The account is not logged: it may be a password typed into the email field.
        logger.info({ ip: input.ip, known: Boolean(user) }, 'sign-in failed')
        await guard.failed(account)
        throw invalidCredentials()
      }
      await guard.succeeded(account)
      const { pair } = await issue(user.id, user.tokenVersion, randomUUID(), null, db)
      return pair
    },

    /**
     * Rotates a refresh token in one transaction (row locked FOR UPDATE on PostgreSQL; PGlite runs
     * transactions one at a time). A retry of the token just rotated, within the grace window, gets
     * the same pair back; any other reuse revokes the whole family and its access tokens.
     */
    async refresh(presented: string): Promise<TokenPair> {
      if (!isRefreshTokenShape(presented)) throw invalidRefresh()
      const hash = hashRefreshToken(presented)
      const outcome = await db.transaction(async (txRaw) => {
        const tx = txRaw as unknown as Db
        const [row] = await tx.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, hash)).for('update')
        if (!row) return { kind: 'invalid' as const }
        if (row.status === 'revoked') return { kind: 'invalid' as const }
        if (row.status === 'used') {
          const child = row.replacedById
            ? (await tx.select().from(refreshTokens).where(eq(refreshTokens.id, row.replacedById)))[0]
            : undefined
          const withinGrace = row.usedAt !== null && Date.now() - row.usedAt.getTime() <= REFRESH_GRACE_MS
          if (withinGrace && child?.status === 'active') {
            let sealed: string | null
            try {
              sealed = await cache.get(keys.grace(hash))
            } catch {
              // Cannot tell a retry from a theft without the cache: refuse, but revoke nothing.
              return { kind: 'unavailable' as const }
            }
            const pair = sealed ? sealer.open(sealed) : null
            if (pair) return { kind: 'replay' as const, pair: JSON.parse(pair) as TokenPair }
          }
          // Reuse: someone holds a token that was already rotated. Kill the family, committed.
          await tx
            .update(refreshTokens)
            .set({ status: 'revoked' })
            .where(and(eq(refreshTokens.familyId, row.familyId), ne(refreshTokens.status, 'revoked')))
          return { kind: 'reuse' as const, familyId: row.familyId, userId: row.userId }
        }
        if (row.expiresAt.getTime() <= Date.now()) return { kind: 'invalid' as const }
        const [user] = await tx.select().from(users).where(eq(users.id, row.userId))
        if (user?.status !== 'active' || user.deletedAt !== null) return { kind: 'invalid' as const }
        const { pair, childId } = await issue(user.id, user.tokenVersion, row.familyId, row.id, tx)
        await tx
          .update(refreshTokens)
          .set({ status: 'used', usedAt: new Date(), replacedById: childId })
          .where(eq(refreshTokens.id, row.id))
        // Stored before commit: a concurrent retry blocked on the row lock must find it.
        try {
          await cache.set(keys.grace(hash), sealer.seal(JSON.stringify(pair)), GRACE_CACHE_MS)
        } catch {
          throw new ServiceUnavailableError('token refresh is temporarily unavailable', 'AUTH_UNAVAILABLE')
        }
        return { kind: 'rotated' as const, pair }
      })
      switch (outcome.kind) {
        case 'rotated':
        case 'replay':
          return outcome.pair
        case 'unavailable':
          throw new ServiceUnavailableError('token refresh is temporarily unavailable', 'AUTH_UNAVAILABLE')
        case 'reuse':
          logger.warn({ familyId: outcome.familyId, userId: outcome.userId }, 'refresh token reuse: family revoked')
          await markFamiliesRevoked([outcome.familyId])
          throw invalidRefresh()
        default:
          throw invalidRefresh()
      }
    },

    /**
     * Checks `Authorization: Bearer …` for the auth macro: pinned JWT verification, then the
     * denylist, the family, the token version and the account, against the database every time so
     * a revocation is seen by every instance at once.
     */
    async authenticate(header: string | null | undefined): Promise<{ user: AuthUser; token: AccessTokenInfo }> {
      const token = bearerToken(header)
      if (!token) throw invalidToken()
      const claims = await tokens.verify(token)
      if (!claims) throw invalidToken()
      const [denied, familyRevoked, rows] = await Promise.all([
        cache.get(keys.denied(claims.jti)).catch(() => null),
        cache.get(keys.familyRevoked(claims.sid)).catch(() => null),
        db
          .select({
            id: users.id,
            email: users.email,
            role: users.role,
            displayName: users.displayName,
            status: users.status,
            deletedAt: users.deletedAt,
            tokenVersion: users.tokenVersion,
            // Raw names: drizzle leaves columns unqualified in a single-table select.
            familyLive: sql<boolean>`exists (select 1 from refresh_tokens r where r.family_id = ${claims.sid} and r.user_id = "users"."id" and r.status <> 'revoked')`,
          })
          .from(users)
          .where(eq(users.id, claims.sub)),
      ])
      const user = rows[0]
      if (
        denied !== null ||
        familyRevoked !== null ||
        !user ||
        !user.familyLive ||
        user.status !== 'active' ||
        user.deletedAt !== null ||
        user.tokenVersion !== claims.ver
      ) {
        throw invalidToken()
      }
      return { user: publicUser(user), token: { jti: claims.jti, sid: claims.sid, exp: claims.exp } }
    },

    /**
     * Ends a session: denylists the access token until it expires and revokes its refresh family.
     * Either credential is enough; repeating it is harmless (204 again).
     */
    async logout(input: { authorization?: string | null; refreshToken?: string | undefined }): Promise<void> {
      let recognised = false
      const access = bearerToken(input.authorization)
      const claims: AccessClaims | null = access ? await tokens.verify(access) : null
      if (claims) {
        recognised = true
        const ttl = Math.max(1, claims.exp + CLOCK_TOLERANCE_SECONDS - Math.floor(Date.now() / 1000)) * 1000
        await bestEffort('access token denylist', () => cache.set(keys.denied(claims.jti), '1', ttl))
        await revokeFamily(claims.sid, claims.sub)
      }
      if (input.refreshToken && isRefreshTokenShape(input.refreshToken)) {
        const [row] = await db
          .select({ familyId: refreshTokens.familyId })
          .from(refreshTokens)
          .where(eq(refreshTokens.tokenHash, hashRefreshToken(input.refreshToken)))
        if (row) {
          recognised = true
          await revokeFamily(row.familyId)
        }
      }
      if (!recognised) throw invalidToken()
    },

    /** Changes the password: every earlier access and refresh token of the user dies; returns a new session. */
    async changePassword(input: {
      userId: string
      currentPassword: string
      newPassword: string
      ip: string
    }): Promise<TokenPair> {
      const [user] = await db.select().from(users).where(eq(users.id, input.userId))
      if (!user) throw invalidToken()
      const account = normalizeEmail(user.email)
      await guard.admit(input.ip, account)
      if (!(await verifyPassword(input.currentPassword, user.passwordHash))) {
        await guard.failed(account)
        throw new ForbiddenError('the current password is incorrect', 'WRONG_PASSWORD')
      }
      const families = await setPassword(db, user.id, input.newPassword)
      await markFamiliesRevoked(families)
      const [fresh] = await db.select({ tokenVersion: users.tokenVersion }).from(users).where(eq(users.id, user.id))
      const { pair } = await issue(user.id, fresh!.tokenVersion, randomUUID(), null, db)
      return pair
    },

    /** Ends every session of a user (admin action, account changes). */
    async revokeUser(userId: string): Promise<void> {
      const families = await db.transaction((tx) => revokeAllSessions(tx as unknown as Db, userId))
      await markFamiliesRevoked(families)
    },
  }
}

export type AuthService = ReturnType<typeof createAuthService>

/** Admin satisfies editor; editor satisfies only editor; `true` means any signed-in user. */
export function hasRole(user: AuthUser, required: Role | true): boolean {
  if (required === true) return true
  if (required === 'editor') return user.role === 'editor' || user.role === 'admin'
  return user.role === 'admin'
}
