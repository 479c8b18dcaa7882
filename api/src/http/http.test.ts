import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Writable } from 'node:stream'
import { Elysia, t } from 'elysia'
import { type Backend, openBackend, req, testConfig, testDeps } from '../../test/harness.ts'
import { createApp } from '../app.ts'
import { createLogger } from '../logger.ts'
import { AppError } from './errors.ts'
import { httpPlugin, type RouteInfo } from './plugin.ts'

let backend: Backend
beforeAll(async () => {
  backend = await openBackend('embedded')
})
afterAll(() => backend.close())

/** Collects JSON log lines so tests can assert what operators see. */
function logSink() {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line))
      done()
    },
  })
  return { lines, logger: createLogger('info', stream) }
}

/** The real http plugin plus a few routes that exercise validation and crashes. */
function probeApp(env: Record<string, string> = {}) {
  const config = testConfig(env)
  const sink = logSink()
  let routes: () => RouteInfo[] = () => []
  const app = new Elysia()
    .use(httpPlugin({ config, logger: sink.logger, routes: () => routes() }))
    .post('/api/v1/login', ({ body }) => ({ data: { email: body.email }, meta: null, error: null }), {
      body: t.Object({ email: t.String({ format: 'email' }), password: t.String({ minLength: 12 }) }),
    })
    .get('/api/v1/crash', () => {
      throw new Error('database password=hunter2 leaked in a stack')
    })
    .get('/api/v1/teapot', () => {
      throw new AppError(418, 'TEAPOT', 'short and stout')
    })
  routes = () => app.routes
  return { app, ...sink }
}

const json = async (res: Response) =>
  (await res.json()) as { data: unknown; meta: unknown; error: Record<string, unknown> | null }

