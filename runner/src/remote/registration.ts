import Redis from 'ioredis'
import { normalizeUrl, REGISTRATION_TTL_MS, REGISTRY_SET, type RunnerInfo, registryKey } from './protocol.ts'

/** Where a runner service publishes its capacity and health for API instances. */
export interface Registration {
  publish(info: RunnerInfo): Promise<void>
  remove(id: string): Promise<void>
  close(): Promise<void>
}

/**
 * Redis registration: a set of runner ids and one record per runner that expires unless refreshed
 * (REGISTRATION_TTL_MS), so a runner service that dies drops out without anyone's clock mattering.
 */
export function createRedisRegistration(target: string | Redis, prefix = 'shellfolio:'): Registration {
  // A URL: our own connection (keys under `prefix`). A client: shared, its own prefix applies.
  const own = typeof target === 'string'
  const redis = own ? new Redis(target, { keyPrefix: prefix, maxRetriesPerRequest: 1 }) : target
  if (own) redis.on('error', () => {})
  return {
    async publish(info) {
      await redis
        .multi()
        .sadd(REGISTRY_SET, info.id)
        .set(registryKey(info.id), JSON.stringify(info), 'PX', REGISTRATION_TTL_MS)
        .exec()
    },
    async remove(id) {
      await redis.multi().srem(REGISTRY_SET, id).del(registryKey(id)).exec()
    },
    async close() {
      if (own) await redis.quit().catch(() => redis.disconnect())
    },
  }
}

/** The minimal Redis surface the API side needs (an ioredis client with the same key prefix). */
export interface RegistryReader {
  smembers(key: string): Promise<string[]>
  mget(...keys: string[]): Promise<(string | null)[]>
  srem(key: string, ...members: string[]): Promise<number>
}

/** Live registrations by advertised URL; ids whose record expired are dropped from the set. */
export async function readRegistrations(redis: RegistryReader): Promise<Map<string, RunnerInfo>> {
  const ids = await redis.smembers(REGISTRY_SET)
  const out = new Map<string, RunnerInfo>()
  if (ids.length === 0) return out
  const values = await redis.mget(...ids.map(registryKey))
  const gone: string[] = []
  values.forEach((raw, i) => {
    if (!raw) {
      gone.push(ids[i] as string)
      return
    }
    try {
      const info = JSON.parse(raw) as RunnerInfo
      out.set(normalizeUrl(info.url), info)
    } catch {
      gone.push(ids[i] as string)
    }
  })
  if (gone.length > 0) await redis.srem(REGISTRY_SET, ...gone).catch(() => 0)
  return out
}
