import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { sql } from 'drizzle-orm'
import { PgDialect } from 'drizzle-orm/pg-core'
import { BACKENDS, type Backend, openBackend } from '../../test/harness.ts'
import { createReadCache } from '../lib/read-cache.ts'
import { createCursorCodec } from './cursor.ts'
import { createPostsService } from './service.ts'

/**
 * The work of an uncached public page, counted rather than timed (docs/performance.md, "Uncached
 * pages"): the keyset query is built once per shape and then only executed, and a stream of one-off
 * deep pages never evicts the pages every visitor reads from the process's read cache.
 */

/** Counts the SQL drizzle builds from its query builders (every query built, prepared or not). */
function countBuiltQueries(): { count(): number; restore(): void } {
  const original = PgDialect.prototype.sqlToQuery
  let n = 0
  PgDialect.prototype.sqlToQuery = function (this: PgDialect, ...args: Parameters<typeof original>) {
    n++
    return original.apply(this, args)
  }
  return {
    count: () => n,
    restore() {
      PgDialect.prototype.sqlToQuery = original
    },
  }
}

describe.each(BACKENDS)('uncached public pages on %s', (kind) => {
  let backend: Backend
  beforeAll(async () => {
    backend = await openBackend(kind)
    // 60 published posts a minute apart, built in one statement (the service's shape, not its API).
    await backend.database.db.execute(
      sql.raw(`insert into posts (slug, title, summary, body_markdown, body_html, tags, status, published_at)
        select 'keyset-' || g, 'Keyset ' || g, 'Summary ' || g, '# ' || g, '<h1>' || g || '</h1>',
          case when g % 2 = 0 then array['even'] else array['odd'] end, 'published',
          timestamptz '2026-01-01T00:00:00Z' - make_interval(mins => g)
        from generate_series(1, 60) g`),
    )
  }, 60_000)
  afterAll(() => backend.close())

  test('a page after a cursor is one prepared statement: no SQL is built per request', async () => {
    const reads = createReadCache({ cache: backend.cache, namespace: `keyset-${kind}-${crypto.randomUUID()}` })
    await reads.ready
    const service = createPostsService({
      db: backend.database.db,
      reads,
      cursors: createCursorCodec('keyset-test-secret-0123456789abcdef0123456789'),
    })
    // One of each shape first (first page, after a cursor, with and without a tag): built once each.
    const first = await service.listPublic(5)
    await service.listPublic(5, first.value.nextCursor!)
    const tagged = await service.listPublic(5, undefined, 'even')
    await service.listPublic(5, tagged.value.nextCursor!, 'even')

    const built = countBuiltQueries()
    try {
      // Walk every page to the end: each is a read-cache miss (a distinct cursor) and a query.
      let cursor = first.value.nextCursor
      const seen = new Set(first.value.items.map((p) => p.slug))
      let pages = 1
      while (cursor) {
        const page = await service.listPublic(5, cursor)
        for (const p of page.value.items) seen.add(p.slug)
        cursor = page.value.nextCursor
        pages++
      }
      const evens = await service.listPublic(7, undefined, 'EVEN')
      const evenNext = await service.listPublic(7, evens.value.nextCursor!, 'even')
      expect(pages).toBe(12)
      expect(seen.size).toBe(60)
      expect(evenNext.value.items.map((p) => p.slug)).toEqual(
        Array.from({ length: 7 }, (_, i) => `keyset-${16 + 2 * i}`),
      )
      expect(evenNext.value.items[0]!.tags).toEqual(['even'])
      // The whole walk (13 uncached pages, other limits included) built no SQL at all.
      expect(built.count()).toBe(0)
    } finally {
      built.restore()
    }
    await reads.close()
  })

  test('one-off deep pages do not evict the first page from the local read cache', async () => {
    const reads = createReadCache({ cache: backend.cache, namespace: `keyset-lru-${kind}-${crypto.randomUUID()}` })
    await reads.ready
    const service = createPostsService({
      db: backend.database.db,
      reads,
      cursors: createCursorCodec('keyset-test-secret-0123456789abcdef0123456789'),
    })
    const hot = await service.listPublic(20)
    let loads = 0
    // More distinct keys than the local cache holds (1,000), the first page read in between.
    for (let i = 0; i < 1_500; i++) {
      await reads.get(`one-off:${i}`, async () => {
        loads++
        return i
      })
      if (i % 100 === 0) expect(await service.listPublic(20)).toBe(hot)
    }
    expect(loads).toBe(1_500)
    // The same object: a local hit, so its prepared response body is reused (docs/performance.md).
    expect(await service.listPublic(20)).toBe(hot)
    await reads.close()
  })
})
