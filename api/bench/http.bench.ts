/**
 * HTTP read-path benchmark: `bun test ./api/bench/http.bench.ts` (or `bun run bench`).
 * Not a *.test.ts, so normal test runs skip it; it measures, it never asserts a timing.
 *
 * One real API process per variant (`bun run api/src/index.ts`, LOG_LEVEL=warn, WASI runner only)
 * over loopback, driven by wrk (Debian package `wrk`, one thread) — each public read right after
 * a /healthz run of the same length and connections, so every ratio compares two neighbours:
 *   - cached reads, 32 connections: GET /api/v1/posts?limit=20, /api/v1/posts/:slug,
 *     /api/v1/projects, /api/v1/projects/:slug
 *   - uncached keyset pages deep in a 1,000,000-post table, 64 connections: every request carries
 *     a different signed cursor in the older half of the table (a read-cache miss, a keyset query)
 * Backends: PostgreSQL + Redis, and embedded PGlite + the in-process cache. The 1M posts are seeded
 * with generate_series once (scratch database `sf_bench_http_1m` next to TEST_DATABASE_URL, and a
 * PGlite directory under the system temp dir) and reused while complete.
 *
 * Variants alternate sample by sample (the machine is shared); SAMPLES (3, HTTP_BENCH_SAMPLES) runs
 * of HTTP_BENCH_SECONDS (5) each; medians printed as tables and written, with the load average of
 * every run, to bench-results/http.json.
 *
 * Every run also records the API process's CPU time (user + system, from /proc) per request: on a
 * shared machine the process gets a varying share of the cores, and that figure moves much less
 * with it than req/s and latency do. HTTP_BENCH_ONLY=deep measures only the uncached deep pages.
 *
 * Before/after on the same machine in the same run: HTTP_BENCH_BASELINE=/path/to/other/checkout
 * (installed, e.g. main) adds that checkout's API as a second set of variants, alternated with this
 * one. The seeding, cursors and load are this file's for both.
 */
import { test } from 'bun:test'
import { randomBytes, randomUUID } from 'node:crypto'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { sql } from 'drizzle-orm'
import postgres from 'postgres'
import { REPO_ROOT } from '../src/config.ts'
import { openDatabase } from '../src/db/index.ts'
import { createCursorCodec } from '../src/posts/cursor.ts'
import { requireEnv } from '../test/harness.ts'

const SAMPLES = Number(process.env.HTTP_BENCH_SAMPLES ?? 3)
const SECONDS = Number(process.env.HTTP_BENCH_SECONDS ?? 5)
const BASELINE = process.env.HTTP_BENCH_BASELINE
const POSTS = 1_000_000
const SEED_VERSION = 'http-bench-v1'
const JWT_SECRET = 'http-bench-secret-0123456789abcdef0123456789abcdef'
/** The seeded posts are published one second apart, newest at BASE, oldest POSTS seconds before. */
const BASE = Date.parse('2026-01-01T00:00:00Z')
const CACHED_CONNECTIONS = 32
const DEEP_CONNECTIONS = 64
/** Distinct cursors per deep run: more than wrk can send in one run here, so each is a miss. */
const DEEP_CURSORS = 40_000
/**
 * The second deep run: 64 visitors who each wait on average this long after a page before the next
 * (≤ 320 req/s offered; exponential think times, so the visitors are independent rather than 64
 * requests arriving together every 200 ms), where the first one (no wait) saturates the machine and
 * measures its queue.
 */
const THINK_MS = 200
/** `deep` measures only the uncached keyset pages (HTTP_BENCH_ONLY=deep); default: every read. */
const ONLY = process.env.HTTP_BENCH_ONLY
/** `postgres+redis` or `pglite` measures one backend only (HTTP_BENCH_BACKENDS); default: both. */
const BACKENDS = (process.env.HTTP_BENCH_BACKENDS ?? 'postgres+redis,pglite').split(',')
/** Linux's clock ticks per second, the unit of utime and stime in /proc/<pid>/stat. */
const CLK_TCK = Number(Bun.spawnSync(['getconf', 'CLK_TCK']).stdout.toString().trim()) || 100

