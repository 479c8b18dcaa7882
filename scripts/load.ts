/**
 * Bounded loopback load and soak test. Starts its own API process on 127.0.0.1 (embedded PGlite and
 * in-process cache by default; `--services` uses TEST_DATABASE_URL/TEST_REDIS_URL-style URLs from
 * LOAD_DATABASE_URL / LOAD_REDIS_URL) and drives it:
 *
 *   bun run scripts/load.ts                          # http: 64 connections for 30 s, then 8 WASI terminals
 *   bun run scripts/load.ts --connections=32 --duration=10 --sessions=16
 *   bun run scripts/load.ts --mode=soak              # 10 min at 16 connections + a terminal every 10 s,
 *                                                    # server RSS sampled every 10 s
 *
 * Everything is bounded: at most 256 connections, 120 s of HTTP load, 32 concurrent terminals and
 * 15 minutes of soak; only loopback targets. It reports requests, errors and p50/p99 per endpoint;
 * it never asserts timings (docs/conventions.md, rule 9): it is a measurement, not a test.
 */
import { randomBytes } from 'node:crypto'
import { type Instance, startInstance, TerminalClient } from '../api/test/scale/instances.ts'

const LIMITS = { connections: 256, durationSec: 120, sessions: 32, soakMin: 15 }

