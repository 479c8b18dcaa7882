import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { BACKENDS, type Backend, openBackend } from '../../test/harness.ts'
import type { Cache } from '../cache/index.ts'
import { createReadCache, etagOf, matchesEtag } from './read-cache.ts'

/** Resolves at the next message on `channel` (subscribed before the action that sends it). */
async function nextMessage(cache: Cache, channel: string): Promise<() => Promise<void>> {
  let resolve: () => void = () => {}
  const seen = new Promise<void>((r) => {
    resolve = r
  })
  const unsubscribe = await cache.subscribe(channel, () => resolve())
  return async () => {
    await seen
    await unsubscribe()
  }
}

describe('ETags', () => {
  test('strong tags over the JSON form; If-None-Match lists, weak forms and * match', () => {
    const tag = etagOf({ a: 1 })
    expect(tag).toBe(etagOf({ a: 1 }))
    expect(tag).not.toBe(etagOf({ a: 2 }))
    expect(matchesEtag(tag, tag)).toBe(true)
    expect(matchesEtag(`"x", W/${tag}`, tag)).toBe(true)
    expect(matchesEtag('*', tag)).toBe(true)
    expect(matchesEtag('"x"', tag)).toBe(false)
    expect(matchesEtag(null, tag)).toBe(false)
  })
})

describe.each(BACKENDS)('read cache on %s', (kind) => {
  let backend: Backend
  beforeAll(async () => {
    backend = await openBackend(kind)
  }, 60_000)
  afterAll(() => backend.close())

  test('loads once, then serves the cached copy; an invalidation on another instance reaches this one', async () => {
    const peer = await backend.openPeerCache()
    const ns = `t1-${kind}`
    const a = createReadCache({ cache: peer, namespace: ns })
    const b = createReadCache({ cache: backend.cache, namespace: ns })
    await Promise.all([a.ready, b.ready])
    let value = 'v1'
    let loads = 0
    const load = async () => {
      loads++
      return value
    }
    expect((await a.get('k', load)).value).toBe('v1')
    expect((await a.get('k', load)).value).toBe('v1')
    expect(loads).toBe(1)
    // B shares the store: no load either.
    expect((await b.get('k', load)).value).toBe('v1')
    expect(loads).toBe(1)

    value = 'v2'
    const delivered = await nextMessage(peer, `read:${ns}:invalidate`)
    await b.invalidate()
    // The writer itself reads fresh at once; the other instance once the message is in.
    expect((await b.get('k', load)).value).toBe('v2')
    await delivered()
    expect((await a.get('k', load)).value).toBe('v2')
    await Promise.all([a.close(), b.close()])
  })

  test('a lost generation (Redis flushed or restarted) never brings old entries back', async () => {
    const peer = await backend.openPeerCache()
    const ns = `t2-${kind}`
    const a = createReadCache({ cache: peer, namespace: ns })
    const b = createReadCache({ cache: backend.cache, namespace: ns })
    await Promise.all([a.ready, b.ready])
    let value = 0
    const load = async () => value
    for (let i = 0; i < 5; i++) {
      value++
      const delivered = await nextMessage(peer, `read:${ns}:invalidate`)
      await b.invalidate()
      await delivered()
      expect((await a.get('k', load)).value).toBe(value)
    }
    // The generation is gone while old entries remain: neither a re-created nor a new one reuses them.
    await backend.cache.del(`read:${ns}:gen`)
    value = 50
    expect((await b.get('k', load)).value).toBe(50)
    value = 100
    const delivered = await nextMessage(peer, `read:${ns}:invalidate`)
    await b.invalidate()
    await delivered()
    expect((await a.get('k', load)).value).toBe(100)
    await Promise.all([a.close(), b.close()])
  })

  test('a cache that fails is read through, never an error', async () => {
    const failing: Cache = {
      ...backend.cache,
      kind: backend.cache.kind,
      get: async () => {
        throw new Error('cache down')
      },
      set: async () => {
        throw new Error('cache down')
      },
      incr: async () => {
        throw new Error('cache down')
      },
      subscribe: async () => async () => {},
    }
    const reads = createReadCache({ cache: failing, namespace: `t3-${kind}` })
    let loads = 0
    const load = async () => ++loads
    expect((await reads.get('k', load)).value).toBe(1)
    expect((await reads.get('k', load)).value).toBe(2)
    await reads.invalidate()
    expect((await reads.get('k', load)).value).toBe(3)
    await reads.close()
  })
})
