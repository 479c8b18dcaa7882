import { createHash, randomUUID } from 'node:crypto'
import type { Cache } from '../cache/index.ts'
import type { Logger } from '../logger.ts'
import { metrics } from '../metrics/index.ts'

/** A cached read: the JSON-able value and its strong ETag. */
export interface CachedRead<T> {
  value: T
  etag: string
}

export interface ReadCache {
  /** Returns the cached value for `key`, loading (and caching) it on a miss. Never throws for cache faults. */
  get<T>(key: string, load: () => Promise<T>): Promise<CachedRead<T>>
  /** Makes every cached entry of this namespace stale, here and on every other instance. */
  invalidate(): Promise<void>
  /** Resolves once this instance listens for invalidations from others. */
  readonly ready: Promise<void>
  close(): Promise<void>
}

export interface ReadCacheOptions {
  cache: Cache
  /** e.g. `posts`; keys, the generation and the channel live under it. */
  namespace: string
  /** Lifetime of a shared entry (the Cache) and of a local one (this process). */
  ttlMs?: number
  localTtlMs?: number
  logger?: Logger
}

/** A strong ETag over the JSON form of a value. */
export function etagOf(value: unknown): string {
  return `"${createHash('sha256').update(JSON.stringify(value)).digest('base64url').slice(0, 27)}"`
}

