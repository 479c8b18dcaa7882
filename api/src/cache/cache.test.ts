import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { BACKENDS, type Backend, openBackend } from '../../test/harness.ts'
import type { Cache } from './index.ts'

/** Waits for a condition with a deadline instead of sleeping a fixed time. */
async function eventually(check: () => Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

// One contract, run against real Redis and the in-process adapter.
describe.each(BACKENDS)('cache contract on %s', (kind) => {
  let backend: Backend
  let cache: Cache
  beforeAll(async () => {
    backend = await openBackend(kind)
    cache = backend.cache
  })
  afterAll(() => backend.close())

  test('get, set, delete', async () => {
    expect(await cache.get('k1')).toBeNull()
    await cache.set('k1', 'v1')
    expect(await cache.get('k1')).toBe('v1')
    await cache.del('k1')
    expect(await cache.get('k1')).toBeNull()
  })

  test('values expire after their ttl', async () => {
    await cache.set('short', 'x', 40)
    await cache.set('long', 'y', 60_000)
    expect(await cache.get('short')).toBe('x')
    await eventually(async () => (await cache.get('short')) === null)
    expect(await cache.get('long')).toBe('y')
  })

  test('setIfAbsent stores only once', async () => {
    expect(await cache.setIfAbsent('once', 'a', 10_000)).toBe(true)
    expect(await cache.setIfAbsent('once', 'b', 10_000)).toBe(false)
    expect(await cache.get('once')).toBe('a')
  })

  test('incr counts atomically under concurrency and keeps its first expiry', async () => {
    const counts = await Promise.all(Array.from({ length: 50 }, () => cache.incr('hits', 60_000)))
    expect(counts.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    await cache.incr('burst', 40)
    await eventually(async () => (await cache.get('burst')) === null)
    expect(await cache.incr('burst', 40)).toBe(1)
  })

  test('pub/sub reaches subscribers on another connection (another instance)', async () => {
    const peer = await backend.openPeerCache()
    const received: string[] = []
    const unsubscribe = await peer.subscribe('posts', (m) => received.push(m))
    await cache.publish('posts', 'invalidate:hello')
    await eventually(async () => received.length === 1)
    expect(received).toEqual(['invalidate:hello'])
    await unsubscribe()
    await cache.publish('posts', 'after')
    await cache.ping()
    await new Promise((r) => setTimeout(r, 50))
    expect(received).toEqual(['invalidate:hello'])
  })

  test('a failing subscriber does not stop delivery to others', async () => {
    const got: string[] = []
    const u1 = await cache.subscribe('chan', () => {
      throw new Error('boom')
    })
    const u2 = await cache.subscribe('chan', (m) => got.push(m))
    await cache.publish('chan', 'm')
    await eventually(async () => got.length === 1)
    await u1()
    await u2()
  })
})
