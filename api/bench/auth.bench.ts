/**
 * Auth benchmark: `bun test ./api/bench/auth.bench.ts` (or `bun run bench`).
 * Not a *.test.ts, so normal test runs skip it; it never asserts timings (docs/conventions.md, rule 9).
 *
 * Through the whole HTTP path (`app.handle`, every plugin of the real app), per backend:
 *   - login: POST /api/v1/auth/token (argon2id verify + a refresh-token insert)
 *   - refresh: POST /api/v1/auth/refresh, each rotation presenting the previous child
 *   - verify: GET /api/v1/auth/me (pinned JWT verify + denylist/family/user checks)
 *   - jwt: the pinned JWT verification alone, without the database
 * p50/p95 are printed as a table and written to bench-results/auth.json.
 * The services backend runs when TEST_DATABASE_URL and TEST_REDIS_URL are set.
 */
import { test } from 'bun:test'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { createApp } from '../src/app.ts'
import { authServiceFor } from '../src/auth/index.ts'
import { REPO_ROOT } from '../src/config.ts'
import { makeUser, PASSWORD } from '../test/auth-kit.ts'
import { type BackendKind, openBackend, req, testDeps } from '../test/harness.ts'

const N = Number(process.env.BENCH_AUTH_N ?? 200)
const LOGINS = Number(process.env.BENCH_AUTH_LOGINS ?? 30)

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN
}
const round = (n: number) => Math.round(n * 100) / 100

async function timeEach(n: number, fn: () => Promise<void>): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const started = performance.now()
    await fn()
    out.push(performance.now() - started)
  }
  return out
}

interface Row {
  backend: BackendKind
  op: string
  n: number
  p50: number
  p95: number
}

async function run(kind: BackendKind): Promise<Row[]> {
  const backend = await openBackend(kind)
  try {
    const deps = { ...testDeps(backend), rateLimits: [], auth: { limits: { ipPoints: 1e6, accountFreeFailures: 1e6 } } }
    const app = createApp(deps)
    const user = await makeUser(backend.database.db, 'admin')
    const post = (path: string, json: unknown) => app.handle(req(path, { method: 'POST', json }))
    const expectOk = async (res: Response) => {
      if (res.status !== 200) throw new Error(`unexpected ${res.status}: ${await res.text()}`)
      return ((await res.json()) as { data: { accessToken: string; refreshToken: string } }).data
    }
    let pair = await expectOk(await post('/api/v1/auth/token', { email: user.email, password: PASSWORD }))

    const login = await timeEach(LOGINS, async () => {
      await expectOk(await post('/api/v1/auth/token', { email: user.email, password: PASSWORD }))
    })
    const refresh = await timeEach(N, async () => {
      pair = await expectOk(await post('/api/v1/auth/refresh', { refreshToken: pair.refreshToken }))
    })
    const headers = { authorization: `Bearer ${pair.accessToken}` }
    const verify = await timeEach(N, async () => {
      const res = await app.handle(req('/api/v1/auth/me', { headers }))
      if (res.status !== 200) throw new Error(`unexpected ${res.status}`)
      await res.arrayBuffer()
    })
    const tokens = authServiceFor(deps).tokens
    const jwtOnly = await timeEach(N, async () => {
      if (!(await tokens.verify(pair.accessToken))) throw new Error('verify failed')
    })
    return [
      ['login', login],
      ['refresh', refresh],
      ['verify', verify],
      ['jwt verify only', jwtOnly],
    ].map(([op, xs]) => ({
      backend: kind,
      op: op as string,
      n: (xs as number[]).length,
      p50: round(percentile(xs as number[], 50)),
      p95: round(percentile(xs as number[], 95)),
    }))
  } finally {
    await backend.close()
  }
}

test(
  'auth benchmark',
  async () => {
    const kinds: BackendKind[] = process.env.TEST_DATABASE_URL && process.env.TEST_REDIS_URL ? ['services'] : []
    kinds.push('embedded')
    const rows: Row[] = []
    for (const kind of kinds) rows.push(...(await run(kind)))
    console.log(`\nauth benchmark (ms, ${cpus().length} CPUs, Bun ${Bun.version})`)
    console.table(rows.map((r) => ({ backend: r.backend, op: r.op, n: r.n, 'p50 ms': r.p50, 'p95 ms': r.p95 })))
    const dir = join(REPO_ROOT, 'bench-results')
    mkdirSync(dir, { recursive: true })
    writeFileSync(
      join(dir, 'auth.json'),
      `${JSON.stringify({ at: new Date().toISOString(), bun: Bun.version, cpus: cpus().length, rows }, null, 2)}\n`,
    )
  },
  { timeout: 600_000 },
)