type Backend = 'postgres+redis' | 'pglite'
interface Endpoint {
  name: string
  path: string
  connections: number
  /** A Lua script that sends a different path per request. */
  script?: (sample: number) => string
}
interface WrkResult {
  rps: number
  p50: number
  p99: number
  requests: number
  errors: number
  loadavg: string
  /**
   * CPU time of the API process (user + system, every thread) per request of the run, ms: what a
   * request costs the process whatever share of the machine it got (the machine is shared).
   */
  cpuMsPerRequest: number
}

/** CPU time (user + system) of a process so far, ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').trim()

function table(rows: Record<string, unknown>[], columns: string[]): string {
  return [
    `| ${columns.join(' | ')} |`,
    `|${columns.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${columns.map((c) => String(r[c] ?? '–')).join(' | ')} |`),
  ].join('\n')
}

function requireWrk(): string {
  const path = Bun.which('wrk')
  if (!path) throw new Error('wrk is not installed: `apt-get install wrk` (Debian), then run the bench again')
  return path
}

/** wrk prints latencies as 812.00us, 1.23ms, 2.00s. */
function millis(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim())
  if (!m) throw new Error(`unreadable wrk latency '${text}'`)
  const n = Number(m[1])
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000
}

/**
 * Waits until the API answers /healthz within 10 ms twice in a row (at most 20 s): wrk stops
 * sending, but a process still working off the queue of a saturating run would slow the next one.
 */
async function settle(base: string): Promise<void> {
  const deadline = performance.now() + 20_000
  let quick = 0
  while (quick < 2 && performance.now() < deadline) {
    const t = performance.now()
    await (await fetch(`${base}/healthz`)).arrayBuffer()
    quick = performance.now() - t < 10 ? quick + 1 : 0
  }
}

async function wrk(url: string, pid: number, connections: number, script?: string): Promise<WrkResult> {
  await settle(new URL(url).origin)
  const load = loadavg()
  const cpuBefore = cpuMs(pid)
  const args = ['wrk', '-t1', `-c${connections}`, `-d${SECONDS}s`, '--latency']
  if (script) args.push('-s', script)
  args.push(url)
  const proc = Bun.spawn(args, { stdout: 'pipe', stderr: 'pipe' })
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  const cpu = cpuMs(pid) - cpuBefore
  if (code !== 0) throw new Error(`wrk exited with ${code}: ${err}\n${out}`)
  const find = (re: RegExp) => {
    const m = re.exec(out)
    if (!m) throw new Error(`wrk output without ${re}:\n${out}`)
    return m[1] as string
  }
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0)
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  const socketErrors = socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0
  const requests = Number(find(/(\d+) requests in/))
  return {
    rps: Number(find(/Requests\/sec:\s+([\d.]+)/)),
    p50: millis(find(/\n\s+50%\s+(\S+)/)),
    p99: millis(find(/\n\s+99%\s+(\S+)/)),
    requests,
    errors: non2xx + socketErrors,
    loadavg: load,
    cpuMsPerRequest: requests > 0 ? cpu / requests : Number.NaN,
  }
}

/** The scratch PostgreSQL database with 1M published posts (seeded once, reused while complete), and its keyset plan. */
async function postgresWithPosts(): Promise<{ url: string; plan: string }> {
  const base = requireEnv('TEST_DATABASE_URL')
  const url = new URL(base)
  url.pathname = '/sf_bench_http_1m'
  const admin = postgres(base, { max: 1, onnotice: () => {} })
  const [exists] = await admin`select 1 from pg_database where datname = 'sf_bench_http_1m'`
  if (!exists) await admin.unsafe('create database sf_bench_http_1m')
  await admin.end()
  const database = await openDatabase({ url: url.toString(), max: 1 })
  try {
    await database.migrate()
    await seedPosts(database.db)
    return { url: url.toString(), plan: await keysetPlan(database.db) }
  } finally {
    await database.close()
  }
}

