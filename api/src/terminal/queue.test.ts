import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { BACKENDS, type Backend, openBackend } from '../../test/harness.ts'
import { startServer, TermClient, type TerminalServer } from '../../test/terminal-kit.ts'
import { createSessionQueue, estimate, QUEUE_LIMITS } from './queue.ts'
import { createSessionRegistry, memoryQueueOf } from './registry.ts'

/**
 * The waiting line (docs/terminal-protocol.md, "Waiting for a slot"): order, positions, leaving,
 * a slot freeing serves the next place, bounds, a place not polled is dropped, and two instances
 * sharing one line.
 */

interface Envelope {
  data: Record<string, unknown> & { status?: string; position?: number; id?: string; ticket?: string }
  error: { code: string; message: string } | null
}
const json = async (res: Response) => (await res.json()) as Envelope

const ENV = { TERMINAL_MAX_SESSIONS: '1', TERMINAL_MAX_PER_IP: '2', TRUST_PROXY_HOPS: '1' }
const from = (ip: string) => ({ 'x-forwarded-for': ip })

/** A visitor at `ip` asking for a terminal, willing to wait. */
const ask = (server: TerminalServer, ip: string, project = 'demo') =>
  server.create({ project, runner: 'wasi', queue: true }, from(ip))

const poll = (server: TerminalServer, id: string, ip: string) =>
  fetch(`${server.url}/api/v1/terminal/queue/${id}`, { headers: from(ip) })

const leave = (server: TerminalServer, id: string) =>
  fetch(`${server.url}/api/v1/terminal/queue/${id}`, { method: 'DELETE' })

/** Opens the session of a ticket from `ip` and waits for its prompt. */
async function attach(server: TerminalServer, ticket: string, ip: string) {
  const client = new TermClient(`${server.ws}?ticket=${ticket}`, { headers: from(ip) })
  await client.control('ready')
  await client.output('$ ')
  return client
}

/** The one session of the deployment, held by 203.0.113.1. */
async function fill(server: TerminalServer) {
  const res = await server.create({ project: 'demo', runner: 'wasi' }, from('203.0.113.1'))
  expect(res.status).toBe(201)
  return attach(server, (await json(res)).data.ticket as string, '203.0.113.1')
}

