import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { clusterEnv } from '../scale/instances.ts'
import { nextIp } from './load.ts'
import {
  type ApiProcess,
  type PgCluster,
  type RedisServer,
  startApi,
  startPgCluster,
  startRedisServer,
} from './services.ts'

/**
 * What a visitor gets from one API process while its PostgreSQL or its Redis is down (docs/faults.md):
 * the cached posts list still answers; everything that needs the missing part answers 503 with the
 * part's code and a Retry-After, never a 500; /readyz says which part is down; all of it answers
 * again once the part is back.
 */

const admin = { email: 'answers@example.com', password: 'outage-answers-password-1' }
let pg: PgCluster
let redis: RedisServer
let api: ApiProcess
let fresh = 0

type Row = { status: number; code?: string; retryAfter: string | null }

async function ask(path: string, init: { method?: string; json?: unknown } = {}): Promise<Row> {
  const res = await api.fetch(path, { ...init, ip: nextIp() })
  const body = (await res.json().catch(() => null)) as { error?: { code?: string } } | null
  return { status: res.status, code: body?.error?.code, retryAfter: res.headers.get('retry-after') }
}

/** The table: cached list, uncached post, sign-in, new terminal session, readiness. */
async function table() {
  return {
    cachedList: await ask('/api/v1/posts'),
    // A post never read before: not in any cache.
    uncachedPost: await ask(`/api/v1/posts/never-read-${++fresh}`),
    login: await ask('/api/v1/auth/token', { method: 'POST', json: admin }),
    newSession: await ask('/api/v1/terminal/sessions', { method: 'POST', json: { project: 'calc', runner: 'wasi' } }),
    ready: await ask('/readyz'),
  }
}

async function untilServing(): Promise<void> {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    const t = await table()
    if (t.login.status === 200 && t.newSession.status === 201 && t.ready.status === 200) return
    await Bun.sleep(200)
  }
  throw new Error('the API did not serve again within 60 s')
}

beforeAll(async () => {
  ;[pg, redis] = await Promise.all([startPgCluster(), startRedisServer()])
  api = await startApi(
    clusterEnv(
      { databaseUrl: pg.url, redisUrl: redis.url, prefix: 'answers:', admin },
      { RUNNERS: 'wasi', TERMINAL_MAX_PER_IP: '1000', TERMINAL_MAX_SESSIONS: '100000', LOG_LEVEL: 'warn' },
    ),
  )
  const before = await table()
  expect(before.cachedList.status).toBe(200)
  expect(before.login.status).toBe(200)
  expect(before.newSession.status).toBe(201)
  expect(before.ready.status).toBe(200)
}, 120_000)

afterAll(async () => {
  await api?.stop()
  await Promise.allSettled([pg?.[Symbol.asyncDispose](), redis?.[Symbol.asyncDispose]()])
}, 60_000)

describe('answers while a dependency is down', () => {
  test('Redis down: cached reads answer, the rest is 503 with a code and Retry-After', async () => {
    await redis.kill()
    const t = await table()
    await redis.start()
    expect(t.cachedList.status).toBe(200)
    expect(t.uncachedPost.status).toBe(404)
    expect(t.login).toEqual({ status: 503, code: 'AUTH_UNAVAILABLE', retryAfter: '5' })
    expect(t.newSession).toEqual({ status: 503, code: 'CACHE_UNAVAILABLE', retryAfter: '5' })
    expect(t.ready).toMatchObject({ status: 503, code: 'NOT_READY' })
    await untilServing()
  }, 120_000)

  test('PostgreSQL down: cached reads answer, the rest is 503 DATABASE_UNAVAILABLE with Retry-After', async () => {
    await pg.kill()
    const t = await table()
    await pg.start()
    expect(t.cachedList.status).toBe(200)
    expect(t.uncachedPost).toEqual({ status: 503, code: 'DATABASE_UNAVAILABLE', retryAfter: '5' })
    expect(t.login).toEqual({ status: 503, code: 'DATABASE_UNAVAILABLE', retryAfter: '5' })
    expect(t.newSession).toEqual({ status: 503, code: 'DATABASE_UNAVAILABLE', retryAfter: '5' })
    expect(t.ready).toMatchObject({ status: 503, code: 'NOT_READY' })
    await untilServing()
    // The monitor notices the recovery on its next probe (every 500 ms).
    const deadline = Date.now() + 10_000
    while (!api.logs().includes('"msg":"database recovered"') && Date.now() < deadline) await Bun.sleep(50)
    const logs = api.logs()
    expect(logs.split('"msg":"database unavailable:').length - 1).toBe(1)
    expect(logs.split('"msg":"database recovered"').length - 1).toBe(1)
  }, 120_000)
})
