import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { decodePayload, expect401, forge, login, makeUser, me, type Pair, refresh } from '../../test/auth-kit.ts'
import { BACKENDS, type Backend, openBackend, req, testDeps } from '../../test/harness.ts'
import { createApp } from '../app.ts'

// Password hashing (argon2id) is deliberately slow, and slower on a loaded CI machine.
setDefaultTimeout(30_000)

/** Every way an access token can be wrong must end in the same 401 envelope, never a 500. */
describe.each(BACKENDS)('access tokens (%s)', (kind) => {
  let backend: Backend
  let app: ReturnType<typeof createApp>
  let secret: string
  let pair: Pair
  let claims: Record<string, unknown>

  beforeAll(async () => {
    backend = await openBackend(kind)
    const deps = { ...testDeps(backend), rateLimits: [], auth: { limits: { ipPoints: 10_000 } } }
    secret = deps.config.jwtSecret
    app = createApp(deps)
    const user = await makeUser(backend.database.db, 'admin')
    pair = await login(app, user.email)
    claims = decodePayload(pair.accessToken)
  }, 60_000)
  afterAll(() => backend.close())

  const now = () => Math.floor(Date.now() / 1000)

  test('the issued token carries exactly the pinned claims, HS256, at most 15 minutes', () => {
    const header = JSON.parse(Buffer.from(pair.accessToken.split('.')[0]!, 'base64url').toString())
    expect(header).toEqual({ alg: 'HS256', typ: 'JWT' })
    expect(Object.keys(claims).sort()).toEqual(['aud', 'exp', 'iat', 'iss', 'jti', 'sid', 'sub', 'typ', 'ver'])
    expect(claims).toMatchObject({ iss: 'shellfolio', aud: 'shellfolio-api', typ: 'access', ver: 0 })
    expect((claims.exp as number) - (claims.iat as number)).toBeLessThanOrEqual(15 * 60)
    expect(pair.tokenType).toBe('Bearer')
    expect(pair.expiresIn).toBe(900)
    expect(pair.refreshToken).toMatch(/^sfr_[A-Za-z0-9_-]{43}$/)
  })

  test('a token re-signed by hand with HS256 and our secret is accepted (so the forgeries below are meaningful)', async () => {
    const res = await me(app, forge(claims, { secret }))
    expect(res.status).toBe(200)
  })

  test('alg none is rejected', async () => {
    await expect401(await me(app, forge(claims, { alg: 'none' })))
    await expect401(await me(app, forge(claims, { alg: 'none', header: { alg: 'None' } })))
  })

  test('HS384 and HS512 signed with our own secret are rejected', async () => {
    await expect401(await me(app, forge(claims, { alg: 'HS384', secret })))
    await expect401(await me(app, forge(claims, { alg: 'HS512', secret })))
  })

  test('another secret is rejected', async () => {
    await expect401(await me(app, forge(claims, { secret: 'another-secret-that-is-long-enough-0123456789' })))
  })

  test('wrong issuer or audience is rejected', async () => {
    await expect401(await me(app, forge({ ...claims, iss: 'evil' }, { secret })))
    await expect401(await me(app, forge({ ...claims, aud: 'other-api' }, { secret })))
    await expect401(await me(app, forge({ ...claims, aud: ['other-api'] }, { secret })))
  })

  test('a token without exp, iat, jti or sid is rejected', async () => {
    for (const claim of ['exp', 'iat', 'jti', 'sid', 'sub', 'ver']) {
      const { [claim]: _, ...rest } = claims
      await expect401(await me(app, forge(rest, { secret })))
    }
  })

  test('an expired token is rejected (signed with past timestamps)', async () => {
    await expect401(await me(app, forge({ ...claims, iat: now() - 2000, exp: now() - 1000 }, { secret })))
    // Beyond the 5 s clock tolerance.
    await expect401(await me(app, forge({ ...claims, iat: now() - 900, exp: now() - 10 }, { secret })))
    // A far-future exp does not help a token issued too long ago.
    await expect401(await me(app, forge({ ...claims, iat: now() - 3600, exp: now() + 3600 }, { secret })))
  })

  test('a tampered payload is rejected', async () => {
    const [h, , s] = pair.accessToken.split('.')
    const tampered = Buffer.from(JSON.stringify({ ...claims, ver: 1 })).toString('base64url')
    await expect401(await me(app, `${h}.${tampered}.${s}`))
    const otherUser = Buffer.from(JSON.stringify({ ...claims, sub: crypto.randomUUID() })).toString('base64url')
    await expect401(await me(app, `${h}.${otherUser}.${s}`))
  })

  test('a token of another type is rejected', async () => {
    await expect401(await me(app, forge({ ...claims, typ: 'refresh' }, { secret })))
    const { typ: _, ...untyped } = claims
    await expect401(await me(app, forge(untyped, { secret })))
  })

  test('a refresh token is not an access token, and an access token is not a refresh token', async () => {
    await expect401(await me(app, pair.refreshToken))
    await expect401(await refresh(app, pair.accessToken), 'INVALID_REFRESH_TOKEN')
  })

  test('a well-signed token for an unknown user or family is rejected', async () => {
    await expect401(await me(app, forge({ ...claims, sub: crypto.randomUUID() }, { secret })))
    await expect401(await me(app, forge({ ...claims, sid: crypto.randomUUID() }, { secret })))
    await expect401(await me(app, forge({ ...claims, sub: 'not-a-uuid' }, { secret })))
  })

  test('garbage and oversized credentials are 401 envelopes, never 500', async () => {
    const cases = [
      '',
      'Bearer',
      'Bearer ',
      `Basic ${Buffer.from('a:b').toString('base64')}`,
      'Bearer a.b.c',
      'Bearer ...',
      'Bearer eyJhbGciOiJIUzI1NiJ9.e30.',
      'Bearer \u00ff\u00fe',
      `Bearer ${'x'.repeat(10_000)}`,
      `Bearer ${'a'.repeat(1024 * 1024)}`,
      `Bearer ${pair.accessToken}.extra`,
      `Bearer ${pair.accessToken} ${pair.accessToken}`,
    ]
    for (const authorization of cases) {
      const res = await app.handle(req('/api/v1/auth/me', { headers: { authorization } }))
      await expect401(res)
    }
    await expect401(await app.handle(req('/api/v1/auth/me')))
    await expect401(await refresh(app, 'x'.repeat(4096)), 'INVALID_REFRESH_TOKEN')
  })

  test('a 1 MB Authorization header against the real server: Bun answers 431 itself and keeps serving', async () => {
    const server = createApp({ ...testDeps(backend), rateLimits: [] }).listen({ hostname: '127.0.0.1', port: 0 })
    try {
      const base = `http://127.0.0.1:${server.server!.port}`
      const big = await fetch(`${base}/api/v1/auth/me`, { headers: { authorization: `Bearer ${'a'.repeat(1 << 20)}` } })
      expect(big.status).toBe(431)
      // Below Bun's 16 KiB header limit the request reaches us and is a 401 envelope.
      const mid = await fetch(`${base}/api/v1/auth/me`, { headers: { authorization: `Bearer ${'a'.repeat(12_000)}` } })
      await expect401(mid)
      expect((await fetch(`${base}/healthz`)).status).toBe(200)
    } finally {
      await server.stop(true)
    }
  })
})
