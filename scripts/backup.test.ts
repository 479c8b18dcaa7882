import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase } from '../api/src/db/index.ts'
import { createScratchDatabase } from '../api/test/harness.ts'

/**
 * scripts/backup.sh against the local PostgreSQL (TEST_DATABASE_URL from `make test`): a migrated
 * database with rows is dumped, the script's own restore check passes, and the dump restores by hand
 * with the rows intact. Fails loudly when PostgreSQL or the pg_* client tools are missing.
 */
const SCRIPT = join(import.meta.dir, 'backup.sh')

function sh(cmd: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawnSync(cmd, { env: { ...process.env, ...env }, stdout: 'pipe', stderr: 'pipe' })
  return { code: proc.exitCode, out: proc.stdout.toString(), err: proc.stderr.toString() }
}

function psql(url: string, sql: string): string {
  const r = sh(['psql', url, '-qAtX', '-v', 'ON_ERROR_STOP=1', '-c', sql])
  if (r.code !== 0) throw new Error(`psql failed: ${r.err}`)
  return r.out.trim()
}

let source: { url: string; drop: () => Promise<void> }
let outDir: string

beforeAll(async () => {
  for (const tool of ['pg_dump', 'pg_restore', 'psql']) {
    if (!Bun.which(tool)) throw new Error(`${tool} is missing: apt-get install postgresql-client`)
  }
  source = await createScratchDatabase()
  const database = await openDatabase({ url: source.url, max: 1 })
  await database.migrate()
  await database.close()
  psql(
    source.url,
    `insert into users (email, display_name, role, password_hash) values ('a@example.com', 'A', 'admin', 'x'), ('b@example.com', 'B', 'editor', 'y');
     insert into posts (slug, title, body_markdown, body_html, tags, status, published_at)
       select 'post-' || i, 'Post ' || i, '# ' || i, '<h1>' || i || '</h1>', array['t' || (i % 3)], 'published', now()
       from generate_series(1, 25) as i;`,
  )
  outDir = mkdtempSync(join(tmpdir(), 'sf-backup-'))
}, 60_000)

afterAll(async () => {
  rmSync(outDir, { recursive: true, force: true })
  await source?.drop()
})

describe('scripts/backup.sh', () => {
  test('dumps, restores into a scratch database, compares row counts and drops the scratch copy', () => {
    const before = psql(source.url, `select count(*) from pg_database where datname like 'shellfolio_restore_check_%'`)
    const r = sh(['bash', SCRIPT, outDir], { DATABASE_URL: source.url })
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    expect(r.out).toContain('backup: public.posts: 25 rows, restored identically')
    expect(r.out).toContain('backup: public.users: 2 rows, restored identically')
    expect(r.out).toMatch(/backup: drizzle\.__drizzle_migrations: \d+ rows, restored identically/)
    expect(r.out).toMatch(/backup ok: .*shellfolio-\d{8}T\d{6}Z\.dump \(\d+ bytes, 8 tables verified\)\n$/)
    const files = readdirSync(outDir)
    expect(files).toEqual([expect.stringMatching(/^shellfolio-\d{8}T\d{6}Z\.dump$/)])
    // The scratch database is gone again.
    const after = psql(source.url, `select count(*) from pg_database where datname like 'shellfolio_restore_check_%'`)
    expect(after).toBe(before)
  }, 60_000)

  test('the dump restores by hand, content intact', async () => {
    const file = join(outDir, readdirSync(outDir).find((f) => f.endsWith('.dump'))!)
    const target = await createScratchDatabase()
    try {
      const r = sh(['pg_restore', '--no-owner', '--exit-on-error', `--dbname=${target.url}`, file])
      expect(r.err).toBe('')
      expect(psql(target.url, `select title from posts where slug = 'post-17'`)).toBe('Post 17')
      expect(psql(target.url, 'select count(*) from users')).toBe('2')
    } finally {
      await target.drop()
    }
  }, 60_000)

  test('an unreachable database fails with a message and leaves no dump behind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sf-backup-bad-'))
    try {
      const bad = new URL(source.url)
      bad.pathname = '/shellfolio_no_such_database'
      const r = sh(['bash', SCRIPT, dir], { DATABASE_URL: bad.toString() })
      expect(r.code).not.toBe(0)
      expect(r.err).toContain('shellfolio_no_such_database')
      expect(readdirSync(dir)).toEqual([])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  test('without DATABASE_URL it refuses, naming the variable', () => {
    const r = sh(['bash', SCRIPT, outDir], { DATABASE_URL: '' })
    expect(r.code).not.toBe(0)
    expect(r.err).toContain('set DATABASE_URL')
  })
})