describe.each(BACKENDS)('the waiting line (%s)', (kind) => {
  let backend: Backend
  beforeAll(async () => {
    backend = await openBackend(kind)
  }, 60_000)
  afterAll(() => backend.close())
  // Each test starts with an empty line and no history (the backend is shared by the tests).
  afterEach(async () => {
    const redis = backend.cache.redis
    if (redis) await redis.del('terminal:queue', 'terminal:queue:lengths')
    else memoryQueueOf(backend.cache).entries.clear()
  })

  test('full: visitors wait in order with positions; a slot freeing serves the first; the rest move up', async () => {
    await using server = await startServer(backend, { env: ENV })
    const holder = await fill(server)

    // Without `queue`, the old answer.
    const refused = await server.create({ project: 'demo', runner: 'wasi' }, from('203.0.113.9'))
    expect(refused.status).toBe(503)
    expect((await json(refused)).error?.code).toBe('SESSION_LIMIT_GLOBAL')

    const first = await ask(server, '203.0.113.2')
    expect(first.status).toBe(202)
    const a = (await json(first)).data
    expect(a).toMatchObject({
      status: 'waiting',
      project: 'demo',
      position: 1,
      projectPosition: 1,
      estimateBasis: 'time-limit',
      waitingForOwnSession: false,
      pollAfterMs: QUEUE_LIMITS.pollMs,
      leaveAfterMs: QUEUE_LIMITS.ttlMs,
    })
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{32}$/)
    // No history of ended sessions yet: the holder's time limit (30 min) bounds the wait.
    expect(a.estimateSeconds as number).toBeGreaterThan(29 * 60)
    expect(a.estimateSeconds as number).toBeLessThanOrEqual(30 * 60)

    const b = (await json(await ask(server, '203.0.113.3', 'calc'))).data
    expect(b).toMatchObject({ status: 'waiting', project: 'calc', position: 2, projectPosition: 1 })
    const c = (await json(await ask(server, '203.0.113.4'))).data
    expect(c).toMatchObject({ position: 3, projectPosition: 2 })

    // Polling does not change the order.
    expect((await json(await poll(server, c.id as string, '203.0.113.4'))).data).toMatchObject({ position: 3 })
    expect((await json(await poll(server, a.id as string, '203.0.113.2'))).data).toMatchObject({ position: 1 })

    // A newcomer cannot jump the line, even with `queue` left out, when a slot frees.
    holder.type('exit 0\r')
    await holder.control('exit')
    await holder.closedWith()
    expect((await server.create({ project: 'demo', runner: 'wasi' }, from('203.0.113.9'))).status).toBe(503)
    // The second in line is still second: the slot is the first's.
    expect((await json(await poll(server, b.id as string, '203.0.113.3'))).data).toMatchObject({
      status: 'waiting',
      position: 2,
    })

    const served = await json(await poll(server, a.id as string, '203.0.113.2'))
    expect(served.data).toMatchObject({ status: 'ready', runner: 'wasi' })
    const client = await attach(server, served.data.ticket as string, '203.0.113.2')
    client.type('print served-from-the-line\r')
    await client.output('served-from-the-line')
    // The place is used up; the others moved up.
    expect((await poll(server, a.id as string, '203.0.113.2')).status).toBe(404)
    expect((await json(await poll(server, b.id as string, '203.0.113.3'))).data).toMatchObject({
      position: 1,
      projectPosition: 1,
    })
    expect((await json(await poll(server, c.id as string, '203.0.113.4'))).data).toMatchObject({
      position: 2,
      projectPosition: 1,
    })
    // One session ended: with fewer than 3 recent lengths the estimate still uses the time limit.
    expect((await json(await poll(server, b.id as string, '203.0.113.3'))).data.estimateBasis).toBe('time-limit')
    client.ws.close()
  })

  test('leaving frees the place at once; a bad or unknown id is a clear 4xx', async () => {
    await using server = await startServer(backend, { env: ENV })
    const holder = await fill(server)
    const a = (await json(await ask(server, '203.0.113.2'))).data
    const b = (await json(await ask(server, '203.0.113.3'))).data
    expect(b.position).toBe(2)
    const left = await leave(server, a.id as string)
    expect(left.status).toBe(200)
    expect((await json(left)).data).toEqual({ id: a.id as string, status: 'left' })
    expect((await json(await poll(server, b.id as string, '203.0.113.3'))).data.position).toBe(1)
    const gone = await poll(server, a.id as string, '203.0.113.2')
    expect(gone.status).toBe(404)
    expect((await json(gone)).error?.code).toBe('QUEUE_PLACE_GONE')
    expect((await leave(server, a.id as string)).status).toBe(404)
    const bad = await poll(server, 'not-an-id', '203.0.113.2')
    expect(bad.status).toBe(400)
    expect((await json(bad)).error?.code).toBe('VALIDATION_FAILED')
    const badBody = await server.create({ project: 'demo', queue: 'yes' })
    expect(badBody.status).toBe(400)
    holder.ws.close()
  })

  test('bounds: places per IP (429 QUEUE_LIMIT_IP); leaving one makes room again', async () => {
    await using server = await startServer(backend, { env: ENV })
    const holder = await fill(server)
    const places: string[] = []
    for (let i = 0; i < QUEUE_LIMITS.perIp; i++) {
      const res = await ask(server, '198.51.100.7')
      expect(res.status).toBe(202)
      places.push((await json(res)).data.id as string)
    }
    const over = await ask(server, '198.51.100.7')
    expect(over.status).toBe(429)
    expect(over.headers.get('retry-after')).toBe('30')
    expect((await json(over)).error?.code).toBe('QUEUE_LIMIT_IP')
    // Another visitor still gets in line behind them.
    expect((await json(await ask(server, '198.51.100.8'))).data.position).toBe(QUEUE_LIMITS.perIp + 1)
    // Leaving one place makes room for that IP again.
    expect((await leave(server, places[0] as string)).status).toBe(200)
    expect((await ask(server, '198.51.100.7')).status).toBe(202)
    holder.ws.close()
  })

  test('the line across two instances: places on B, the session ends on A, B serves the first', async () => {
    await using a = await startServer(backend, { env: ENV })
    await using b = await startServer(backend, { env: ENV, cache: await backend.openPeerCache() })
    const holder = await fill(a)
    const first = (await json(await ask(b, '203.0.113.2'))).data
    const second = (await json(await ask(a, '203.0.113.3'))).data
    expect(first.position).toBe(1)
    expect(second.position).toBe(2)
    // A place is polled on either instance.
    expect((await json(await poll(b, second.id as string, '203.0.113.3'))).data.position).toBe(2)
    expect((await json(await poll(a, first.id as string, '203.0.113.2'))).data.position).toBe(1)
    holder.type('exit 0\r')
    await holder.control('exit')
    const served = await (async () => {
      for (let i = 0; i < 50; i++) {
        const body = await json(await poll(b, first.id as string, '203.0.113.2'))
        if (body.data.status === 'ready') return body.data
        await Bun.sleep(50)
      }
      throw new Error('the first place was never served')
    })()
    const client = await attach(b, served.ticket as string, '203.0.113.2')
    expect((await json(await poll(a, second.id as string, '203.0.113.3'))).data).toMatchObject({
      status: 'waiting',
      position: 1,
    })
    client.ws.close()
  })

  test('a place not polled within its heartbeat is dropped; the line is capped in all', async () => {
    let now = 1_000_000
    const cache = await backend.openPeerCache()
    const queue = createSessionQueue(cache, { now: () => now, ttlMs: 1000, total: 3, perIp: 2 })
    const registry = createSessionRegistry(cache, () => now)
    const caps = { perIp: 2, global: 1 }
    const slot = (id: string) => ({ sessionId: id, instance: 'i', timeLimitMs: 60_000, staleAt: now + 30_000 })
    const held = { id: crypto.randomUUID(), project: 'demo', runner: 'wasi' as const, ip: '10.0.0.1' }
    expect(
      await registry.reserve(
        { ...held, instance: 'i', status: 'attached', startedAt: now, expiresAt: now + 60_000, staleAt: now + 90_000 },
        caps,
      ),
    ).toBe('ok')
    const place = async (ip: string) => {
      const r = await queue.enqueue({ project: 'demo', runner: 'wasi', ip })
      if (!r.ok) throw new Error(r.reason)
      return r.entry.id
    }
    const p1 = await place('10.0.0.2')
    const p2 = await place('10.0.0.3')
    const p3 = await place('10.0.0.4')
    expect(await queue.enqueue({ project: 'demo', runner: 'wasi', ip: '10.0.0.5' })).toEqual({
      ok: false,
      reason: 'full',
    })
    now += 600
    // p2 and p3 keep polling; p1 stops.
    expect(await queue.claim(p2, caps, slot(crypto.randomUUID()))).toMatchObject({ state: 'waiting', position: 2 })
    expect(await queue.claim(p3, caps, slot(crypto.randomUUID()))).toMatchObject({ state: 'waiting', position: 3 })
    now += 600
    expect(await queue.claim(p2, caps, slot(crypto.randomUUID()))).toMatchObject({ state: 'waiting', position: 1 })
    expect(await queue.claim(p1, caps, slot(crypto.randomUUID()))).toEqual({ state: 'gone' })
    // The session ends: the slot is p2's, not a newcomer's.
    await registry.remove(held.id)
    const newcomer = { ...held, id: crypto.randomUUID(), ip: '10.0.0.9' }
    expect(
      await registry.reserve(
        { ...newcomer, instance: 'i', status: 'pending', startedAt: now, expiresAt: now + 1, staleAt: now + 5000 },
        caps,
      ),
    ).toBe('global')
    const sessionId = crypto.randomUUID()
    expect(await queue.claim(p2, caps, slot(sessionId))).toMatchObject({ state: 'ready', entry: { ip: '10.0.0.3' } })
    expect((await registry.get(sessionId))?.status).toBe('pending')
    expect(await queue.claim(p3, caps, slot(crypto.randomUUID()))).toMatchObject({ state: 'waiting', position: 1 })
    await queue.leave(p3)
    await registry.remove(sessionId)
    if (cache !== backend.cache) await cache.close()
  })

  test('the estimate: recent session lengths once there are enough, else the time limit', async () => {
    const waiting = {
      state: 'waiting' as const,
      project: 'demo',
      position: 3,
      projectPosition: 1,
      need: 3,
      bound: 0,
      ownLimit: false,
    }
    const config = { maxSessions: 10, timeLimitMs: 30 * 60_000 }
    expect(estimate(waiting, [60_000, 60_000], config, 0)).toEqual({
      estimateSeconds: 3 * 30 * 60,
      estimateBasis: 'time-limit',
    })
    // 3 sessions must end; 10 slots whose sessions last 2 min on average free one every 12 s.
    expect(estimate(waiting, [120_000, 120_000, 120_000], config, 0)).toEqual({
      estimateSeconds: 36,
      estimateBasis: 'recent-sessions',
    })
    // The time-limit bound wins when it is sooner.
    expect(estimate({ ...waiting, bound: 20_000 }, [120_000, 120_000, 120_000], config, 0)).toEqual({
      estimateSeconds: 20,
      estimateBasis: 'time-limit',
    })
  })
})