/** A PGlite data directory with the same 1M posts (seeded once, reused while complete), and its keyset plan. */
async function pgliteWithPosts(): Promise<{ dir: string; plan: string }> {
  const dir = join(tmpdir(), 'sf-bench-http-pglite')
  const database = await openDatabase({ dataDir: dir })
  try {
    await database.migrate()
    await seedPosts(database.db)
    return { dir, plan: await keysetPlan(database.db) }
  } finally {
    await database.close()
  }
}

type Db = Awaited<ReturnType<typeof openDatabase>>['db']

async function seedPosts(db: Db): Promise<void> {
  await db.execute(sql.raw('create table if not exists bench_seed (version text primary key, posts integer not null)'))
  const done = await db.execute(sql`select posts from bench_seed where version = ${SEED_VERSION}`)
  const rows = (Array.isArray(done) ? done : (done as { rows: unknown[] }).rows) as { posts: number }[]
  if (rows[0]?.posts === POSTS) return
  const started = performance.now()
  console.log(`seeding ${POSTS} posts (once; reused by later runs)…`)
  await db.execute(sql.raw("delete from posts where slug like 'bench-%'"))
  // One second apart, all published and live: what the public keyset query pages through.
  await db.execute(
    sql.raw(`insert into posts (slug, title, summary, body_markdown, body_html, tags, status, published_at, created_at, updated_at)
      select 'bench-' || g, 'Bench post ' || g,
        'Post number ' || g || ' of a million, for keyset pages deep in the table.',
        '# Post ' || g, '<h1>Post ' || g || '</h1><p>A million posts.</p>', array['bench', 'perf'], 'published',
        timestamptz '${new Date(BASE).toISOString()}' - make_interval(secs => g),
        timestamptz '${new Date(BASE).toISOString()}' - make_interval(secs => g),
        timestamptz '${new Date(BASE).toISOString()}' - make_interval(secs => g)
      from generate_series(1, ${POSTS}) g`),
  )
  await db.execute(sql.raw('analyze posts'))
  await db.execute(sql`insert into bench_seed (version, posts) values (${SEED_VERSION}, ${POSTS})
    on conflict (version) do update set posts = excluded.posts`)
  console.log(`seeded in ${round((performance.now() - started) / 1000)} s`)
}

/**
 * EXPLAIN (ANALYZE, BUFFERS) of the public keyset query as the posts service writes it (rows after a
 * cursor 750,000 posts deep): the index it uses and the pages it touches for one page of 21 rows.
 */
async function keysetPlan(db: Db): Promise<string> {
  const at = new Date(BASE - 750_000_000).toISOString()
  const query = sql.raw(`explain (analyze, buffers, costs off) select posts.*, users.display_name
     from posts left join users on users.id = posts.author_id
     where posts.status = 'published' and posts.deleted_at is null and posts.published_at <= now()
       and posts.published_at <= '${at}'::timestamptz
       and (posts.published_at, posts.id) < ('${at}'::timestamptz, '${randomUUID()}'::uuid)
     order by posts.published_at desc, posts.id desc limit 21`)
  await db.execute(query)
  const result = await db.execute(query)
  const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Record<string, string>[]
  return rows
    .map((r) => Object.values(r)[0] as string)
    .filter((line) => /Index|Buffers|Execution Time/.test(line))
    .join('\n')
}

/**
 * A wrk script that walks DEEP_CURSORS signed cursors at random positions in the older half; with
 * `thinkMs`, each connection waits that long after a response before its next request.
 */
