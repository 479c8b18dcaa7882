import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { LABEL_SESSION } from '@shellfolio/runner/docker'
import { startNginx as startLocalNginx } from '../../../deploy/nginx-kit.ts'
import { type Cache, createRedisCache } from '../../src/cache/index.ts'
import { clearRedisPrefix, createScratchDatabase, requireEnv } from '../harness.ts'
import { clusterEnv, eventually, type Instance, seedCalcProject, startInstance, TerminalClient } from './instances.ts'

/**
 * Scale-out on one machine (docs/architecture.md): two real API processes on their own ports share one
 * PostgreSQL database (a scratch one), one Redis (a unique key prefix) and the one Docker engine.
 * Each assertion is something a user would notice behind a load balancer that switches instances.
 */

const ADMIN_EMAIL = 'scale-admin@example.com'
const ADMIN_PASSWORD = 'scale-admin-password-1'
/** A client address per test (the API trusts one proxy hop), so budgets never collide between tests. */
const ip = () => `10.${randomBytes(1)[0]}.${randomBytes(1)[0]}.${1 + (randomBytes(1)[0]! % 250)}`

let a: Instance
let b: Instance
let scratch: { url: string; drop: () => Promise<void> }
let redis: Cache
let prefix: string

beforeAll(async () => {
  const databaseBase = requireEnv('TEST_DATABASE_URL')
  const redisUrl = requireEnv('TEST_REDIS_URL')
  void databaseBase
  scratch = await createScratchDatabase()
  prefix = `sf:scale:${randomBytes(4).toString('hex')}:`
  redis = await createRedisCache({ url: redisUrl, prefix })
  const admin = { email: ADMIN_EMAIL, password: ADMIN_PASSWORD }
  const env = clusterEnv({ databaseUrl: scratch.url, redisUrl, prefix, admin }, { DOCKER_POOL_SIZE: '0' })
  // One after the other: the first applies the migrations and creates the admin (as the deploy's
  // migrate step does before replicas start).
  a = await startInstance('a', env)
  b = await startInstance('b', env)
  await seedCalcProject(scratch.url)
}, 120_000)

afterAll(async () => {
  await Promise.allSettled([a?.stop(), b?.stop()])
  if (redis) await clearRedisPrefix(redis, prefix)
  await redis?.close()
  await scratch?.drop()
}, 60_000)

async function login(instance: Instance, from: string) {
  const res = await instance.fetch('/api/v1/auth/token', {
    method: 'POST',
    ip: from,
    json: { email: ADMIN_EMAIL, password: ADMIN_PASSWORD },
  })
  expect(res.status).toBe(200)
  const { data } = (await res.json()) as { data: { accessToken: string; refreshToken: string } }
  return data
}

/** Runs deploy/nginx.conf (with its WAF) in front of the given instances, on a free loopback port. */
function startNginx(instances: Instance[]) {
  return startLocalNginx(instances.map((i) => `127.0.0.1:${i.port}`))
}