describe('HTTP core', () => {
  test('/healthz answers 200 in the envelope with a request id', async () => {
    const res = await createApp(testDeps(backend)).handle(req('/healthz'))
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ data: { status: 'ok' }, meta: null, error: null })
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
  })

  test('an unknown API route is a 404 envelope', async () => {
    const res = await createApp(testDeps(backend)).handle(req('/api/v1/nothing-here'))
    expect(res.status).toBe(404)
    const body = await json(res)
    expect(body.data).toBeNull()
    expect(body.error).toEqual({
      code: 'NOT_FOUND',
      message: 'no route for GET /api/v1/nothing-here',
      requestId: res.headers.get('x-request-id'),
    })
  })

  test('a known path with the wrong method is a 405 with Allow', async () => {
    const res = await createApp(testDeps(backend)).handle(req('/healthz', { method: 'DELETE' }))
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe('GET')
    expect((await json(res)).error?.code).toBe('METHOD_NOT_ALLOWED')
  })

  test('malformed JSON is a 400 envelope, not a 500', async () => {
    const { app } = probeApp()
    const res = await app.handle(
      req('/api/v1/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"email":' }),
    )
    expect(res.status).toBe(400)
    expect((await json(res)).error?.code).toBe('MALFORMED_BODY')
  })

  test('validation errors list fields but never echo the submitted password', async () => {
    const { app } = probeApp()
    const password = 'tiny-pw'
    const res = await app.handle(req('/api/v1/login', { method: 'POST', json: { email: 'not-an-email', password } }))
    expect(res.status).toBe(400)
    const text = await res.text()
    expect(text).not.toContain(password)
    expect(text).not.toContain('not-an-email')
    const body = JSON.parse(text)
    expect(body.error.code).toBe('VALIDATION_FAILED')
    expect(body.error.details[0]).toMatchObject({ in: 'body', path: '/email' })
    const onlyPassword = await app.handle(req('/api/v1/login', { method: 'POST', json: { email: 'a@b.co', password } }))
    const second = await onlyPassword.text()
    expect(onlyPassword.status).toBe(400)
    expect(second).not.toContain(password)
    expect(JSON.parse(second).error.details[0]).toMatchObject({ in: 'body', path: '/password' })
  })

  test('a body over the limit is a 413 envelope', async () => {
    const { app } = probeApp({ BODY_LIMIT: '1024' })
    const res = await app.handle(
      req('/api/v1/login', { method: 'POST', json: { email: 'a@b.c', password: 'x'.repeat(2000) } }),
    )
    expect(res.status).toBe(413)
    expect((await json(res)).error?.code).toBe('PAYLOAD_TOO_LARGE')
  })

  test('a body that is not JSON is a 415 envelope', async () => {
    const { app } = probeApp()
    const res = await app.handle(
      req('/api/v1/login', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' }),
    )
    expect(res.status).toBe(415)
    expect((await json(res)).error?.code).toBe('UNSUPPORTED_MEDIA_TYPE')
  })

  test('an uncaught error is a 500 envelope with no stack or message leak, and it is logged', async () => {
    const { app, lines } = probeApp()
    const res = await app.handle(req('/api/v1/crash'))
    expect(res.status).toBe(500)
    const text = await res.text()
    expect(text).not.toContain('hunter2')
    expect(text).not.toContain('at ')
    const body = JSON.parse(text)
    expect(body.error.code).toBe('INTERNAL')
    const logged = lines.find((l) => l.msg === 'unhandled error')
    expect(logged?.requestId).toBe(body.error.requestId)
  })

  test('domain errors keep their status and stable code', async () => {
    const res = await probeApp().app.handle(req('/api/v1/teapot'))
    expect(res.status).toBe(418)
    expect((await json(res)).error).toMatchObject({ code: 'TEAPOT', message: 'short and stout' })
  })

  test('a safe incoming X-Request-Id is kept; an unsafe one is replaced', async () => {
    const app = createApp(testDeps(backend))
    const kept = await app.handle(req('/healthz', { headers: { 'x-request-id': 'abc-123.DEF' } }))
    expect(kept.headers.get('x-request-id')).toBe('abc-123.DEF')
    for (const bad of ['x'.repeat(65), 'has space', 'new\tline', '<script>']) {
      const res = await app.handle(req('/healthz', { headers: { 'x-request-id': bad } }))
      expect(res.headers.get('x-request-id')).not.toBe(bad)
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    }
  })

  test('every request is logged as JSON with method, path, status, duration and request id', async () => {
    const { app, lines } = probeApp()
    const res = await app.handle(req('/api/v1/teapot', { headers: { 'x-request-id': 'trace-me' } }))
    await res.text()
    // onAfterResponse runs after the response is handed back: wait for the line, bounded.
    const deadline = Date.now() + 2000
    while (!lines.some((l) => l.msg === 'request') && Date.now() < deadline) await new Promise((r) => setImmediate(r))
    expect(lines.find((l) => l.msg === 'request')).toMatchObject({
      requestId: 'trace-me',
      method: 'GET',
      path: '/api/v1/teapot',
      status: 418,
    })
    expect(typeof lines.find((l) => l.msg === 'request')?.durationMs).toBe('number')
  })

  test('security headers: strict CSP without inline script, nosniff, frame-ancestors none, referrer policy', async () => {
    const res = await createApp(testDeps(backend)).handle(req('/healthz'))
    const csp = res.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/)
    expect(csp).toContain("frame-ancestors 'none'")
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(res.headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin')
    expect(res.headers.get('strict-transport-security')).toBeNull()
  })

  test('HSTS only in production', async () => {
    const res = await probeApp({ APP_ENV: 'production' }).app.handle(req('/api/v1/teapot'))
    expect(res.headers.get('strict-transport-security')).toContain('max-age=')
  })

  test('CORS is off by default and on only for allowlisted origins', async () => {
    const off = await createApp(testDeps(backend)).handle(
      req('/healthz', { headers: { origin: 'https://evil.example' } }),
    )
    expect(off.headers.get('access-control-allow-origin')).toBeNull()
    const app = createApp(testDeps(backend, { CORS_ORIGINS: 'https://good.example' }))
    const good = await app.handle(req('/healthz', { headers: { origin: 'https://good.example' } }))
    expect(good.headers.get('access-control-allow-origin')).toBe('https://good.example')
    const evil = await app.handle(req('/healthz', { headers: { origin: 'https://evil.example' } }))
    expect(evil.headers.get('access-control-allow-origin')).toBeNull()
    const preflight = await app.handle(
      req('/api/v1/posts', { method: 'OPTIONS', headers: { origin: 'https://good.example' } }),
    )
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST')
  })

  test('OpenAPI is served at /api/openapi.json and a CSP-safe viewer at /api/docs', async () => {
    const app = createApp(testDeps(backend))
    const spec = (await (await app.handle(req('/api/openapi.json'))).json()) as { openapi: string; paths: object }
    expect(spec.openapi).toStartWith('3.')
    expect(Object.keys(spec.paths)).toContain('/healthz')
    const page = await app.handle(req('/api/docs'))
    const html = await page.text()
    expect(page.headers.get('content-type')).toContain('text/html')
    expect(html).toContain('<script src="/api/docs/docs.js">')
    expect(html).not.toMatch(/<script>[^<]/)
  })
})

describe('readiness', () => {
  test('/readyz is 200 when database and cache answer', async () => {
    const res = await createApp(testDeps(backend)).handle(req('/readyz'))
    expect(res.status).toBe(200)
    expect(((await res.json()) as { data: unknown }).data).toEqual({
      status: 'ready',
      parts: { database: 'up', cache: 'up' },
    })
  })

  test('/readyz is 503 naming the part that is down', async () => {
    const own = await openBackend('embedded')
    const app = createApp(testDeps(own))
    await own.cache.close()
    const res = await app.handle(req('/readyz'))
    expect(res.status).toBe(503)
    expect((await json(res)).error).toMatchObject({ code: 'NOT_READY', message: 'not ready: cache is down' })
    await own.database.close()
  })
})
