import { randomBytes } from 'node:crypto'
import type { Cache } from '../cache/index.ts'
import { memoryQueueOf, memoryRegistryOf, type QueueEntry, SESSIONS_KEY, type SessionRecord } from './registry.ts'

/**
 * The waiting line for terminal sessions when the deployment is full (docs/terminal-protocol.md,
 * "Waiting for a slot"): one fair FIFO line for the whole deployment, kept next to the session
 * registry in the shared cache (Redis, or an in-process map with the embedded cache) so every API
 * instance sees the same line. A visitor polls their place; each poll is a heartbeat, and the
 * poll that finds a free slot for them takes it atomically and gets a ticket. A place not polled
 * for `ttlMs` is dropped.
 */

/** Bounds of the line (docs/budgets.md, "Sessions"). */
export const QUEUE_LIMITS = {
  /** Places one client IP may hold at once. */
  perIp: 3,
  /** Places in the whole line. */
  total: 200,
  /** How often a waiting client polls (told to the client as `pollAfterMs`). */
  pollMs: 2_000,
  /** A place not polled for this long is dropped (the visitor left). */
  ttlMs: 15_000,
  /** Ended sessions whose length feeds the estimate. */
  recentLengths: 20,
  /** Below this many recent lengths, the estimate uses the time limit only. */
  minLengths: 3,
} as const

export type { QueueEntry }

export type EnqueueResult = { ok: true; entry: QueueEntry } | { ok: false; reason: 'ip' | 'full' }

/** A poll's answer: still waiting (with the place and what the estimate is made of), a slot taken, or no such place. */
export type ClaimResult =
  | {
      state: 'waiting'
      project: string
      /** 1-based place among everyone waiting. */
      position: number
      /** 1-based place among those waiting for the same project. */
      projectPosition: number
      /** Sessions that must end before this place is served (0: only the visitor's own sessions block it). */
      need: number
      /** The latest moment those sessions end by their time limit (epoch ms), 0 when unknown. */
      bound: number
      /** The IP already holds its `TERMINAL_MAX_PER_IP` sessions: it waits for one of its own. */
      ownLimit: boolean
    }
  | { state: 'ready'; entry: QueueEntry }
  | { state: 'gone' }

/** What a slot taken from the line becomes: the pending registry record of the new session. */
export interface SlotSpec {
  sessionId: string
  instance: string
  timeLimitMs: number
  /** When the pending record is dropped if its ticket is never redeemed. */
  staleAt: number
}

export interface Caps {
  perIp: number
  global: number
}

export interface SessionQueue {
  enqueue(input: Omit<QueueEntry, 'id' | 'seq' | 'enqueuedAt' | 'staleAt'>): Promise<EnqueueResult>
  /** The place's heartbeat: refreshes it, and takes a slot for it when it is its turn and one is free. */
  claim(id: string, caps: Caps, slot: SlotSpec): Promise<ClaimResult>
  /** Gives up the place; false when there was none. */
  leave(id: string): Promise<boolean>
  /** Remembers how long an ended session lasted (the estimate). */
  recordLength(ms: number): Promise<void>
  /** The recent session lengths, newest first. */
  lengths(): Promise<number[]>
}

export interface QueueOptions {
  now?: () => number
  ttlMs?: number
  perIp?: number
  total?: number
}

const QUEUE_KEY = 'terminal:queue'
const SEQ_KEY = 'terminal:queue:seq'
const LENGTHS_KEY = 'terminal:queue:lengths'

const ENQUEUE_SCRIPT = `
local all = redis.call('HGETALL', KEYS[1])
local now = tonumber(ARGV[2])
local total, mine = 0, 0
for i = 1, #all, 2 do
  local e = cjson.decode(all[i + 1])
  if e.staleAt <= now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    total = total + 1
    if e.ip == ARGV[5] then mine = mine + 1 end
  end
end
if mine >= tonumber(ARGV[3]) then return 'ip' end
if total >= tonumber(ARGV[4]) then return 'full' end
local e = cjson.decode(ARGV[1])
e.seq = redis.call('INCR', KEYS[2])
local raw = cjson.encode(e)
redis.call('HSET', KEYS[1], e.id, raw)
return raw
`