function deepScript(dir: string, sample: number, tag: string, thinkMs = 0): string {
  const cursors = createCursorCodec(JWT_SECRET)
  const lines: string[] = []
  for (let i = 0; i < DEEP_CURSORS; i++) {
    const secondsBack = POSTS / 2 + Math.floor(Math.random() * (POSTS / 2 - 100))
    const at = new Date(BASE - secondsBack * 1000 - 500).toISOString().replace('T', ' ').replace('Z', '+00')
    lines.push(`/api/v1/posts?limit=20&cursor=${cursors.encode('public', { at, id: randomUUID() })}`)
  }
  mkdirSync(join(dir, 'deep'), { recursive: true })
  const pathsFile = join(dir, 'deep', `cursors-${tag}-${sample}.txt`)
  writeFileSync(pathsFile, `${lines.join('\n')}\n`)
  const script = join(dir, 'deep', `deep-${tag}-${sample}.lua`)
  // independent visitors: exponential think times (mean thinkMs), not 64 connections in step
  const think =
    thinkMs > 0
      ? `math.randomseed(${Math.floor(Math.random() * 2 ** 31)})
delay = function() return math.floor(-math.log(1 - math.random()) * ${thinkMs}) end
`
      : ''
  writeFileSync(
    script,
    `local paths = {}
for line in io.lines("${pathsFile}") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i - 1) % #paths + 1])
end
${think}`,
  )
  return script
}

interface ApiProcess {
  url: string
  pid: number
  stop(): Promise<void>
}

/** `bun run api/src/index.ts` of `root` on a free port, waiting for its "running at" line. */
async function startApi(root: string, env: Record<string, string>): Promise<ApiProcess> {
  const proc = Bun.spawn(['bun', 'run', join(root, 'api/src/index.ts')], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      APP_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      RUNNERS: 'wasi',
      JWT_SECRET,
      ADMIN_PASSWORD: 'http-bench-admin-password',
      ...env,
    },
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'pipe',
  })
  let err = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`API of ${root} not ready in 300 s:\n${err}`)), 300_000)
    void (async () => {
      const decoder = new TextDecoder()
      for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) {
        err += decoder.decode(chunk, { stream: true })
        const m = /Shellfolio is running at (http:\/\/\S+)/.exec(err)
        if (m) {
          clearTimeout(timer)
          resolve(m[1] as string)
        }
      }
      clearTimeout(timer)
      reject(new Error(`API of ${root} exited before it was ready:\n${err}`))
    })()
  })
  return {
    url,
    pid: proc.pid,
    async stop() {
      proc.kill('SIGTERM')
      await proc.exited
    },
  }
}