function arg(name: string, fallback: number, max: number): number {
  const raw = process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}=${raw}: expected a positive number`)
  if (n > max) throw new Error(`--${name}=${raw}: capped at ${max} (this is a bounded loopback test)`)
  return n
}

const mode = process.argv.find((a) => a.startsWith('--mode='))?.split('=')[1] ?? 'all'
if (!['all', 'http', 'terminal', 'soak'].includes(mode))
  throw new Error(`--mode=${mode}: expected all, http, terminal or soak`)
const connections = arg('connections', mode === 'soak' ? 16 : 64, LIMITS.connections)
const durationSec = arg('duration', 30, LIMITS.durationSec)
const sessions = arg('sessions', 8, LIMITS.sessions)
const soakMin = arg('soak-minutes', 10, LIMITS.soakMin)
const sampleSec = arg('sample', 10, 60)
const useServices = process.argv.includes('--services')

const ENDPOINTS = ['/api/v1/posts', '/api/v1/projects', '/healthz'] as const

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}
const ms = (n: number) => (Number.isNaN(n) ? '-' : n.toFixed(n < 10 ? 2 : 1))

interface EndpointStats {
  latencies: number[]
  errors: number
  statuses: Record<number, number>
}

/** `connections` loops, each sending one request at a time round-robin over ENDPOINTS until the deadline. */
async function httpLoad(target: Instance, conns: number, seconds: number) {
  const stats = new Map<string, EndpointStats>(ENDPOINTS.map((e) => [e, { latencies: [], errors: 0, statuses: {} }]))
  const deadline = performance.now() + seconds * 1000
  const started = performance.now()
  await Promise.all(
    Array.from({ length: conns }, async (_, worker) => {
      let i = worker
      while (performance.now() < deadline) {
        const path = ENDPOINTS[i++ % ENDPOINTS.length]!
        const s = stats.get(path)!
        const t0 = performance.now()
        try {
          const res = await fetch(`${target.url}${path}`)
          await res.arrayBuffer()
          s.statuses[res.status] = (s.statuses[res.status] ?? 0) + 1
          if (res.status >= 400) s.errors++
          else s.latencies.push(performance.now() - t0)
        } catch {
          s.errors++
        }
      }
    }),
  )
  const elapsed = (performance.now() - started) / 1000
  let total = 0
  let errors = 0
  const rows = [...stats].map(([path, s]) => {
    s.latencies.sort((a, b) => a - b)
    total += s.latencies.length + s.errors
    errors += s.errors
    return {
      endpoint: `GET ${path}`,
      requests: s.latencies.length + s.errors,
      errors: s.errors,
      'req/s': Math.round((s.latencies.length + s.errors) / elapsed),
      'p50 ms': ms(percentile(s.latencies, 50)),
      'p99 ms': ms(percentile(s.latencies, 99)),
    }
  })
  return { rows, total, errors, elapsed }
}

/** `n` concurrent WASI sessions: create, attach, run `echo`, exit. Times open→ready and the echo round trip. */
async function terminalLoad(target: Instance, n: number) {
  const ready: number[] = []
  const echo: number[] = []
  const failures: string[] = []
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      // A distinct client address per session (the instance trusts one proxy hop) keeps per-IP caps out of the way.
      const ip = `10.77.${Math.floor(i / 250)}.${(i % 250) + 1}`
      let client: TerminalClient | undefined
      try {
        const t0 = performance.now()
        const res = await target.fetch('/api/v1/terminal/sessions', {
          method: 'POST',
          ip,
          json: { project: 'calc', runner: 'wasi' },
        })
        if (res.status !== 201) throw new Error(`POST /terminal/sessions answered ${res.status}: ${await res.text()}`)
        const { data } = (await res.json()) as { data: { ticket: string } }
        client = await TerminalClient.open(
          `${target.url.replace(/^http/, 'ws')}/api/v1/terminal/ws?ticket=${encodeURIComponent(data.ticket)}`,
          { ip },
        )
        await client.message('ready', 60_000)
        ready.push(performance.now() - t0)
        // Quotes split the word in the typed echo, so only the command's output contains it whole.
        const marker = `load-${i}-${randomBytes(2).toString('hex')}`
        const t1 = performance.now()
        client.type(`echo ${marker.slice(0, 5)}"${marker.slice(5)}"\r`)
        await client.sees(marker, 60_000)
        echo.push(performance.now() - t1)
        client.type('exit\r')
        await client.message('exit', 30_000)
      } catch (err) {
        failures.push(err instanceof Error ? err.message.slice(0, 300) : String(err))
      } finally {
        client?.close()
      }
    }),
  )
  ready.sort((a, b) => a - b)
  echo.sort((a, b) => a - b)
  return { ready, echo, failures }
}

function slopePerMinute(samples: { t: number; rss: number }[]): number {
  // Least squares over (minutes, MB).
  const n = samples.length
  if (n < 2) return 0
  const xs = samples.map((s) => s.t / 60_000)
  const ys = samples.map((s) => s.rss / 1024 / 1024)
  const mx = xs.reduce((a, b) => a + b, 0) / n
  const my = ys.reduce((a, b) => a + b, 0) / n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my)
    den += (xs[i]! - mx) ** 2
  }
  return den === 0 ? 0 : num / den
}

async function main() {
  const env: Record<string, string> = {
    APP_ENV: 'test',
    LOG_LEVEL: 'error',
    JWT_SECRET: randomBytes(48).toString('base64url'),
    ADMIN_PASSWORD: 'load-admin-password-1',
    RUNNERS: 'wasi',
    TRUST_PROXY_HOPS: '1',
    TERMINAL_MAX_PER_IP: '4',
    TERMINAL_MAX_SESSIONS: String(LIMITS.sessions * 2),
  }
  if (useServices) {
    const db = process.env.LOAD_DATABASE_URL
    const redis = process.env.LOAD_REDIS_URL
    if (!db || !redis) throw new Error('--services needs LOAD_DATABASE_URL and LOAD_REDIS_URL (a scratch database!)')
    Object.assign(env, {
      DATABASE_URL: db,
      REDIS_URL: redis,
      REDIS_PREFIX: `sf:load:${randomBytes(3).toString('hex')}:`,
    })
  }
  console.log(
    `load: starting an API instance on 127.0.0.1 (${useServices ? 'PostgreSQL + Redis' : 'PGlite + in-process cache'}, WASI runner)…`,
  )
  const target = await startInstance('load', env, { timeoutMs: 120_000 })
  console.log(`load: ${target.url} (pid ${target.pid}), Bun ${Bun.version}, ${navigator.hardwareConcurrency} CPUs`)
  try {
    // Warm up (first requests compile routes and fill caches).
    for (const e of ENDPOINTS) await (await fetch(`${target.url}${e}`)).arrayBuffer()

    if (mode === 'all' || mode === 'http') {
      console.log(`\nHTTP: ${connections} connections for ${durationSec} s, round-robin over ${ENDPOINTS.join(', ')}`)
      const r = await httpLoad(target, connections, durationSec)
      console.table(r.rows)
      console.log(
        `HTTP total: ${r.total} requests in ${r.elapsed.toFixed(1)} s (${Math.round(r.total / r.elapsed)} req/s), ${r.errors} errors; server RSS ${(target.rss() / 1024 / 1024).toFixed(0)} MB`,
      )
    }
    if (mode === 'all' || mode === 'terminal') {
      console.log(`\nTerminals: ${sessions} concurrent WASI sessions (create → ready → echo → exit)`)
      const t = await terminalLoad(target, sessions)
      console.table([
        {
          sessions,
          ok: sessions - t.failures.length,
          failed: t.failures.length,
          'ready p50 ms': ms(percentile(t.ready, 50)),
          'ready p99 ms': ms(percentile(t.ready, 99)),
          'echo p50 ms': ms(percentile(t.echo, 50)),
          'echo p99 ms': ms(percentile(t.echo, 99)),
        },
      ])
      for (const f of t.failures) console.log(`  failure: ${f}`)
    }
    if (mode === 'soak') {
      console.log(
        `\nSoak: ${soakMin} min, ${connections} connections, one WASI session every ${sampleSec} s, RSS sampled every ${sampleSec} s`,
      )
      const samples: { t: number; rss: number }[] = []
      const started = performance.now()
      const endAt = started + soakMin * 60_000
      let requests = 0
      let errors = 0
      let terminalFailures = 0
      samples.push({ t: 0, rss: target.rss() })
      while (performance.now() < endAt) {
        const slice = Math.min(sampleSec, (endAt - performance.now()) / 1000)
        const [h, term] = await Promise.all([httpLoad(target, connections, slice), terminalLoad(target, 1)])
        requests += h.total
        errors += h.errors
        terminalFailures += term.failures.length
        const t = performance.now() - started
        const rss = target.rss()
        samples.push({ t, rss })
        console.log(
          `  t=${(t / 1000).toFixed(0).padStart(4)} s  rss=${(rss / 1024 / 1024).toFixed(1)} MB  ${Math.round(h.total / h.elapsed)} req/s  errors=${h.errors}`,
        )
      }
      const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`
      const rssValues = samples.map((s) => s.rss)
      console.log(
        `\nSoak result: ${requests} requests, ${errors} errors, ${terminalFailures} terminal failures; RSS first ${mb(rssValues[0]!)}, last ${mb(rssValues.at(-1)!)}, max ${mb(Math.max(...rssValues))}, slope ${slopePerMinute(samples).toFixed(2)} MB/min (least squares over ${samples.length} samples)`,
      )
    }
  } finally {
    await target.stop()
  }
}

await main()
