import Redis from 'ioredis'
import { claimEndpoint } from '../health/dependencies.ts'

/**
 * Key-value cache with expiry plus pub/sub: one interface, a Redis adapter and an in-process
 * one (docs/architecture.md). Rate limits, the token denylist, caches and the session registry use it.
 */
export interface Cache {
  readonly kind: 'redis' | 'memory'
  get(key: string): Promise<string | null>
  /** Stores a value; `ttlMs` omitted means no expiry. */
  set(key: string, value: string, ttlMs?: number): Promise<void>
  /** Stores only when absent; true when this call stored it. */
  setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean>
  del(...keys: string[]): Promise<void>
  /** Atomically increments a counter, starting its expiry on first use. */
  incr(key: string, ttlMs: number): Promise<number>
  /** Delivers `message` to every subscriber of `channel`, in this process and in others. */
  publish(channel: string, message: string): Promise<void>
  /** Returns an unsubscribe function. */
  subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>>
  ping(): Promise<void>
  close(): Promise<void>
  /** The underlying ioredis client for libraries that need one (rate-limiter-flexible). */
  readonly redis?: Redis
}

type Handler = (message: string) => void

function addHandler(map: Map<string, Set<Handler>>, channel: string, handler: Handler): boolean {
  let set = map.get(channel)
  const isNew = !set
  if (!set) {
    set = new Set()
    map.set(channel, set)
  }
  set.add(handler)
  return isNew
}

function removeHandler(map: Map<string, Set<Handler>>, channel: string, handler: Handler): boolean {
  const set = map.get(channel)
  if (!set) return false
  set.delete(handler)
  if (set.size > 0) return false
  map.delete(channel)
  return true
}

function deliver(map: Map<string, Set<Handler>>, channel: string, message: string): void {
  for (const handler of map.get(channel) ?? []) {
    try {
      handler(message)
    } catch {
      // A failing subscriber must not stop delivery to the others.
    }
  }
}

/** The in-process adapter: one process, same semantics. */
export function createMemoryCache(): Cache {
  const store = new Map<string, { value: string; expiresAt: number }>()
  const handlers = new Map<string, Set<Handler>>()
  let closed = false
  const live = (key: string) => {
    const entry = store.get(key)
    if (!entry) return undefined
    if (entry.expiresAt <= Date.now()) {
      store.delete(key)
      return undefined
    }
    return entry
  }
  // Expired entries are also swept so an idle process does not keep them forever.
  const sweep = setInterval(() => {
    const now = Date.now()
    for (const [k, v] of store) if (v.expiresAt <= now) store.delete(k)
  }, 60_000)
  sweep.unref?.()
  const expiry = (ttlMs?: number) => (ttlMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + ttlMs)
  return {
    kind: 'memory',
    async get(key) {
      return live(key)?.value ?? null
    },
    async set(key, value, ttlMs) {
      store.set(key, { value, expiresAt: expiry(ttlMs) })
    },
    async setIfAbsent(key, value, ttlMs) {
      if (live(key)) return false
      store.set(key, { value, expiresAt: expiry(ttlMs) })
      return true
    },
    async del(...keys) {
      for (const k of keys) store.delete(k)
    },
    async incr(key, ttlMs) {
      const entry = live(key)
      const next = entry ? Number(entry.value) + 1 : 1
      store.set(key, { value: String(next), expiresAt: entry?.expiresAt ?? expiry(ttlMs) })
      return next
    },
    async publish(channel, message) {
      // Asynchronous like Redis: a publisher never runs its subscribers re-entrantly.
      queueMicrotask(() => deliver(handlers, channel, message))
    },
    async subscribe(channel, handler) {
      addHandler(handlers, channel, handler)
      return async () => {
        removeHandler(handlers, channel, handler)
      }
    },
    async ping() {
      if (closed) throw new Error('cache is closed')
    },
    async close() {
      closed = true
      clearInterval(sweep)
      store.clear()
      handlers.clear()
    },
  }
}

export interface RedisCacheOptions {
  url: string
  /** Prepended to every key and channel. */
  prefix: string
}

/** The Redis adapter (ioredis): shared by every API instance. */
export async function createRedisCache(options: RedisCacheOptions): Promise<Cache> {
  const common = {
    keyPrefix: options.prefix,
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: false,
    connectTimeout: 3000,
    // Keep trying to reconnect in the background; requests fail fast meanwhile.
    retryStrategy: (times: number) => Math.min(times * 200, 2000),
  }
  claimEndpoint(options.url, 'cache')
  const client = new Redis(options.url, common)
  // Subscribing puts a connection in subscriber mode: use a second one.
  const subscriber = new Redis(options.url, { ...common, keyPrefix: undefined })
  client.on('error', () => {})
  subscriber.on('error', () => {})
  await client.connect()
  await subscriber.connect()
  const handlers = new Map<string, Set<Handler>>()
  subscriber.on('message', (channel: string, message: string) => {
    deliver(handlers, channel.slice(options.prefix.length), message)
  })
  return {
    kind: 'redis',
    redis: client,
    async get(key) {
      return client.get(key)
    },
    async set(key, value, ttlMs) {
      if (ttlMs === undefined) await client.set(key, value)
      else await client.set(key, value, 'PX', Math.max(1, Math.ceil(ttlMs)))
    },
    async setIfAbsent(key, value, ttlMs) {
      const res =
        ttlMs === undefined
          ? await client.set(key, value, 'NX')
          : await client.set(key, value, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')
      return res === 'OK'
    },
    async del(...keys) {
      if (keys.length > 0) await client.del(...keys)
    },
    async incr(key, ttlMs) {
      const [[, count]] = (await client
        .multi()
        .incr(key)
        .pexpire(key, Math.max(1, Math.ceil(ttlMs)), 'NX')
        .exec()) as [[Error | null, number]]
      return count
    },
    async publish(channel, message) {
      await client.publish(options.prefix + channel, message)
    },
    async subscribe(channel, handler) {
      if (addHandler(handlers, channel, handler)) await subscriber.subscribe(options.prefix + channel)
      return async () => {
        if (removeHandler(handlers, channel, handler)) await subscriber.unsubscribe(options.prefix + channel)
      }
    },
    async ping() {
      await client.ping()
    },
    async close() {
      handlers.clear()
      await Promise.allSettled([client.quit(), subscriber.quit()])
      client.disconnect()
      subscriber.disconnect()
    },
  }
}

/** Redis when a URL is configured, the in-process adapter otherwise. */
export function openCache(options: { url?: string | undefined; prefix: string }): Promise<Cache> {
  return options.url
    ? createRedisCache({ url: options.url, prefix: options.prefix })
    : Promise.resolve(createMemoryCache())
}
