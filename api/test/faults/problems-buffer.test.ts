import { afterAll, beforeAll, expect, test } from 'bun:test'
import { Writable } from 'node:stream'
import { type Database, openDatabase } from '../../src/db/index.ts'
import { problems } from '../../src/db/schema/index.ts'
import { createLogger } from '../../src/logger.ts'
import { createProblemsService } from '../../src/problems/service.ts'
import { type PgCluster, startPgCluster } from './services.ts'

/**
 * Problems reported while the database is down (docs/faults.md): held in memory, at most
 * `maxBuffered` groups (more are dropped and logged once, never one line per report), and written
 * with their counts once the database is back.
 */

let pg: PgCluster
let database: Database

beforeAll(async () => {
  pg = await startPgCluster()
  database = await openDatabase({ url: pg.url, max: 2 })
  await database.migrate()
}, 120_000)

afterAll(async () => {
  await database?.close()
  await pg?.[Symbol.asyncDispose]()
}, 60_000)

test('while the database is down, groups wait in memory (bounded) and are written when it is back', async () => {
  const lines: { msg: string; dropped?: number }[] = []
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l))
      done()
    },
  })
  const service = createProblemsService({
    db: database.db,
    logger: createLogger('info', sink),
    maxBuffered: 3,
    flushDelayMs: 10,
    retryMs: 100,
  })
  await pg.kill()
  for (let g = 0; g < 5; g++) {
    for (let i = 0; i < 4; i++) service.report({ code: `BUFFERED_${g}`, route: 'test:buffer', message: `group ${g}` })
  }
  // Refused: still held, bounded.
  expect(await service.flush()).toBe(false)
  expect(service.buffered()).toBe(3)
  expect(lines.filter((l) => l.msg.startsWith('problems: buffer full')).length).toBeLessThanOrEqual(2)

  await pg.start()
  const deadline = Date.now() + 30_000
  while (service.buffered() > 0 && Date.now() < deadline) await Bun.sleep(50)
  expect(service.buffered()).toBe(0)
  const rows = await database.db.select().from(problems)
  const counts = Object.fromEntries(rows.map((r) => [r.code, r.count]))
  expect(counts).toEqual({ BUFFERED_0: 4, BUFFERED_1: 4, BUFFERED_2: 4 })
  const dropped = lines
    .filter((l) => l.msg.startsWith('problems: buffer full'))
    .reduce((n, l) => n + (l.dropped ?? 0), 0)
  expect(dropped).toBe(8)
  await service.close()
}, 120_000)
