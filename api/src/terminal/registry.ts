import type { RunnerKind } from '@shellfolio/runner'
import type { Cache } from '../cache/index.ts'

/**
 * The registry of terminal sessions shared by every API instance (docs/architecture.md): Redis when the
 * cache is Redis, an in-process map otherwise. It enforces the per-IP and global caps atomically
 * and lets an admin on any instance list every live session.
 */
export interface SessionRecord {
  id: string
  project: string
  runner: RunnerKind
  ip: string
  /** The embedding page's origin, when opened from an embed (docs/api.md, "Embedding"). */
  origin?: string
  /** The API instance that runs the session. */
  instance: string
  /** The runner service hosting the sandbox (remote placement); absent when it runs in `instance`. */
  host?: string
  /** `pending`: ticket issued, not redeemed yet; `attached`/`detached`: a socket is (not) connected. */
  status: 'pending' | 'attached' | 'detached'
  startedAt: number
  expiresAt: number
  /** The record is ignored (and pruned) after this: the ticket expired or the owner stopped heartbeating. */
  staleAt: number
  /** What another instance needs to adopt the session if its owner dies (runners whose sessions outlive it). */
  runnerSessionId?: string
  /** SHA-256 (base64url) of the resume token: the token itself never leaves the owner. */
  resumeHash?: string
  /** SHA-256 (base64url) of the resume token of every session: proves the owner on any instance (watch links). */
  tokenHash?: string
  cols?: number
  rows?: number
}

export type ReserveResult = 'ok' | 'ip' | 'global'

export interface SessionRegistry {
  /** Adds the record unless the IP already holds `perIp` sessions or the total is `global`. */
  reserve(record: SessionRecord, caps: { perIp: number; global: number }): Promise<ReserveResult>
  put(record: SessionRecord): Promise<void>
  get(id: string): Promise<SessionRecord | null>
  remove(id: string): Promise<void>
  /** Every session that is not stale, oldest first. */
  list(): Promise<SessionRecord[]>
}

/** The registry's Redis hash (the waiting line, queue.ts, reads it in the same script). */
export const SESSIONS_KEY = 'terminal:sessions'
const KEY = SESSIONS_KEY
/** The waiting line's hash (queue.ts): places waiting count against the free slots. */
const QUEUE_KEY = 'terminal:queue'

// why Lua: count-then-insert must be one step, or two instances can both take the last slot.
const RESERVE_SCRIPT = `
local all = redis.call('HGETALL', KEYS[1])
local now = tonumber(ARGV[2])
local ip = ARGV[3]
local perIp = tonumber(ARGV[4])
local global = tonumber(ARGV[5])
local total, mine = 0, 0
local counts = {}
for i = 1, #all, 2 do
  local rec = cjson.decode(all[i + 1])
  if rec.staleAt <= now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    total = total + 1
    counts[rec.ip] = (counts[rec.ip] or 0) + 1
    if rec.ip == ip then mine = mine + 1 end
  end
end
if mine >= perIp then return 'ip' end
-- Places waiting in line (queue.ts) come first: a newcomer gets a slot only if one is left after them.
local waiting = 0
local q = redis.call('HGETALL', KEYS[2])
for i = 1, #q, 2 do
  local e = cjson.decode(q[i + 1])
  if e.staleAt <= now then
    redis.call('HDEL', KEYS[2], q[i])
  elseif (counts[e.ip] or 0) < perIp then
    waiting = waiting + 1
  end
end
if total + waiting >= global then return 'global' end
redis.call('HSET', KEYS[1], ARGV[6], ARGV[1])
return 'ok'
`

function fresh(records: SessionRecord[], now: number): SessionRecord[] {
  return records.filter((r) => r.staleAt > now).sort((a, b) => a.startedAt - b.startedAt)
}

const memoryStores = new WeakMap<Cache, Map<string, SessionRecord>>()

/** A place in the waiting line (queue.ts). */
export interface QueueEntry {
  /** 192 random bits (base64url): the place's id is also the only proof of holding it. */
  id: string
  project: string
  runner: RunnerKind
  ip: string
  origin?: string
  /** Order in the line (a shared counter: instances' clocks do not decide fairness). */
  seq: number
  enqueuedAt: number
  staleAt: number
}

/** The waiting line of the in-process cache (queue.ts): its places in order, and the order counter. */
export interface MemoryQueue {
  entries: Map<string, QueueEntry>
  seq: number
}
const memoryQueues = new WeakMap<Cache, MemoryQueue>()

/** The registry records of an in-process cache (shared by every registry over it). */
export function memoryRegistryOf(cache: Cache): Map<string, SessionRecord> {
  let store = memoryStores.get(cache)
  if (!store) {
    store = new Map()
    memoryStores.set(cache, store)
  }
  return store
}

/** The waiting line of an in-process cache (queue.ts). */
export function memoryQueueOf(cache: Cache): MemoryQueue {
  let queue = memoryQueues.get(cache)
  if (!queue) {
    queue = { entries: new Map(), seq: 0 }
    memoryQueues.set(cache, queue)
  }
  return queue
}

/** Picks the adapter matching the cache; apps sharing one in-process cache share one registry. */
export function createSessionRegistry(cache: Cache, now: () => number = Date.now): SessionRegistry {
  const redis = cache.redis
  if (!redis) {
    return createMemoryRegistry(now, memoryRegistryOf(cache), memoryQueueOf(cache))
  }
  return {
    async reserve(record, caps) {
      const res = await redis.eval(
        RESERVE_SCRIPT,
        2,
        KEY,
        QUEUE_KEY,
        JSON.stringify(record),
        String(now()),
        record.ip,
        String(caps.perIp),
        String(caps.global),
        record.id,
      )
      return res as ReserveResult
    },
    async put(record) {
      await redis.hset(KEY, record.id, JSON.stringify(record))
    },
    async get(id) {
      const raw = await redis.hget(KEY, id)
      if (!raw) return null
      const record = JSON.parse(raw) as SessionRecord
      return record.staleAt > now() ? record : null
    },
    async remove(id) {
      await redis.hdel(KEY, id)
    },
    async list() {
      const all = await redis.hgetall(KEY)
      return fresh(
        Object.values(all).map((v) => JSON.parse(v) as SessionRecord),
        now(),
      )
    },
  }
}

export function createMemoryRegistry(
  now: () => number = Date.now,
  records = new Map<string, SessionRecord>(),
  queue: MemoryQueue = { entries: new Map(), seq: 0 },
): SessionRegistry {
  const prune = () => {
    const t = now()
    for (const [id, r] of records) if (r.staleAt <= t) records.delete(id)
    for (const [id, e] of queue.entries) if (e.staleAt <= t) queue.entries.delete(id)
  }
  return {
    async reserve(record, caps) {
      prune()
      const all = [...records.values()]
      if (all.filter((r) => r.ip === record.ip).length >= caps.perIp) return 'ip'
      // Places waiting in line (queue.ts) come first, as in the Redis script.
      const held = (ip: string) => all.filter((r) => r.ip === ip).length
      const waiting = [...queue.entries.values()].filter((e) => held(e.ip) < caps.perIp).length
      if (all.length + waiting >= caps.global) return 'global'
      records.set(record.id, { ...record })
      return 'ok'
    },
    async put(record) {
      records.set(record.id, { ...record })
    },
    async get(id) {
      const r = records.get(id)
      return r && r.staleAt > now() ? { ...r } : null
    },
    async remove(id) {
      records.delete(id)
    },
    async list() {
      return fresh([...records.values()], now()).map((r) => ({ ...r }))
    },
  }
}