test(
  'http read path: cached reads next to /healthz, uncached keyset pages deep in 1M posts',
  async () => {
    requireWrk()
    const redisUrl = requireEnv('TEST_REDIS_URL')
    const started = new Date()
    const loadStart = loadavg()
    const work = mkdtempSync(join(tmpdir(), 'sf-http-bench-'))

    const { url: pgUrl, plan: pgPlan } = await postgresWithPosts()
    console.log(`keyset page 750,000 posts deep, PostgreSQL:\n${pgPlan}`)
    const { dir: pgliteSeed, plan: pglitePlan } = BACKENDS.includes('pglite')
      ? await pgliteWithPosts()
      : { dir: '', plan: '(not measured)' }
    console.log(`keyset page 750,000 posts deep, PGlite:\n${pglitePlan}`)

    const codes: { label: string; root: string }[] = [{ label: 'this branch', root: REPO_ROOT }]
    if (BASELINE) codes.unshift({ label: 'baseline', root: BASELINE })
    interface Variant {
      code: string
      backend: Backend
      api: ApiProcess
    }
    const variants: Variant[] = []
    const prefixes: string[] = []
    try {
      for (const code of codes) {
        const prefix = `sf:bench:http:${randomBytes(4).toString('hex')}:`
        prefixes.push(prefix)
        variants.push({
          code: code.label,
          backend: 'postgres+redis',
          api: await startApi(code.root, {
            DATABASE_URL: pgUrl,
            REDIS_URL: redisUrl,
            REDIS_PREFIX: prefix,
            DATA_DIR: join(work, `data-pg-${variants.length}`),
          }),
        })
        if (!BACKENDS.includes('pglite')) continue
        // PGlite is one process's: each API gets its own copy of the seeded directory.
        const dataDir = join(work, `data-pglite-${variants.length}`)
        mkdirSync(dataDir, { recursive: true })
        cpSync(join(pgliteSeed, 'pglite'), join(dataDir, 'pglite'), { recursive: true })
        variants.push({ code: code.label, backend: 'pglite', api: await startApi(code.root, { DATA_DIR: dataDir }) })
      }

      const all: Endpoint[] = [
        {
          name: 'GET /api/v1/posts?limit=20 (cached)',
          path: '/api/v1/posts?limit=20',
          connections: CACHED_CONNECTIONS,
        },
        { name: 'GET /api/v1/posts/:slug (cached)', path: '/api/v1/posts/bench-1', connections: CACHED_CONNECTIONS },
        { name: 'GET /api/v1/projects (cached)', path: '/api/v1/projects', connections: CACHED_CONNECTIONS },
        { name: 'GET /api/v1/projects/:slug (cached)', path: '/api/v1/projects/calc', connections: CACHED_CONNECTIONS },
        {
          name: 'GET /api/v1/posts?cursor=… (uncached, deep)',
          path: '/api/v1/posts?limit=20',
          connections: DEEP_CONNECTIONS,
          script: (sample) => deepScript(work, sample, randomBytes(3).toString('hex')),
        },
        {
          name: `GET /api/v1/posts?cursor=… (uncached, deep, ${THINK_MS} ms between requests)`,
          path: '/api/v1/posts?limit=20',
          connections: DEEP_CONNECTIONS,
          script: (sample) => deepScript(work, sample, randomBytes(3).toString('hex'), THINK_MS),
        },
      ]
      const endpoints = ONLY === 'deep' ? all.filter((e) => e.script) : all
      // Every endpoint answers before anything is measured (and the caches hold the cached ones).
      for (const v of variants) {
        for (const e of endpoints) {
          const res = await fetch(`${v.api.url}${e.path}`)
          if (res.status !== 200) throw new Error(`${v.code} ${v.backend} ${e.path}: ${res.status} ${await res.text()}`)
        }
      }

      type Run = { sample: number; healthz: WrkResult; endpoint: WrkResult }
      const runs = new Map<string, Run[]>()
      const key = (v: Variant, e: Endpoint) => `${v.code}|${v.backend}|${e.name}`
      for (let sample = 1; sample <= SAMPLES; sample++) {
        // Alternate the order of the variants from sample to sample.
        const order = sample % 2 === 1 ? variants : [...variants].reverse()
        for (const v of order) {
          for (const e of endpoints) {
            const healthz = await wrk(`${v.api.url}/healthz`, v.api.pid, e.connections)
            const endpoint = await wrk(`${v.api.url}${e.path}`, v.api.pid, e.connections, e.script?.(sample))
            rmSync(join(work, 'deep'), { recursive: true, force: true })
            runs.set(key(v, e), [...(runs.get(key(v, e)) ?? []), { sample, healthz, endpoint }])
            console.log(
              `sample ${sample} ${v.code} ${v.backend} ${e.name}: ${round(endpoint.rps, 0)} req/s (healthz ${round(healthz.rps, 0)}), p99 ${endpoint.p99} ms, API CPU ${round(endpoint.cpuMsPerRequest, 3)} ms/request, load ${endpoint.loadavg.split(' ')[0]}`,
            )
          }
          // Drop what the deep pages put in Redis (each a distinct key) before the next variant.
          if (v.backend === 'postgres+redis') await clearRedis(redisUrl, prefixes)
        }
      }

      const rows = variants.flatMap((v) =>
        endpoints.map((e) => {
          const r = runs.get(key(v, e)) ?? []
          const errors = r.reduce((n, x) => n + x.endpoint.errors + x.healthz.errors, 0)
          return {
            code: v.code,
            backend: v.backend,
            endpoint: e.name,
            connections: e.connections,
            'req/s': round(median(r.map((x) => x.endpoint.rps)), 0),
            '/healthz req/s': round(median(r.map((x) => x.healthz.rps)), 0),
            '÷ /healthz': `${round(median(r.map((x) => (100 * x.endpoint.rps) / x.healthz.rps)), 0)}%`,
            'p50 ms': round(median(r.map((x) => x.endpoint.p50)), 2),
            'p99 ms': round(median(r.map((x) => x.endpoint.p99)), 2),
            'API CPU ms/req': round(median(r.map((x) => x.endpoint.cpuMsPerRequest)), 3),
            '/healthz CPU ms/req': round(median(r.map((x) => x.healthz.cpuMsPerRequest)), 3),
            errors,
            samples: r.map((x) => ({
              sample: x.sample,
              rps: x.endpoint.rps,
              healthzRps: x.healthz.rps,
              p50: x.endpoint.p50,
              p99: x.endpoint.p99,
              cpuMsPerRequest: x.endpoint.cpuMsPerRequest,
              healthzCpuMsPerRequest: x.healthz.cpuMsPerRequest,
              requests: x.endpoint.requests,
              errors: x.endpoint.errors + x.healthz.errors,
              loadavg: x.endpoint.loadavg,
              healthzLoadavg: x.healthz.loadavg,
            })),
          }
        }),
      )
      const columns = [
        'code',
        'backend',
        'endpoint',
        'connections',
        'req/s',
        '/healthz req/s',
        '÷ /healthz',
        'p50 ms',
        'p99 ms',
        'API CPU ms/req',
        '/healthz CPU ms/req',
        'errors',
      ]
      console.log(`\nHTTP read path, medians of ${SAMPLES} × ${SECONDS} s (wrk -t1):\n`)
      console.log(table(rows, BASELINE ? columns : columns.slice(1)))

      console.log('\nTargets (this branch):')
      for (const r of rows.filter((x) => x.code === 'this branch')) {
        const ratio = Number(String(r['÷ /healthz']).replace('%', ''))
        if (r.endpoint.includes('(cached)')) {
          console.log(
            `- ${r.backend} ${r.endpoint} ≥ 70% of /healthz: ${r['÷ /healthz']} — ${ratio >= 70 ? 'met' : 'not met'}`,
          )
        } else {
          console.log(
            `- ${r.backend} ${r.endpoint} p99 ≤ 10 ms at ${r.connections} connections: ${r['p99 ms']} ms — ${r['p99 ms'] <= 10 ? 'met' : 'not met'} (${r['req/s']} req/s)`,
          )
        }
      }

      const dir = join(REPO_ROOT, 'bench-results')
      mkdirSync(dir, { recursive: true })
      const out = join(dir, 'http.json')
      writeFileSync(
        out,
        `${JSON.stringify(
          {
            date: started.toISOString(),
            machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGb: round(totalmem() / 2 ** 30) },
            loadavg: { start: loadStart, end: loadavg() },
            bun: Bun.version,
            loadGenerator: 'wrk -t1 (Debian wrk 4.1.0)',
            samples: SAMPLES,
            secondsPerRun: SECONDS,
            posts: POSTS,
            baseline: BASELINE ?? null,
            keysetPlan: { postgres: pgPlan, pglite: pglitePlan },
            rows,
          },
          null,
          2,
        )}\n`,
      )
      console.log(`results written to ${out}`)
    } finally {
      await Promise.allSettled(variants.map((v) => v.api.stop()))
      await clearRedis(redisUrl, prefixes)
      rmSync(work, { recursive: true, force: true })
    }
  },
  60 * 60_000,
)

/** Deletes every key under the bench's Redis prefixes. */
async function clearRedis(redisUrl: string, prefixes: string[]): Promise<void> {
  const { default: Redis } = await import('ioredis')
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await redis.connect()
    for (const prefix of prefixes) {
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
        cursor = next
        if (keys.length > 0) await redis.unlink(...keys)
      } while (cursor !== '0')
    }
  } finally {
    redis.disconnect()
  }
}
