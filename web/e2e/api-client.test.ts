/**
 * The API client's robustness rules, without a browser: one shared refresh for concurrent 401s,
 * retry-once after a refresh, backoff retries for reads only, timeouts, and the error words.
 * (Lives in web/e2e because that is the web suite `make test` runs.)
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { apiFetch, connectAuth } from '../src/lib/api.ts'
import { ApiError, messageFor, messageForCode } from '../src/lib/errors.ts'
import { TokenKeeper, type TokenPairLike } from '../src/lib/token-keeper.ts'

const realFetch = globalThis.fetch
afterEach(() => {
  globalThis.fetch = realFetch
})

function memoryStorage() {
  const map = new Map<string, string>()
  return {
    getItem: (k: string) => map.get(k) ?? null,
    setItem: (k: string, v: string) => void map.set(k, v),
    removeItem: (k: string) => void map.delete(k),
  }
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })

describe('TokenKeeper + apiFetch', () => {
  test('concurrent 401s share ONE refresh, and each request is retried once with the new token', async () => {
    let rotations = 0
    let signedOut = false
    const keeper = new TokenKeeper({
      storage: memoryStorage(),
      rotate: async (refreshToken): Promise<TokenPairLike> => {
        rotations++
        expect(refreshToken).toBe('refresh-1')
        await Bun.sleep(20)
        return { accessToken: 'access-2', refreshToken: 'refresh-2', expiresIn: 900 }
      },
      classify: () => 'refused',
      onSignedOut: () => {
        signedOut = true
      },
    })
    keeper.store({ accessToken: 'access-1', refreshToken: 'refresh-1', expiresIn: 900 })
    connectAuth({ accessToken: () => keeper.accessToken(), refresh: () => keeper.refresh() })

    const seen: string[] = []
    globalThis.fetch = (async (_url: string, init: RequestInit) => {
      const auth = new Headers(init.headers).get('authorization') ?? ''
      seen.push(auth)
      return auth === 'Bearer access-2' ? json(200, { data: 'ok', meta: null, error: null }) : json(401, {})
    }) as typeof fetch

    const results = await Promise.all([1, 2, 3, 4].map(() => apiFetch('http://localhost/api/v1/auth/me')))
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200])
    expect(rotations).toBe(1)
    expect(seen.filter((h) => h === 'Bearer access-1')).toHaveLength(4)
    expect(seen.filter((h) => h === 'Bearer access-2')).toHaveLength(4)
    expect(signedOut).toBe(false)
  })

  test('a refused refresh signs out and the 401 reaches the caller (no loop)', async () => {
    let signedOut = false
    const keeper = new TokenKeeper({
      storage: memoryStorage(),
      rotate: async () => {
        throw new ApiError('REFRESH_REUSED', 'reused', 401)
      },
      classify: () => 'refused',
      onSignedOut: () => {
        signedOut = true
      },
    })
    keeper.store({ accessToken: 'access-1', refreshToken: 'refresh-1', expiresIn: 900 })
    connectAuth({ accessToken: () => keeper.accessToken(), refresh: () => keeper.refresh() })
    let calls = 0
    globalThis.fetch = (async () => {
      calls++
      return json(401, {})
    }) as unknown as typeof fetch
    const res = await apiFetch('http://localhost/api/v1/auth/me')
    expect(res.status).toBe(401)
    expect(calls).toBe(1)
    expect(signedOut).toBe(true)
    expect(keeper.hasRefreshToken).toBe(false)
  })

  test('an expiring access token is refreshed before the request', async () => {
    let now = 1_000_000
    const keeper = new TokenKeeper({
      storage: memoryStorage(),
      rotate: async () => ({ accessToken: 'fresh', refreshToken: 'r2', expiresIn: 900 }),
      classify: () => 'refused',
      onSignedOut: () => {},
      now: () => now,
    })
    keeper.store({ accessToken: 'old', refreshToken: 'r1', expiresIn: 60 })
    now += 50_000 // 10 s left: inside the early-refresh window
    expect(await keeper.accessToken()).toBe('fresh')
  })
})

describe('retries and timeouts', () => {
  test('GET is retried with backoff on 503, POST is not', async () => {
    connectAuth({ accessToken: async () => undefined, refresh: async () => false })
    let calls = 0
    globalThis.fetch = (async () => {
      calls++
      return calls < 3 ? json(503, {}) : json(200, {})
    }) as unknown as typeof fetch
    expect((await apiFetch('http://localhost/api/v1/posts')).status).toBe(200)
    expect(calls).toBe(3)

    calls = 0
    expect((await apiFetch('http://localhost/api/v1/posts', { method: 'POST', body: '{}' })).status).toBe(503)
    expect(calls).toBe(1)
  })

  test('a request that takes too long fails with TIMEOUT', async () => {
    connectAuth({ accessToken: async () => undefined, refresh: async () => false })
    globalThis.fetch = ((_url: string, init: RequestInit) =>
      new Promise((_resolve, reject) => {
        init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')))
      })) as unknown as typeof fetch
    const err = await apiFetch('http://localhost/api/v1/posts', { method: 'POST' }, 50).catch((e) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).code).toBe('TIMEOUT')
  })
})

describe('error words', () => {
  test('codes map to friendly text; unknown codes keep the server message', () => {
    expect(messageForCode('TERMINAL_DISABLED')).toContain('switched off')
    expect(messageForCode('SESSION_LIMIT_IP')).toContain('maximum number of live terminals')
    expect(messageFor(new ApiError('SOMETHING_NEW', 'the server explains'))).toBe('the server explains')
    expect(messageFor(new Error('boom'))).toContain('Something went wrong')
  })
})
