import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { eq, sql } from 'drizzle-orm'
import { decodePayload, expect401, login, makeUser, me, PASSWORD, type Pair, refresh } from '../../test/auth-kit.ts'
import { BACKENDS, type Backend, openBackend, req, testDeps } from '../../test/harness.ts'
import { createApp } from '../app.ts'
import { openDatabase } from '../db/index.ts'
import { refreshTokens, users } from '../db/schema/index.ts'
import { hashRefreshToken } from './tokens.ts'
import { setStatusByEmail } from './users.ts'

// Password hashing (argon2id) is deliberately slow, and slower on a loaded CI machine.
setDefaultTimeout(30_000)

const json = async <T>(res: Response) => ((await res.json()) as { data: T }).data

/** Sessions: rotation with reuse detection, logout, password change and account state. */
describe.each(BACKENDS)('sessions (%s)', (kind) => {
  let backend: Backend
  let app: ReturnType<typeof createApp>
  const deps = () => ({ ...testDeps(backend), rateLimits: [], auth: { limits: { ipPoints: 10_000 } } })

  beforeAll(async () => {
    backend = await openBackend(kind)
    app = createApp(deps())
  }, 60_000)
  afterAll(() => backend.close())

  const db = () => backend.database.db
  const rowOf = async (token: string) =>
    (
      await db()
        .select()
        .from(refreshTokens)
        .where(eq(refreshTokens.tokenHash, hashRefreshToken(token)))
    )[0]!
  /** Moves a rotation into the past instead of sleeping past the grace window. */
  const ageRotation = (token: string) =>
    db()
      .update(refreshTokens)
      .set({ usedAt: sql`now() - interval '1 minute'` })
      .where(eq(refreshTokens.tokenHash, hashRefreshToken(token)))

  test('refresh rotates: the old token is marked used, the new one is in the same family', async () => {
    const user = await makeUser(db())
    const first = await login(app, user.email)
    const res = await refresh(app, first.refreshToken)
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const second = await json<Pair>(res)
    expect(second.refreshToken).not.toBe(first.refreshToken)
    const [parent, child] = [await rowOf(first.refreshToken), await rowOf(second.refreshToken)]
    expect(parent).toMatchObject({ status: 'used', replacedById: child.id })
    expect(child).toMatchObject({ status: 'active', parentId: parent.id, familyId: parent.familyId })
    expect(decodePayload(second.accessToken).sid).toBe(parent.familyId)
    // Only hashes are stored.
    const stored = await db().select().from(refreshTokens)
    expect(JSON.stringify(stored)).not.toContain(first.refreshToken.slice(4))
    expect((await me(app, second.accessToken)).status).toBe(200)
  })

  test('a retry of the just-rotated token inside the grace window gets the same pair', async () => {
    const user = await makeUser(db())
    const first = await login(app, user.email)
    const a = await json<Pair>(await refresh(app, first.refreshToken))
    const retry = await refresh(app, first.refreshToken)
    expect(retry.status).toBe(200)
    expect(await json<Pair>(retry)).toEqual(a)
    expect((await me(app, a.accessToken)).status).toBe(200)
    expect((await refresh(app, a.refreshToken)).status).toBe(200)
  })

  test('reuse after rotation revokes the family: the rotated child and every access token die', async () => {
    const user = await makeUser(db())
    const first = await login(app, user.email)
    const child = await json<Pair>(await refresh(app, first.refreshToken))
    await ageRotation(first.refreshToken)
    await expect401(await refresh(app, first.refreshToken), 'INVALID_REFRESH_TOKEN')
    await expect401(await refresh(app, child.refreshToken), 'INVALID_REFRESH_TOKEN')
    await expect401(await me(app, child.accessToken))
    await expect401(await me(app, first.accessToken))
    const family = await db()
      .select({ status: refreshTokens.status })
      .from(refreshTokens)
      .where(eq(refreshTokens.familyId, (await rowOf(first.refreshToken)).familyId))
    expect(family.map((r) => r.status)).toEqual(['revoked', 'revoked'])
    // Another session of the same user is untouched.
    const other = await login(app, user.email)
    expect((await me(app, other.accessToken)).status).toBe(200)
  })

  test('reuse of an older ancestor is never a grace retry', async () => {
    const user = await makeUser(db())
    const first = await login(app, user.email)
    const second = await json<Pair>(await refresh(app, first.refreshToken))
    const third = await json<Pair>(await refresh(app, second.refreshToken))
    // `first` was rotated seconds ago but its child has moved on: that is theft, not a retry.
    await expect401(await refresh(app, first.refreshToken), 'INVALID_REFRESH_TOKEN')
    await expect401(await refresh(app, third.refreshToken), 'INVALID_REFRESH_TOKEN')
    await expect401(await me(app, third.accessToken))
  })

  test('ten concurrent refreshes of one token leave exactly one active child', async () => {
    const user = await makeUser(db())
    const first = await login(app, user.email)
    const results = await Promise.all(Array.from({ length: 10 }, () => refresh(app, first.refreshToken)))
    const statuses = results.map((r) => r.status)
    expect(statuses.every((s) => s === 200)).toBe(true)
    const pairs = await Promise.all(results.map((r) => json<Pair>(r)))
    expect(new Set(pairs.map((p) => p.refreshToken)).size).toBe(1)
    const parent = await rowOf(first.refreshToken)
    const family = await db().select().from(refreshTokens).where(eq(refreshTokens.familyId, parent.familyId))
    expect(family.filter((r) => r.status === 'active')).toHaveLength(1)
    expect(family.filter((r) => r.parentId === parent.id)).toHaveLength(1)
    expect(family).toHaveLength(2)
  })

  test('an expired refresh token is rejected', async () => {
    const user = await makeUser(db())
    const first = await login(app, user.email)
    await db()
      .update(refreshTokens)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(refreshTokens.tokenHash, hashRefreshToken(first.refreshToken)))
    await expect401(await refresh(app, first.refreshToken), 'INVALID_REFRESH_TOKEN')
  })

  test('logout revokes the family and denylists the access token; repeating it is a 204 again', async () => {
    const user = await makeUser(db())
    const pair = await login(app, user.email)
    const logout = () =>
      app.handle(
        req('/api/v1/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${pair.accessToken}` } }),
      )
    const res = await logout()
    expect(res.status).toBe(204)
    expect(await res.text()).toBe('')
    await expect401(await me(app, pair.accessToken))
    await expect401(await refresh(app, pair.refreshToken), 'INVALID_REFRESH_TOKEN')
    expect(await backend.cache.get(`auth:deny:${decodePayload(pair.accessToken).jti}`)).not.toBeNull()
    expect((await logout()).status).toBe(204)
  })

  test('the cache-side denylist and family marker each reject a token on their own', async () => {
    const user = await makeUser(db())
    const a = await login(app, user.email)
    const b = await login(app, user.email)
    expect((await me(app, a.accessToken)).status).toBe(200)
    await backend.cache.set(`auth:deny:${decodePayload(a.accessToken).jti}`, '1', 60_000)
    await expect401(await me(app, a.accessToken))
    await backend.cache.set(`auth:family-revoked:${decodePayload(b.accessToken).sid}`, '1', 60_000)
    await expect401(await me(app, b.accessToken))
  })

  test('logout with only the refresh token ends the session too; no credential at all is a 401', async () => {
    const user = await makeUser(db())
    const pair = await login(app, user.email)
    const res = await app.handle(
      req('/api/v1/auth/logout', { method: 'POST', json: { refreshToken: pair.refreshToken } }),
    )
    expect(res.status).toBe(204)
    await expect401(await me(app, pair.accessToken))
    await expect401(await refresh(app, pair.refreshToken), 'INVALID_REFRESH_TOKEN')
    await expect401(await app.handle(req('/api/v1/auth/logout', { method: 'POST' })))
  })

  test('a password change kills every earlier access and refresh token, on every instance', async () => {
    const user = await makeUser(db())
    const a = await login(app, user.email)
    const b = await login(app, user.email)
    // A second instance: its own cache connection and, on PostgreSQL, its own connection pool.
    const peerDatabase = backend.databaseUrl ? await openDatabase({ url: backend.databaseUrl, max: 2 }) : undefined
    const peer = createApp({
      ...deps(),
      cache: await backend.openPeerCache(),
      database: peerDatabase ?? backend.database,
    })
    try {
      expect((await me(peer, b.accessToken)).status).toBe(200)
      const wrong = await app.handle(
        req('/api/v1/auth/password', {
          method: 'POST',
          headers: { authorization: `Bearer ${a.accessToken}` },
          json: { currentPassword: 'not the password', newPassword: 'a brand new password' },
        }),
      )
      expect(wrong.status).toBe(403)
      expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('WRONG_PASSWORD')

      const res = await app.handle(
        req('/api/v1/auth/password', {
          method: 'POST',
          headers: { authorization: `Bearer ${a.accessToken}` },
          json: { currentPassword: PASSWORD, newPassword: 'a brand new password' },
        }),
      )
      expect(res.status).toBe(200)
      expect(res.headers.get('cache-control')).toBe('no-store')
      const fresh = await json<Pair>(res)
      for (const handler of [app, peer]) {
        await expect401(await me(handler, a.accessToken))
        await expect401(await me(handler, b.accessToken))
      }
      await expect401(await refresh(peer, a.refreshToken), 'INVALID_REFRESH_TOKEN')
      await expect401(await refresh(app, b.refreshToken), 'INVALID_REFRESH_TOKEN')
      expect((await me(peer, fresh.accessToken)).status).toBe(200)
      const old = await app.handle(
        req('/api/v1/auth/token', { method: 'POST', json: { email: user.email, password: PASSWORD } }),
      )
      await expect401(old, 'INVALID_CREDENTIALS')
      await login(app, user.email, 'a brand new password')
    } finally {
      await peerDatabase?.close()
    }
  })

  test('a disabled user is locked out at once, and can sign in again when enabled', async () => {
    const user = await makeUser(db())
    const pair = await login(app, user.email)
    // Only the status changes here (no revocation), so this proves the per-request status check.
    await db().update(users).set({ status: 'disabled' }).where(eq(users.id, user.id))
    await expect401(await me(app, pair.accessToken))
    await expect401(await refresh(app, pair.refreshToken), 'INVALID_REFRESH_TOKEN')
    const denied = await app.handle(
      req('/api/v1/auth/token', { method: 'POST', json: { email: user.email, password: PASSWORD } }),
    )
    await expect401(denied, 'INVALID_CREDENTIALS')
    await setStatusByEmail(db(), user.email, 'active')
    await login(app, user.email)
  })

  test('a soft-deleted user is locked out at once', async () => {
    const user = await makeUser(db())
    const pair = await login(app, user.email)
    await db().update(users).set({ deletedAt: new Date() }).where(eq(users.id, user.id))
    await expect401(await me(app, pair.accessToken))
    await expect401(await refresh(app, pair.refreshToken), 'INVALID_REFRESH_TOKEN')
    const denied = await app.handle(
      req('/api/v1/auth/token', { method: 'POST', json: { email: user.email, password: PASSWORD } }),
    )
    await expect401(denied, 'INVALID_CREDENTIALS')
  })

  test('a corrupt stored password hash is a 401, not a 500', async () => {
    const user = await makeUser(db())
    await db().update(users).set({ passwordHash: '$argon2id$v=19$garbage' }).where(eq(users.id, user.id))
    const res = await app.handle(
      req('/api/v1/auth/token', { method: 'POST', json: { email: user.email, password: PASSWORD } }),
    )
    await expect401(res, 'INVALID_CREDENTIALS')
  })

  test('GET /me returns the user without secrets', async () => {
    const user = await makeUser(db(), 'editor')
    const pair = await login(app, user.email)
    const res = await me(app, pair.accessToken)
    expect(await res.json()).toEqual({
      data: { id: user.id, email: user.email, role: 'editor', displayName: '' },
      meta: null,
      error: null,
    })
  })
})