// why Lua: "is it this place's turn and is a slot free" and taking the slot must be one step, or
// two instances serve two places with one slot (the same reason as the registry's reserve).
const CLAIM_SCRIPT = `
local now = tonumber(ARGV[2])
local perIp = tonumber(ARGV[3])
local global = tonumber(ARGV[4])
local q = redis.call('HGETALL', KEYS[2])
local entries = {}
local me = nil
for i = 1, #q, 2 do
  local e = cjson.decode(q[i + 1])
  if e.staleAt <= now then
    redis.call('HDEL', KEYS[2], q[i])
  else
    table.insert(entries, e)
    if e.id == ARGV[1] then me = e end
  end
end
if not me then return cjson.encode({ state = 'gone' }) end
me.staleAt = now + tonumber(ARGV[5])
local all = redis.call('HGETALL', KEYS[1])
local total = 0
local counts = {}
local ends = {}
for i = 1, #all, 2 do
  local rec = cjson.decode(all[i + 1])
  if rec.staleAt <= now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    total = total + 1
    counts[rec.ip] = (counts[rec.ip] or 0) + 1
    table.insert(ends, rec.expiresAt)
  end
end
local position, projectPosition, ahead = 0, 0, 0
for _, e in ipairs(entries) do
  if e.seq <= me.seq then
    position = position + 1
    if e.project == me.project then projectPosition = projectPosition + 1 end
  end
  if e.seq < me.seq and (counts[e.ip] or 0) < perIp then ahead = ahead + 1 end
end
local eligible = (counts[me.ip] or 0) < perIp
if eligible and total + ahead < global then
  redis.call('HDEL', KEYS[2], me.id)
  local rec = { id = ARGV[6], project = me.project, runner = me.runner, ip = me.ip, instance = ARGV[7],
    status = 'pending', startedAt = now, expiresAt = now + tonumber(ARGV[8]), staleAt = tonumber(ARGV[9]) }
  if me.origin then rec.origin = me.origin end
  redis.call('HSET', KEYS[1], rec.id, cjson.encode(rec))
  return cjson.encode({ state = 'ready', entry = me })
end
redis.call('HSET', KEYS[2], me.id, cjson.encode(me))
table.sort(ends)
local need = total + ahead + 1 - global
if need < 0 then need = 0 end
local bound = 0
if need >= 1 and need <= #ends then bound = ends[need] end
return cjson.encode({ state = 'waiting', project = me.project, position = position, projectPosition = projectPosition,
  need = need, bound = bound, ownLimit = not eligible })
`

const newId = () => randomBytes(24).toString('base64url')

/** Picks the adapter matching the cache, sharing the registry's store (both are read in one step). */
export function createSessionQueue(cache: Cache, options: QueueOptions = {}): SessionQueue {
  const now = options.now ?? Date.now
  const ttlMs = options.ttlMs ?? QUEUE_LIMITS.ttlMs
  const perIpQ = options.perIp ?? QUEUE_LIMITS.perIp
  const totalQ = options.total ?? QUEUE_LIMITS.total
  const redis = cache.redis
  const fresh = (input: Omit<QueueEntry, 'id' | 'seq' | 'enqueuedAt' | 'staleAt'>) => {
    const t = now()
    return { ...input, id: newId(), seq: 0, enqueuedAt: t, staleAt: t + ttlMs }
  }
  if (!redis) return createMemoryQueue(cache, now, ttlMs, perIpQ, totalQ, fresh)
  return {
    async enqueue(input) {
      const entry = fresh(input)
      const res = (await redis.eval(
        ENQUEUE_SCRIPT,
        2,
        QUEUE_KEY,
        SEQ_KEY,
        JSON.stringify(entry),
        String(now()),
        String(perIpQ),
        String(totalQ),
        entry.ip,
      )) as string
      if (res === 'ip' || res === 'full') return { ok: false, reason: res }
      return { ok: true, entry: JSON.parse(res) as QueueEntry }
    },
    async claim(id, caps, slot) {
      const res = (await redis.eval(
        CLAIM_SCRIPT,
        2,
        SESSIONS_KEY,
        QUEUE_KEY,
        id,
        String(now()),
        String(caps.perIp),
        String(caps.global),
        String(ttlMs),
        slot.sessionId,
        slot.instance,
        String(slot.timeLimitMs),
        String(slot.staleAt),
      )) as string
      return JSON.parse(res) as ClaimResult
    },
    async leave(id) {
      return (await redis.hdel(QUEUE_KEY, id)) > 0
    },
    async recordLength(ms) {
      await redis
        .multi()
        .lpush(LENGTHS_KEY, String(Math.round(ms)))
        .ltrim(LENGTHS_KEY, 0, QUEUE_LIMITS.recentLengths - 1)
        .exec()
    },
    async lengths() {
      return (await redis.lrange(LENGTHS_KEY, 0, QUEUE_LIMITS.recentLengths - 1)).map(Number)
    },
  }
}

const memoryLengths = new WeakMap<Cache, number[]>()

