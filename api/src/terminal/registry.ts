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

const KEY = 'terminal:sessions'

// why Lua: count-then-insert must be one step, or two instances can both take the last slot.
const RESERVE_SCRIPT = `
local all = redis.call('HGETALL', KEYS[1])
local now = tonumber(ARGV[2])
local ip = ARGV[3]
local perIp = tonumber(ARGV[4])
local global = tonumber(ARGV[5])
local total, mine = 0, 0
for i = 1, #all, 2 do
  local rec = cjson.decode(all[i + 1])
  if rec.staleAt <= now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    total = total + 1
    if rec.ip == ip then mine = mine + 1 end
  end
end
if mine >= perIp then return 'ip' end
if total >= global then return 'global' end
redis.call('HSET', KEYS[1], ARGV[6], ARGV[1])
return 'ok'
`

function fresh(records: SessionRecord[], now: number): SessionRecord[] {
  return records.filter((r) => r.staleAt > now).sort((a, b) => a.startedAt - b.startedAt)
}

const memoryStores = new WeakMap<Cache, Map<string, SessionRecord>>()

/** Picks the adapter matching the cache; apps sharing one in-process cache share one registry. */
export function createSessionRegistry(cache: Cache, now: () => number = Date.now): SessionRegistry {
  const redis = cache.redis
  if (!redis) {
    let store = memoryStores.get(cache)
    if (!store) {
      store = new Map()
      memoryStores.set(cache, store)
    }
    return createMemoryRegistry(now, store)
  }
  return {
    async reserve(record, caps) {
      const res = await redis.eval(
        RESERVE_SCRIPT,
        1,
        KEY,
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
): SessionRegistry {
  const prune = () => {
    const t = now()
    for (const [id, r] of records) if (r.staleAt <= t) records.delete(id)
  }
  return {
    async reserve(record, caps) {
      prune()
      const all = [...records.values()]
      if (all.filter((r) => r.ip === record.ip).length >= caps.perIp) return 'ip'
      if (all.length >= caps.global) return 'global'
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
