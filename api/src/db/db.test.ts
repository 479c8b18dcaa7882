import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq, sql } from 'drizzle-orm'
import { BACKENDS, type Backend, openBackend } from '../../test/harness.ts'
import { ensureAdmin } from '../bootstrap.ts'
import { openDatabase } from './index.ts'
import { users } from './schema/index.ts'

// The same suite runs on PostgreSQL and on PGlite (docs/architecture.md).
describe.each(BACKENDS)('database on %s', (kind) => {
  let backend: Backend
  beforeAll(async () => {
    backend = await openBackend(kind)
  })
  afterAll(() => backend.close())

  test('migrations create the schema and are idempotent', async () => {
    await backend.database.migrate()
    const rows = await backend.database.db.execute(
      sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
    )
    const names = (Array.isArray(rows) ? rows : (rows as { rows: unknown[] }).rows).map(
      (r) => (r as { table_name: string }).table_name,
    )
    expect(names).toEqual(
      expect.arrayContaining([
        'users',
        'refresh_tokens',
        'posts',
        'projects',
        'media',
        'feature_flags',
        'flag_audit',
        'terminal_sessions',
      ]),
    )
  })

  test('the bootstrap admin is created once, with an argon2id hash, and a generated password is returned once', async () => {
    const first = await ensureAdmin(backend.database.db, { adminEmail: 'Boss@Example.com', adminPassword: undefined })
    expect(first.created).toBe(true)
    expect(first.generatedPassword?.length).toBeGreaterThanOrEqual(20)
    const again = await ensureAdmin(backend.database.db, { adminEmail: 'boss@example.com', adminPassword: undefined })
    expect(again).toEqual({ created: false })
    const [row] = await backend.database.db.select().from(users).where(eq(users.email, 'Boss@Example.com'))
    expect(row?.role).toBe('admin')
    expect(row?.passwordHash).toStartWith('$argon2id$')
    expect(await Bun.password.verify(first.generatedPassword!, row!.passwordHash)).toBe(true)
  })

  test('an email is unique among live users only (case-insensitive), so a soft-deleted one frees it', async () => {
    const db = backend.database.db
    const [a] = await db.insert(users).values({ email: 'dup@example.com', passwordHash: 'x' }).returning()
    const duplicate = async () => {
      await db.insert(users).values({ email: 'DUP@example.com', passwordHash: 'x' })
    }
    await expect(duplicate()).rejects.toThrow()
    await db.update(users).set({ deletedAt: new Date() }).where(eq(users.id, a!.id))
    const [b] = await db.insert(users).values({ email: 'dup@example.com', passwordHash: 'y' }).returning()
    expect(b?.id).not.toBe(a?.id)
  })

  test('SQL-looking input is stored as data', async () => {
    const email = "robert'); drop table users;--@example.com"
    await backend.database.db.insert(users).values({ email, passwordHash: 'x' })
    const [row] = await backend.database.db.select().from(users).where(eq(users.email, email))
    expect(row?.email).toBe(email)
    await backend.database.ping()
  })
})

test('the embedded database keeps its data across restarts in DATA_DIR', async () => {
  const dir = `/tmp/shellfolio-pglite-${process.pid}-${Date.now()}`
  const first = await openDatabase({ dataDir: dir })
  await first.migrate()
  await first.db.insert(users).values({ email: 'kept@example.com', passwordHash: 'x' })
  await first.close()
  const second = await openDatabase({ dataDir: dir })
  const rows = await second.db.select().from(users).where(eq(users.email, 'kept@example.com'))
  expect(rows).toHaveLength(1)
  await second.close()
  await Bun.$`rm -rf ${dir}`
  // why: two PGlite starts on disk plus every migration take seconds on a loaded 2-core machine.
}, 60_000)
