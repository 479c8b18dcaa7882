import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { type Backend, openBackend, req, testConfig, testDeps } from '../../test/harness.ts'
import { createApp } from '../app.ts'
import { createMetrics, metrics, Registry } from './index.ts'

/** Parses the exposition text into `name{labels} → value` (enough to assert on). */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

/** Elysia runs onAfterResponse hooks in a setImmediate after handing the response back. */
const afterResponses = () => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)))

let backend: Backend
beforeAll(async () => {
  backend = await openBackend('embedded')
})
afterAll(() => backend.close())

const appWith = (env: Record<string, string> = {}) => ({ app: createApp(testDeps(backend, env)) })

describe('registry', () => {
  test('renders counters, gauges and histograms in the text format with escaped labels', async () => {
    const r = new Registry()
    const c = r.counter('t_requests_total', 'Requests', ['route'])
    const g = r.gauge('t_active', 'Active', ['runner'])
    const h = r.histogram('t_seconds', 'Latency', ['route'], [0.1, 1])
    c.inc({ route: '/a/"x"' })
    c.inc({ route: '/a/"x"' }, 2)
    g.inc({ runner: 'docker' })
    g.inc({ runner: 'docker' })
    g.dec({ runner: 'docker' })
    h.observe({ route: '/a' }, 0.05)
    h.observe({ route: '/a' }, 0.5)
    h.observe({ route: '/a' }, 5)
    expect(await r.render()).toBe(
      [
        '# HELP t_requests_total Requests',
        '# TYPE t_requests_total counter',
        't_requests_total{route="/a/\\"x\\""} 3',
        '',
        '# HELP t_active Active',
        '# TYPE t_active gauge',
        't_active{runner="docker"} 1',
        '',
        '# HELP t_seconds Latency',
        '# TYPE t_seconds histogram',
        't_seconds_bucket{le="0.1",route="/a"} 1',
        't_seconds_bucket{le="1",route="/a"} 2',
        't_seconds_bucket{le="+Inf",route="/a"} 3',
        't_seconds_sum{route="/a"} 5.55',
        't_seconds_count{route="/a"} 3',
        '',
      ].join('\n'),
    )
  })

  test('refuses undeclared labels, duplicate names and decreasing counters', () => {
    const r = new Registry()
    const c = r.counter('t_total', 'x', ['a'])
    expect(() => c.inc({ b: 1 })).toThrow('label b is not declared')
    expect(() => c.inc({ a: 1 }, -1)).toThrow('cannot decrease')
    expect(() => r.counter('t_total', 'again')).toThrow('already registered')
  })

  test('caps label combinations so a raw-path label cannot grow memory without bound', async () => {
    const r = new Registry()
    const c = r.counter('t_total', 'x', ['path'])
    for (let i = 0; i < 2500; i++) c.inc({ path: `/p/${i}` })
    const lines = (await r.render()).split('\n').filter((l) => l.startsWith('t_total'))
    expect(lines.length).toBe(2001)
    expect(await c.get({ path: '_overflow' })).toBe(500)
  })

  test('the tiny API feature modules call records what dashboards read', async () => {
    const m = createMetrics()
    m.sessionsActive.inc({ runner: 'docker' })
    m.sessionStarts.inc({ runner: 'docker' })
    m.sessionFailures.inc({ runner: 'wasi', reason: 'POLICY' })
    m.rateLimitRejections.inc({ limiter: 'auth_token' })
    m.sample(() => m.warmPoolSize.set({ runner: 'docker' }, 2))
    const s = samples(await m.registry.render())
    expect(s.get('shellfolio_terminal_sessions_active{runner="docker"}')).toBe(1)
    expect(s.get('shellfolio_terminal_session_starts_total{runner="docker"}')).toBe(1)
    expect(s.get('shellfolio_terminal_session_failures_total{runner="wasi",reason="POLICY"}')).toBe(1)
    expect(s.get('shellfolio_rate_limit_rejections_total{limiter="auth_token"}')).toBe(1)
    expect(s.get('shellfolio_runner_warm_pool_size{runner="docker"}')).toBe(2)
    expect(s.get('process_resident_memory_bytes')).toBeGreaterThan(1_000_000)
  })
})

describe('GET /metrics', () => {
  test('labels requests by route template, not by raw path, and counts by status', async () => {
    const h = appWith()
    const before = await metrics.httpRequests.get({ method: 'GET', route: '/healthz', status: 200 })
    const unmatchedBefore = await metrics.httpRequests.get({ method: 'GET', route: '/*', status: 404 })
    await h.app.handle(req('/healthz'))
    await h.app.handle(req('/healthz'))
    // An unknown API path falls to the web catch-all, which answers 404: labelled by its template.
    await h.app.handle(req('/api/v1/no-such-thing/123'))
    await afterResponses()
    const res = await h.app.handle(req('/metrics'))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    const text = await res.text()
    const s = samples(text)
    expect(s.get('shellfolio_http_requests_total{method="GET",route="/healthz",status="200"}')).toBe(before + 2)
    expect(s.get('shellfolio_http_requests_total{method="GET",route="/*",status="404"}')).toBe(unmatchedBefore + 1)
    expect(
      s.get('shellfolio_http_request_duration_seconds_count{method="GET",route="/healthz"}'),
    ).toBeGreaterThanOrEqual(2)
    expect(text).not.toContain('/api/v1/no-such-thing/123')
    expect(text).toContain('# TYPE shellfolio_http_request_duration_seconds histogram')
  })

  test('with METRICS_TOKEN set, a scrape needs the bearer token', async () => {
    const token = 'metrics-token-0123456789'
    const h = appWith({ METRICS_TOKEN: token })
    const denied = await h.app.handle(req('/metrics'))
    expect(denied.status).toBe(401)
    expect(denied.headers.get('www-authenticate')).toBe('Bearer realm="metrics"')
    const wrong = await h.app.handle(req('/metrics', { headers: { authorization: 'Bearer nope' } }))
    expect(wrong.status).toBe(401)
    const ok = await h.app.handle(req('/metrics', { headers: { authorization: `Bearer ${token}` } }))
    expect(ok.status).toBe(200)
    expect(await ok.text()).toContain('shellfolio_http_requests_total')
  })

  test('in production, /metrics is 404 unless METRICS_TOKEN is set', async () => {
    const open = appWith({ APP_ENV: 'production' })
    const res = await open.app.handle(req('/metrics'))
    expect(res.status).toBe(404)
    const body = (await res.json()) as { error: { code: string } }
    expect(body.error.code).toBe('NOT_FOUND')
    const token = 'metrics-token-0123456789'
    const guarded = appWith({ APP_ENV: 'production', METRICS_TOKEN: token })
    expect((await guarded.app.handle(req('/metrics'))).status).toBe(401)
    const ok = await guarded.app.handle(req('/metrics', { headers: { authorization: `Bearer ${token}` } }))
    expect(ok.status).toBe(200)
  })

  test('a short METRICS_TOKEN is refused at start, naming the variable', () => {
    expect(() => testConfig({ METRICS_TOKEN: 'short' })).toThrow('METRICS_TOKEN: expected at least 16 characters')
  })
})