/** True when an If-None-Match header matches `etag` (weak comparison, `*` included). */
export function matchesEtag(ifNoneMatch: string | null | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false
  const bare = etag.replace(/^W\//, '')
  return ifNoneMatch.split(',').some((tag) => {
    const t = tag.trim()
    return t === '*' || t.replace(/^W\//, '') === bare
  })
}

const derivations = new WeakMap<CachedRead<unknown>, Map<string, CachedRead<unknown>>>()

/**
 * A value computed from a cached read (e.g. projects with the runners available right now), as a
 * read of its own with its own ETag. The same `read` and `variant` give back the same object, so
 * whatever callers keep per read object (the prepared response bodies of api/src/lib/conditional.ts)
 * is done once per variant, not per request. `variant` must name everything `derive` depends on
 * besides the read's value.
 */
export function deriveRead<T, U>(read: CachedRead<T>, variant: string, derive: (value: T) => U): CachedRead<U> {
  let byVariant = derivations.get(read)
  if (!byVariant) {
    byVariant = new Map()
    derivations.set(read, byVariant)
  }
  const known = byVariant.get(variant)
  if (known) return known as CachedRead<U>
  const value = derive(read.value)
  const derived = { value, etag: etagOf(value) }
  byVariant.set(variant, derived)
  return derived
}

const LOCAL_MAX_ENTRIES = 1000

/**
 * Two-level read-through cache for public reads (posts, projects).
 *
 * Entries live in the shared Cache (Redis or in-process) under a *generation*: a write bumps the
 * generation (a fresh random id) in the Cache and publishes it, so no instance ever reads an entry written
 * before the change (a slow reader that loaded old rows stores them under a generation nobody asks
 * for any more). Each instance also keeps a small local copy; the published message clears it on
 * every instance, which is what makes invalidation reach all of them.
 */
export function createReadCache(options: ReadCacheOptions): ReadCache {
  const { cache, namespace } = options
  // During a cache outage every read fails the same way: log each kind of failure once a minute,
  // not once per request (docs/faults.md, "One log line per outage").
  const lastLogged = new Map<string, number>()
  const logger = options.logger && {
    warn: (obj: object, msg: string) => {
      const now = Date.now()
      if (now - (lastLogged.get(msg) ?? 0) < 60_000) return
      lastLogged.set(msg, now)
      options.logger?.warn(obj, msg)
    },
    error: (obj: object, msg: string) => {
      const now = Date.now()
      if (now - (lastLogged.get(msg) ?? 0) < 60_000) return
      lastLogged.set(msg, now)
      options.logger?.error(obj, msg)
    },
  }
  const ttlMs = options.ttlMs ?? 5 * 60_000
  const localTtlMs = options.localTtlMs ?? 30_000
  const genKey = `read:${namespace}:gen`
  const channel = `read:${namespace}:invalidate`
  const local = new Map<string, { read: CachedRead<unknown>; expiresAt: number }>()
  /** The generation last read from the Cache, trusted for `localTtlMs` or until a message. */
  let generation: string | undefined
  let generationAt = 0
  /** Bumped by every invalidation seen here: a read that overlapped one keeps nothing locally. */
  let epoch = 0

  // The message only says "something changed": the generation in the Cache is the truth, re-read
  // on the next get (messages from two writers can cross).
  const onMessage = () => {
    epoch++
    generation = undefined
    local.clear()
    metrics.cacheInvalidations.inc({ channel: namespace })
  }
  let unsubscribe: (() => Promise<void>) | undefined
  const ready = cache
    .subscribe(channel, onMessage)
    .then((u) => {
      unsubscribe = u
    })
    .catch((err) => logger?.warn({ err, namespace }, 'read cache: subscribe failed; relying on generations'))

  /** The current generation; a missing one (fresh or flushed store) is created, never assumed. */
  const readGeneration = async (): Promise<string> => {
    const stored = await cache.get(genKey)
    if (stored !== null) return stored
    const fresh = randomUUID()
    if (await cache.setIfAbsent(genKey, fresh)) return fresh
    return (await cache.get(genKey)) ?? fresh
  }

  const currentGeneration = async (): Promise<string> => {
    if (generation !== undefined && Date.now() - generationAt < localTtlMs) return generation
    let stored = ''
    for (let attempt = 0; attempt < 3; attempt++) {
      const started = epoch
      stored = await readGeneration()
      // An invalidation that arrived during the GET may be newer than what it returned: read again.
      if (started === epoch) {
        generation = stored
        generationAt = Date.now()
        return stored
      }
    }
    return stored
  }

  return {
    ready,
    async get<T>(key: string, load: () => Promise<T>): Promise<CachedRead<T>> {
      let gen: string
      const startedEpoch = epoch
      try {
        gen = await currentGeneration()
      } catch (err) {
        logger?.warn({ err, namespace }, 'read cache unavailable; reading through')
        const value = await load()
        return { value, etag: etagOf(value) }
      }
      const fullKey = `read:${namespace}:${gen}:${key}`
      const hit = local.get(fullKey)
      if (hit && hit.expiresAt > Date.now()) {
        // Most recently used last: what is evicted first is what nobody asked for lately.
        local.delete(fullKey)
        local.set(fullKey, hit)
        return hit.read as CachedRead<T>
      }
      let read: CachedRead<T> | undefined
      try {
        const stored = await cache.get(fullKey)
        if (stored !== null) read = JSON.parse(stored) as CachedRead<T>
      } catch (err) {
        logger?.warn({ err, namespace }, 'read cache get failed')
      }
      if (!read) {
        const value = await load()
        read = { value, etag: etagOf(value) }
        try {
          await cache.set(fullKey, JSON.stringify(read), ttlMs)
        } catch (err) {
          logger?.warn({ err, namespace }, 'read cache set failed')
        }
      }
      // Only keep it locally when no invalidation happened during the load.
      if (epoch === startedEpoch && generation === gen) {
        // Bounded: many distinct keys (cursors) must not grow the process without limit. The least
        // recently used entry goes, not all of them: a stream of one-off deep pages must not evict
        // the first page every visitor reads (docs/performance.md, "Uncached pages").
        if (local.size >= LOCAL_MAX_ENTRIES) local.delete(local.keys().next().value as string)
        local.delete(fullKey)
        local.set(fullKey, { read, expiresAt: Date.now() + localTtlMs })
      }
      return read
    },
    async invalidate() {
      try {
        // A random generation, not a counter: a value is never reused, even if the store lost it.
        const next = randomUUID()
        await cache.set(genKey, next)
        onMessage()
        // Set after the write committed: this instance reads fresh data at once.
        generation = next
        generationAt = Date.now()
        await cache.publish(channel, next)
      } catch (err) {
        // Without the shared generation, stop trusting anything: read through until it answers again.
        generation = undefined
        logger?.error({ err, namespace }, 'read cache invalidation failed')
      }
    },
    async close() {
      await ready
      await unsubscribe?.()
      local.clear()
    },
  }
}
