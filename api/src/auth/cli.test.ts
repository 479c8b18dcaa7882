import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BACKENDS, createScratchDatabase } from '../../test/harness.ts'
import { openDatabase } from '../db/index.ts'
import { findLiveUserByEmail, verifyPassword } from './users.ts'

// Password hashing (argon2id) is deliberately slow, and slower on a loaded CI machine.
setDefaultTimeout(30_000)

const CLI = join(import.meta.dir, '../cli/admin.ts')

/** `bun run admin`: the same configuration and database as the server, clear usage errors. */
describe.each(BACKENDS)('admin CLI (%s)', (kind) => {
  let env: Record<string, string>
  let cleanup: () => Promise<void>
  let openDb: () => ReturnType<typeof openDatabase>

  beforeAll(async () => {
    const base = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      APP_ENV: 'test',
      LOG_LEVEL: 'silent',
    }
    if (kind === 'services') {
      const scratch = await createScratchDatabase()
      env = { ...base, DATABASE_URL: scratch.url }
      cleanup = scratch.drop
      openDb = () => openDatabase({ url: scratch.url, max: 1 })
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'sf-admin-cli-'))
      env = { ...base, DATA_DIR: dir }
      cleanup = async () => rmSync(dir, { recursive: true, force: true })
      openDb = () => openDatabase({ dataDir: dir })
    }
  }, 60_000)
  afterAll(() => cleanup())

  async function admin(args: string[], stdin = '') {
    const proc = Bun.spawn([process.execPath, CLI, ...args], {
      env,
      stdin: new TextEncoder().encode(stdin),
      stdout: 'pipe',
      stderr: 'pipe',
    })
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ])
    return { stdout, stderr, code }
  }

  test('usage errors exit 64 with a clear message and no database access', async () => {
    const cases: [string[], string][] = [
      [[], 'missing command'],
      [['frobnicate'], "unknown command 'frobnicate'"],
      [['create'], 'create takes exactly one email address'],
      [['create', 'not-an-email'], "'not-an-email' is not an email address"],
      [['create', 'a@b.co', '--role', 'root'], '--role must be one of admin, editor'],
      [['disable', 'a@b.co', '--generate'], 'disable takes no password options'],
      [['create', 'a@b.co', '--bogus'], "Unknown option '--bogus'"],
    ]
    const results = await Promise.all(cases.map(([args]) => admin(args)))
    results.forEach((r, i) => {
      expect(r.code).toBe(64)
      expect(r.stderr).toContain(cases[i]![1])
      expect(r.stderr).toContain('usage: bun run admin')
    })
    const short = await admin(['create', 'a@b.co'], 'short\n')
    expect(short.code).toBe(64)
    expect(short.stderr).toContain('at least 12 characters')
  })

  test('create, duplicate, disable, enable and reset-password work on the configured database', async () => {
    const created = await admin(['create', 'Ops@Example.com', '--role', 'admin'], 'a long enough password\n')
    expect(created.stderr).toBe('')
    expect(created.code).toBe(0)
    expect(created.stdout).toMatch(/^created admin ops@example\.com \([0-9a-f-]{36}\)\n$/)

    const again = await admin(['create', 'ops@example.com'], 'a long enough password\n')
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('already exists')

    const disabled = await admin(['disable', 'ops@example.com'])
    expect(disabled).toEqual({ stdout: 'ops@example.com is now disabled\n', stderr: '', code: 0 })
    const enabled = await admin(['enable', 'OPS@example.com'])
    expect(enabled.stdout).toBe('ops@example.com is now active\n')

    const reset = await admin(['reset-password', 'ops@example.com', '--generate'])
    expect(reset.code).toBe(0)
    const generated = /password \(shown once, store it now\): (\S+)\n$/.exec(reset.stdout)?.[1]
    expect(generated?.length).toBeGreaterThanOrEqual(20)

    const missing = await admin(['disable', 'nobody@example.com'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('no account for nobody@example.com')

    const list = await admin(['list'])
    expect(list.stdout).toBe('ops@example.com\tadmin\tactive\n')

    const database = await openDb()
    try {
      const user = await findLiveUserByEmail(database.db, 'ops@example.com')
      expect(user).toMatchObject({ role: 'admin', status: 'active', tokenVersion: 3 })
      expect(await verifyPassword(generated!, user!.passwordHash)).toBe(true)
      expect(user!.passwordHash).toStartWith('$argon2id$')
    } finally {
      await database.close()
    }
  }, 120_000)
})
