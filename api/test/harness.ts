import { randomBytes } from 'node:crypto'
import postgres from 'postgres'
import type { AppDeps } from '../src/app.ts'
import { type Cache, createMemoryCache, createRedisCache } from '../src/cache/index.ts'
import { type Config, loadConfig } from '../src/config.ts'
import { type Database, openDatabase } from '../src/db/index.ts'
import { createLogger } from '../src/logger.ts'

/**
 * Test backends: every adapter suite runs against the real services (PostgreSQL, Redis) and the
 * embedded defaults (PGlite, in-process). `make test` provides TEST_DATABASE_URL / TEST_REDIS_URL;
 * a suite that needs them and finds them missing fails loudly instead of skipping.
 */
export type BackendKind = 'services' | 'embedded'
export const BACKENDS: BackendKind[] = ['services', 'embedded']

export function requireEnv(name: string): string {
  const value = process.env[name]
  if (!value) {
    throw new Error(
      `${name} is not set: this suite needs a real service. Run it through \`make test\`, which starts and configures one.`,
    )
  }
  return value
}

/** Creates a throwaway PostgreSQL database on the test server; returns its URL and a drop function. */
export async function createScratchDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = requireEnv('TEST_DATABASE_URL')
  const name = `sf_t_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`
  const admin = postgres(base, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  await admin.end()
  const url = new URL(base)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: async () => {
      const again = postgres(base, { max: 1, onnotice: () => {} })
      await again.unsafe(`drop database if exists ${name} with (force)`)
      await again.end()
    },
  }
}

export interface Backend {
  kind: BackendKind
  database: Database
  cache: Cache
  /** Opens a second cache connection to the same store (another "instance"); memory: the same one. */
  openPeerCache(): Promise<Cache>
  /** For services: the database URL (lets a test open a second "instance"). */
  databaseUrl?: string
  close(): Promise<void>
}

/** Opens a migrated database and a cache of the given kind, isolated from every other test file. */
export async function openBackend(kind: BackendKind): Promise<Backend> {
  if (kind === 'embedded') {
    const database = await openDatabase({})
    await database.migrate()
    const cache = createMemoryCache()
    return {
      kind,
      database,
      cache,
      openPeerCache: async () => cache,
      close: async () => {
        await cache.close()
        await database.close()
      },
    }
  }
  const scratch = await createScratchDatabase()
  const database = await openDatabase({ url: scratch.url, max: 5 })
  await database.migrate()
  const prefix = `sf:test:${randomBytes(4).toString('hex')}:`
  const redisUrl = requireEnv('TEST_REDIS_URL')
  const cache = await createRedisCache({ url: redisUrl, prefix })
  const peers: Cache[] = []
  return {
    kind,
    database,
    cache,
    databaseUrl: scratch.url,
    openPeerCache: async () => {
      const peer = await createRedisCache({ url: redisUrl, prefix })
      peers.push(peer)
      return peer
    },
    close: async () => {
      await clearRedisPrefix(cache, prefix)
      await Promise.allSettled([cache.close(), ...peers.map((p) => p.close())])
      await database.close()
      await scratch.drop()
    },
  }
}

/** Deletes every key a Redis cache opened with `prefix` holds (a suite's own namespace). */
export async function clearRedisPrefix(cache: Cache, prefix: string): Promise<void> {
  if (!cache.redis) return
  const keys = await cache.redis.keys('*').catch(() => [] as string[])
  // Keys come back with the prefix; ioredis adds it again on del, so strip it.
  if (keys.length > 0) await cache.redis.del(...keys.map((k) => k.slice(prefix.length)))
}

/** A validated test configuration; override any variable by name. */
export function testConfig(env: Record<string, string> = {}): Readonly<Config> {
  return loadConfig({
    APP_ENV: 'test',
    JWT_SECRET: 'test-secret-that-is-long-enough-0123456789abcdef',
    LOG_LEVEL: 'silent',
    DATA_DIR: `/tmp/shellfolio-test-${process.pid}`,
    // why: `make test` runs the Docker suites once per sandbox runtime (runc, runsc)
    ...(process.env.SANDBOX_RUNTIME ? { SANDBOX_RUNTIME: process.env.SANDBOX_RUNTIME } : {}),
    ...env,
  })
}

/** AppDeps over a backend, with a silent logger unless one is given. */
export function testDeps(backend: Backend, env: Record<string, string> = {}): AppDeps {
  const config = testConfig(env)
  return { config, logger: createLogger(config.logLevel), database: backend.database, cache: backend.cache }
}

/** `http://localhost` requests for `app.handle` (Elysia 404s other hosts in some setups). */
export function req(path: string, init: RequestInit & { json?: unknown } = {}): Request {
  const { json, ...rest } = init
  const headers = new Headers(rest.headers)
  if (json !== undefined) headers.set('content-type', 'application/json')
  const body = json !== undefined ? JSON.stringify(json) : rest.body
  // Real clients send Content-Length; `new Request` leaves it to the transport.
  if (typeof body === 'string' && !headers.has('content-length')) {
    headers.set('content-length', String(Buffer.byteLength(body)))
  }
  return new Request(`http://localhost${path}`, { ...rest, headers, body })
}