function createMemoryQueue(
  cache: Cache,
  now: () => number,
  ttlMs: number,
  perIpQ: number,
  totalQ: number,
  fresh: (input: Omit<QueueEntry, 'id' | 'seq' | 'enqueuedAt' | 'staleAt'>) => QueueEntry,
): SessionQueue {
  const queue = memoryQueueOf(cache)
  const sessions = memoryRegistryOf(cache)
  let lengths = memoryLengths.get(cache)
  if (!lengths) {
    lengths = []
    memoryLengths.set(cache, lengths)
  }
  const recent = lengths
  const prune = () => {
    const t = now()
    for (const [id, e] of queue.entries) if (e.staleAt <= t) queue.entries.delete(id)
    for (const [id, r] of sessions) if (r.staleAt <= t) sessions.delete(id)
  }
  return {
    async enqueue(input) {
      prune()
      const all = [...queue.entries.values()]
      if (all.filter((e) => e.ip === input.ip).length >= perIpQ) return { ok: false, reason: 'ip' }
      if (all.length >= totalQ) return { ok: false, reason: 'full' }
      const entry = fresh(input)
      entry.seq = ++queue.seq
      queue.entries.set(entry.id, entry)
      return { ok: true, entry: { ...entry } }
    },
    async claim(id, caps, slot) {
      prune()
      const me = queue.entries.get(id)
      if (!me) return { state: 'gone' }
      const t = now()
      me.staleAt = t + ttlMs
      const counts = new Map<string, number>()
      const ends: number[] = []
      for (const r of sessions.values()) {
        counts.set(r.ip, (counts.get(r.ip) ?? 0) + 1)
        ends.push(r.expiresAt)
      }
      const total = sessions.size
      let position = 0
      let projectPosition = 0
      let ahead = 0
      for (const e of queue.entries.values()) {
        if (e.seq <= me.seq) {
          position++
          if (e.project === me.project) projectPosition++
        }
        if (e.seq < me.seq && (counts.get(e.ip) ?? 0) < caps.perIp) ahead++
      }
      const eligible = (counts.get(me.ip) ?? 0) < caps.perIp
      if (eligible && total + ahead < caps.global) {
        queue.entries.delete(id)
        const record: SessionRecord = {
          id: slot.sessionId,
          project: me.project,
          runner: me.runner,
          ip: me.ip,
          ...(me.origin ? { origin: me.origin } : {}),
          instance: slot.instance,
          status: 'pending',
          startedAt: t,
          expiresAt: t + slot.timeLimitMs,
          staleAt: slot.staleAt,
        }
        sessions.set(record.id, record)
        return { state: 'ready', entry: { ...me } }
      }
      ends.sort((a, b) => a - b)
      const need = Math.max(0, total + ahead + 1 - caps.global)
      return {
        state: 'waiting',
        project: me.project,
        position,
        projectPosition,
        need,
        bound: need >= 1 && need <= ends.length ? (ends[need - 1] as number) : 0,
        ownLimit: !eligible,
      }
    },
    async leave(id) {
      return queue.entries.delete(id)
    },
    async recordLength(ms) {
      recent.unshift(Math.round(ms))
      recent.length = Math.min(recent.length, QUEUE_LIMITS.recentLengths)
    },
    async lengths() {
      return [...recent]
    },
  }
}

/**
 * The estimate of a waiting place, in seconds (docs/terminal-protocol.md, "Waiting for a slot"):
 * the time-limit bound (the `need`-th soonest deadline of the live sessions: they surely end by
 * then) and, when at least `minLengths` sessions ended recently, `need` × their mean length ÷ the
 * session cap (sessions end at about that rate); the smaller of the two.
 */
export function estimate(
  claim: Extract<ClaimResult, { state: 'waiting' }>,
  lengths: number[],
  config: { maxSessions: number; timeLimitMs: number },
  now: number,
): { estimateSeconds: number; estimateBasis: 'recent-sessions' | 'time-limit' } {
  const need = Math.max(1, claim.need)
  const byLimit = claim.bound > 0 ? Math.max(0, claim.bound - now) : need * config.timeLimitMs
  if (lengths.length >= QUEUE_LIMITS.minLengths) {
    const mean = lengths.reduce((a, b) => a + b, 0) / lengths.length
    const byRecent = (need * mean) / config.maxSessions
    if (byRecent < byLimit) return { estimateSeconds: Math.ceil(byRecent / 1000), estimateBasis: 'recent-sessions' }
  }
  return { estimateSeconds: Math.ceil(byLimit / 1000), estimateBasis: 'time-limit' }
}