describe('two API instances sharing PostgreSQL, Redis and Docker', () => {
  test('both are ready and report the same services', async () => {
    for (const instance of [a, b]) {
      const res = await instance.fetch('/readyz')
      expect({ instance: instance.name, status: res.status }).toEqual({ instance: instance.name, status: 200 })
    }
    expect(a.port).not.toBe(b.port)
    // The Docker runner's warm pool is sampled at each scrape (DOCKER_POOL_SIZE=0 here).
    expect(await (await b.fetch('/metrics')).text()).toContain('shellfolio_runner_warm_pool_size{runner="docker"} 0')
  }, 30_000)

  test('a rate limit budget is shared: requests on A and B draw from one budget', async () => {
    const from = ip()
    const statuses: number[] = []
    const remaining: string[] = []
    // The auth rule allows 60 requests a minute per IP; alternate instances for all 60.
    for (let i = 0; i < 60; i++) {
      const res = await (i % 2 === 0 ? a : b).fetch('/api/v1/auth/me', { ip: from })
      statuses.push(res.status)
      remaining.push(res.headers.get('ratelimit') ?? '')
      await res.body?.cancel()
    }
    expect(statuses.filter((s) => s === 429)).toEqual([])
    // The 61st and 62nd are refused, whichever instance they reach: neither had seen more than 30.
    const onA = await a.fetch('/api/v1/auth/me', { ip: from })
    const onB = await b.fetch('/api/v1/auth/me', { ip: from })
    expect([onA.status, onB.status]).toEqual([429, 429])
    expect(Number(onB.headers.get('retry-after'))).toBeGreaterThan(0)
    // Another client is unaffected.
    const other = await b.fetch('/api/v1/auth/me', { ip: ip() })
    expect(other.status).toBe(401)
    // Rejections are visible in the metrics of the instance that refused.
    const metrics = await (await a.fetch('/metrics')).text()
    expect(metrics).toMatch(/shellfolio_rate_limit_rejections_total\{limiter="auth"\} [1-9]/)
  }, 30_000)

  test('a logout on A is honoured on B (access token denied, refresh family revoked)', async () => {
    const from = ip()
    const tokens = await login(a, from)
    expect((await b.fetch('/api/v1/auth/me', { ip: from, token: tokens.accessToken })).status).toBe(200)
    const out = await a.fetch('/api/v1/auth/logout', {
      method: 'POST',
      ip: from,
      token: tokens.accessToken,
      json: { refreshToken: tokens.refreshToken },
    })
    expect(out.status).toBeLessThan(300)
    const me = await b.fetch('/api/v1/auth/me', { ip: from, token: tokens.accessToken })
    expect(me.status).toBe(401)
    const refresh = await b.fetch('/api/v1/auth/refresh', {
      method: 'POST',
      ip: from,
      json: { refreshToken: tokens.refreshToken },
    })
    expect(refresh.status).toBe(401)
  }, 30_000)

  test("a post edited on A is served fresh by B (B's cache is invalidated)", async () => {
    const from = ip()
    const { accessToken } = await login(a, from)
    const slug = `scale-${randomBytes(3).toString('hex')}`
    const created = await a.fetch('/api/v1/posts', {
      method: 'POST',
      ip: from,
      token: accessToken,
      json: { slug, title: 'Before', markdown: 'first version', status: 'published' },
    })
    expect(created.status).toBe(201)
    const { data: post } = (await created.json()) as { data: { id: string } }
    const titleOnB = async () => {
      const res = await b.fetch(`/api/v1/posts/${slug}`, { ip: from })
      return ((await res.json()) as { data: { title: string } | null }).data?.title
    }
    // Warm B's caches (Redis entry and B's local copy).
    expect(await titleOnB()).toBe('Before')
    expect(await titleOnB()).toBe('Before')
    const listOnB = async () =>
      ((await (await b.fetch('/api/v1/posts', { ip: from })).json()) as { data: { slug: string; title: string }[] })
        .data
    expect((await listOnB()).find((p) => p.slug === slug)?.title).toBe('Before')

    const patched = await a.fetch(`/api/v1/posts/${post.id}`, {
      method: 'PATCH',
      ip: from,
      token: accessToken,
      json: { title: 'After' },
    })
    expect(patched.status).toBe(200)
    expect(await eventually(titleOnB, (t) => t === 'After')).toBe('After')
    // B counted the invalidation it received over pub/sub.
    expect(await (await b.fetch('/metrics')).text()).toMatch(
      /shellfolio_cache_invalidations_total\{channel="posts"\} [1-9]/,
    )
    expect(
      (await eventually(listOnB, (list) => list.find((p) => p.slug === slug)?.title === 'After')).find(
        (p) => p.slug === slug,
      )?.title,
    ).toBe('After')
  }, 30_000)

  test('through deploy/nginx.conf: balanced over both, WebSocket upgraded, traceparent kept, /metrics hidden', async () => {
    await using proxy = await startNginx([a, b])
    const healthCount = async (instance: Instance) => {
      const text = await (await instance.fetch('/metrics')).text()
      return Number(
        /shellfolio_http_requests_total\{method="GET",route="\/healthz",status="200"\} (\d+)/.exec(text)?.[1] ?? 0,
      )
    }
    const before = [await healthCount(a), await healthCount(b)]
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736'
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${proxy.url}/healthz`, { headers: { traceparent: `00-${trace}-00f067aa0ba902b7-01` } })
      expect(res.status).toBe(200)
      expect(res.headers.get('traceparent')).toStartWith(`00-${trace}-`)
      expect(res.headers.get('x-request-id')).toBeTruthy()
      await res.body?.cancel()
    }
    const after = [await healthCount(a), await healthCount(b)]
    // nginx spread the 20 requests over both replicas.
    expect(after[0]! - before[0]!).toBeGreaterThan(0)
    expect(after[1]! - before[1]!).toBeGreaterThan(0)
    expect(after[0]! - before[0]! + after[1]! - before[1]!).toBe(20)
    expect((await fetch(`${proxy.url}/metrics`)).status).toBe(404)

    // A terminal over the proxy: the session is created on one replica, the WebSocket upgrade
    // reaches a replica through nginx, and input/output flow both ways.
    const created = await fetch(`${proxy.url}/api/v1/terminal/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ project: 'calc', runner: 'wasi' }),
    })
    expect(created.status).toBe(201)
    const { data } = (await created.json()) as { data: { ticket: string } }
    const term = await TerminalClient.open(
      `${proxy.url.replace(/^http/, 'ws')}/api/v1/terminal/ws?ticket=${encodeURIComponent(data.ticket)}`,
    )
    await term.message('ready', 30_000)
    term.type('echo via"-"nginx\r')
    await term.sees('via-nginx')
    term.type('exit\r')
    await term.message('exit')
  }, 60_000)

  // Watching across instances (docs/terminal-protocol.md, "Watching"): the session lives on A, the
  // link is asked for on B, and the spectator's socket is on B; B relays A's screen and output over
  // Redis pub/sub.
  test('a spectator on B watches a session that runs on A: screen, live output, input refused, exit', async () => {
    const from = ip()
    const created = await a.fetch('/api/v1/terminal/sessions', {
      method: 'POST',
      ip: from,
      json: { project: 'calc', runner: 'wasi' },
    })
    expect(created.status).toBe(201)
    const { data: session } = (await created.json()) as { data: { sessionId: string; ticket: string } }
    const ws = (instance: Instance, path: string) => `${instance.url.replace(/^http/, 'ws')}${path}`
    const owner = await TerminalClient.open(ws(a, `/api/v1/terminal/ws?ticket=${encodeURIComponent(session.ticket)}`), {
      ip: from,
    })
    const ready = await owner.message('ready', 60_000)
    owner.type('echo watched-ab\r')
    await owner.sees('\nwatched-ab')
    const linked = await b.fetch(`/api/v1/terminal/sessions/${session.sessionId}/watch`, {
      method: 'POST',
      ip: from,
      json: { resumeToken: ready.resumeToken },
    })
    expect(linked.status).toBe(201)
    const { data: link } = (await linked.json()) as { data: { token: string; watchUrl: string } }
    const spectator = await TerminalClient.open(
      ws(b, `/api/v1/terminal/watch?token=${encodeURIComponent(link.token)}`),
      { ip: ip() },
    )
    expect(await spectator.message('watching')).toMatchObject({ sessionId: session.sessionId, project: 'calc' })
    await spectator.sees('watched-ab') // A's screen, relayed by B
    await owner.until('a watcher count of 1', () => owner.messages.find((m) => m.type === 'watchers' && m.count === 1))
    owner.type('echo live-cd\r')
    await spectator.sees('\nlive-cd')
    spectator.type('echo from-spectator\r')
    expect(await spectator.message('error')).toMatchObject({ code: 'READ_ONLY' })
    owner.type('exit\r')
    await owner.message('exit')
    expect(await spectator.message('exit', 30_000)).toMatchObject({ type: 'exit' })
    expect(spectator.text).not.toContain('from-spectator')
  }, 120_000)

  // Needs the terminal session registry to hand a Docker session to another instance
  // (docs/architecture.md): the container outlives its API process and B re-attaches to it with
  // the resume token.
  test('a Docker terminal session started on A resumes on B after A is killed -9', async () => {
    if (process.env.DOCKER_AVAILABLE !== '1') {
      throw new Error(
        'DOCKER_AVAILABLE is not set: this test needs the Docker engine and sandbox image that `make test` prepares',
      )
    }
    const from = ip()
    const created = await a.fetch('/api/v1/terminal/sessions', {
      method: 'POST',
      ip: from,
      json: { project: 'calc', runner: 'docker' },
    })
    expect(created.status).toBe(201)
    const { data: session } = (await created.json()) as { data: { sessionId: string; ticket: string; runner: string } }
    expect(session.runner).toBe('docker')
    const ws = (instance: Instance, query: string) =>
      `${instance.url.replace(/^http/, 'ws')}/api/v1/terminal/ws?${query}`

    const first = await TerminalClient.open(ws(a, `ticket=${encodeURIComponent(session.ticket)}`), { ip: from })
    const ready = await first.message('ready', 60_000)
    const resumeToken = String(ready.resumeToken)
    first.type('echo sf-$((40+2))\r')
    await first.sees('sf-42')
    // A full-screen program's screen: the alternate screen with its content.
    first.type('echo -e "\\e[?1049h\\e[2J\\e[Hfull-$((6*7))"\r')
    await first.sees('full-42')
    // A mirrors its screen to the cache right after output (docs/terminal-protocol.md, Resume,
    // across instances); the crash comes once it has.
    const mirrored = await eventually(
      async () => Buffer.from((await redis.get(`terminal:scrollback:${session.sessionId}`)) ?? '', 'base64').toString(),
      (screen) => screen.includes('full-42'),
    )
    expect(mirrored).toContain('full-42')
    // A counts the live session it holds (shellfolio_terminal_sessions_active, by runner).
    const scrape = await (await a.fetch('/metrics')).text()
    expect(scrape).toContain('shellfolio_terminal_sessions_active{runner="docker"} 1')
    expect(scrape).toContain('shellfolio_terminal_session_starts_total{runner="docker"} 1')

    try {
      await a.crash() // kill -9: A's process is gone without any shutdown hook
      const second = await TerminalClient.open(
        ws(b, `session=${encodeURIComponent(session.sessionId)}&resume=${encodeURIComponent(resumeToken)}`),
      )
      const again = await second.message('ready', 30_000)
      expect(again.sessionId).toBe(session.sessionId)
      // The replay of A's screen (docs/terminal-protocol.md, Resume): its history, then the alternate screen.
      await second.sees('full-42')
      expect(second.text).toContain('sf-42')
      expect(second.text).toContain('\x1b[?1049h')
      second.type('echo sf-$((50+8))\r')
      await second.sees('sf-58') // the same shell, now driven through B
      second.type('exit\r')
      await second.message('exit')
    } finally {
      // Whatever happened, leave no sandbox behind.
      const ids = Bun.spawnSync(['docker', 'ps', '-aq', '--filter', `label=${LABEL_SESSION}=${session.sessionId}`])
        .stdout.toString()
        .split('\n')
        .filter(Boolean)
      if (ids.length > 0) Bun.spawnSync(['docker', 'rm', '-f', ...ids])
    }
  }, 120_000)
})
