/**
 * The page nginx shows for a request the web application firewall blocked (deploy/nginx.conf sends
 * the blocked request here; deploy/waf.test.ts runs the whole path through nginx + ModSecurity).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { type Backend, openBackend, req, testDeps } from '../../test/harness.ts'
import { createApp } from '../app.ts'

let backend: Backend
beforeAll(async () => {
  backend = await openBackend('services')
})
afterAll(() => backend.close())

/** Elysia runs onAfterResponse hooks (where requests are counted) in a setImmediate after the response. */
const afterResponses = () => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)))

const blockedCount = async (app: ReturnType<typeof createApp>) => {
  const text = await (await app.handle(req('/metrics'))).text()
  const m = /^shellfolio_http_requests_total\{method="GET",route="\/internal\/waf-blocked",status="403"\} (\d+)$/m.exec(
    text,
  )
  return Number(m?.[1] ?? 0)
}

test('the blocked page is a 403 envelope with the request id nginx passed, counted per request', async () => {
  const app = createApp(testDeps(backend))
  const before = await blockedCount(app)
  const res = await app.handle(req('/internal/waf-blocked', { headers: { 'x-request-id': 'waf-req-1' } }))
  expect(res.status).toBe(403)
  expect(res.headers.get('x-request-id')).toBe('waf-req-1')
  expect(await res.json()).toEqual({
    data: null,
    meta: null,
    error: {
      code: 'REQUEST_BLOCKED',
      message:
        'this request was blocked by the web application firewall; if that is a mistake, tell the site owner the request id',
      requestId: 'waf-req-1',
    },
  })
  await afterResponses()
  expect(await blockedCount(app)).toBe(before + 1)
})

test('the blocked page is not in the public API documentation', async () => {
  const spec = (await (await createApp(testDeps(backend)).handle(req('/api/openapi.json'))).json()) as {
    paths: Record<string, unknown>
  }
  expect(Object.keys(spec.paths)).not.toContain('/internal/waf-blocked')
})
