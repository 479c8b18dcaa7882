import { describe, expect, test } from 'bun:test'
import { Writable } from 'node:stream'
import { sql } from 'drizzle-orm'
import Redis from 'ioredis'
import { freePort } from '../../test/faults/services.ts'
import { openDatabase } from '../db/index.ts'
import { DependencyUnavailableError } from '../http/errors.ts'
import { createLogger } from '../logger.ts'
import { metrics } from '../metrics/index.ts'
import { classifyDependencyError, DependencyMonitor } from './dependencies.ts'

/** The error a real call raises (every driver below talks to a port nothing listens on). */
async function errorOf(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn()
  } catch (err) {
    return err
  }
  throw new Error('expected a failure')
}

function capturedLogger() {
  const lines: { msg: string; [k: string]: unknown }[] = []
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l))
      done()
    },
  })
  return { logger: createLogger('info', sink), lines }
}

describe('which errors are dependency outages', () => {
  test('PostgreSQL refusing connections (through drizzle) is the database', async () => {
    const database = await openDatabase({ url: `postgres://root@127.0.0.1:${await freePort()}/x`, max: 1 })
    const err = await errorOf(() => database.db.execute(sql`select 1`))
    expect(classifyDependencyError(err)).toBe('database')
    await database.close()
  })

  test('a closed PGlite is the database', async () => {
    const database = await openDatabase({})
    await database.close()
    expect(classifyDependencyError(await errorOf(() => database.db.execute(sql`select 1`)))).toBe('database')
  }, 30_000)

  test('ioredis without an offline queue while disconnected is the cache', async () => {
    const redis = new Redis(`redis://127.0.0.1:${await freePort()}`, {
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    })
    redis.on('error', () => {})
    const err = await errorOf(() => redis.get('x'))
    expect(classifyDependencyError(err)).toBe('cache')
    redis.disconnect()
  })

  test('PostgreSQL shutdown states, a full disk, and Docker are classified; bugs are not', () => {
    const pgError = (code: string) => Object.assign(new Error('terminating connection'), { code, severity: 'FATAL' })
    expect(classifyDependencyError(pgError('57P01'))).toBe('database')
    expect(classifyDependencyError(pgError('08006'))).toBe('database')
    expect(classifyDependencyError(pgError('53100'))).toBe('database')
    expect(classifyDependencyError(pgError('23505'))).toBeNull()
    expect(classifyDependencyError(Object.assign(new Error('write failed'), { code: 'ENOSPC' }))).toBe('storage')
    expect(
      classifyDependencyError(
        Object.assign(new Error('connect ENOENT /var/run/docker.sock'), {
          code: 'ENOENT',
          address: '/var/run/docker.sock',
        }),
      ),
    ).toBe('runner')
    expect(classifyDependencyError(new DependencyUnavailableError('storage'))).toBe('storage')
    expect(classifyDependencyError(new TypeError('x is undefined'))).toBeNull()
    expect(classifyDependencyError(undefined)).toBeNull()
  })
})

describe('the dependency monitor', () => {
  test('one log line when an outage starts, one when it ends, whatever the number of failures', async () => {
    const { logger, lines } = capturedLogger()
    let up = false
    const outages: string[] = []
    const monitor = new DependencyMonitor({
      logger,
      probes: {
        cache: async () => {
          if (!up) throw new Error('down')
        },
      },
      probeIntervalMs: 20,
      onOutage: (o) => outages.push(o.code),
    })
    for (let i = 0; i < 50; i++) monitor.failed('cache', new Error("Stream isn't writeable"), { requestId: `r${i}` })
    expect(monitor.isDown('cache')).toBe(true)
    expect(monitor.outages()).toMatchObject([{ dependency: 'cache', failures: 50 }])
    expect(await metrics.registry.render()).toContain('shellfolio_dependency_up{dependency="cache"} 0')
    up = true
    const deadline = Date.now() + 5000
    while (monitor.isDown('cache') && Date.now() < deadline) await Bun.sleep(10)
    expect(monitor.isDown('cache')).toBe(false)
    expect(await metrics.registry.render()).toContain('shellfolio_dependency_up{dependency="cache"} 1')
    const messages = lines.map((l) => l.msg)
    expect(messages.filter((m) => m.startsWith('cache unavailable'))).toHaveLength(1)
    expect(messages.filter((m) => m === 'cache recovered')).toHaveLength(1)
    expect(lines.find((l) => l.msg === 'cache recovered')).toMatchObject({ failures: 50 })
    expect(outages).toEqual(['CACHE_UNAVAILABLE'])
    monitor.close()
  })

  test('an outage that comes back within the settle time is the same outage: one line when it starts, one when it ends, one Problems occurrence', async () => {
    const { logger, lines } = capturedLogger()
    let up = false
    const outages: string[] = []
    const monitor = new DependencyMonitor({
      logger,
      probes: {
        database: async () => {
          if (!up) throw new Error('down')
        },
      },
      probeIntervalMs: 20,
      onOutage: (o) => outages.push(o.code),
    })
    monitor.failed('database', new Error('connection refused'))
    up = true
    const deadline = Date.now() + 5000
    while (monitor.isDown('database') && Date.now() < deadline) await Bun.sleep(10)
    expect(monitor.isDown('database')).toBe(false)
    // a stale pooled connection fails once more right after the restart
    up = false
    monitor.failed('database', new Error('terminating connection due to administrator command'))
    expect(monitor.isDown('database')).toBe(true)
    expect(outages).toEqual(['DATABASE_UNAVAILABLE'])
    expect(lines.filter((l) => l.msg.startsWith('database unavailable'))).toHaveLength(1)
    // the echo ends too, without a second recovery line
    up = true
    const again = Date.now() + 5000
    while (monitor.isDown('database') && Date.now() < again) await Bun.sleep(10)
    expect(monitor.isDown('database')).toBe(false)
    expect(lines.filter((l) => l.msg === 'database recovered')).toHaveLength(1)
    monitor.close()
  })
})
