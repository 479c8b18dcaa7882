import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Writable } from 'node:stream'
import { adminHeaders, contentDeps } from '../../test/content.ts'
import { BACKENDS, type Backend, openBackend, req } from '../../test/harness.ts'
import { type AppDeps, createApp, createFaultHandling } from '../app.ts'
import { createLogger } from '../logger.ts'
import { createProblemsService, firstFrame, messageOf } from './service.ts'

type Json = { data: any; meta: any; error: any }
const json = async (res: Response) => (await res.json()) as Json

/** A loopback webhook receiver: keeps every JSON message; answers `status`. */
function receiver(status = 204) {
  const got: any[] = []
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(r) {
      got.push(await r.json())
      return new Response(null, { status: receiverStatus.value })
    },
  })
  const receiverStatus = { value: status }
  return { url: `http://127.0.0.1:${server.port}/hook`, got, receiverStatus, stop: () => server.stop(true) }
}

/** A logger whose JSON lines are kept (to count what was logged). */
function capturedLogger() {
  const lines: any[] = []
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l))
      done()
    },
  })
  return { logger: createLogger('info', sink), lines }
}

async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 10_000) {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const v = await fn()
    if (v) return v
    await Bun.sleep(20)
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe('grouping keys (pure)', () => {
  test('the first frame is in our code, relative and without a column; wrappers never give the message', () => {
    const err = new Error('boom')
    expect(firstFrame(err)).toMatch(/^api\/src\/problems\/problems\.test\.ts:\d+$/)
    const wrapped = new Error('Failed query: select * from users where email = $1\nparams: secret@example.com', {
      cause: new Error('connect ECONNREFUSED 127.0.0.1:5432'),
    })
    expect(messageOf(wrapped)).toBe('connect ECONNREFUSED 127.0.0.1:5432')
    expect(messageOf('x'.repeat(1000)).length).toBeLessThanOrEqual(300)
  })
})

describe.each(BACKENDS)('problems on %s', (kind) => {
  let backend: Backend
  let deps: AppDeps
  let app: ReturnType<typeof createApp>
  let admin: { authorization: string }
  let hook: ReturnType<typeof receiver>

  beforeAll(async () => {
    backend = await openBackend(kind)
    hook = receiver()
    const base = contentDeps(backend, { ALERT_WEBHOOK_URL: hook.url })
    deps = {
      ...base,
      faults: createFaultHandling({
        config: base.config,
        logger: base.logger,
        database: base.database,
        cache: base.cache,
      }),
    }
    // A route that fails the way a bug does (registered after the app, under its global error handler).
    app = createApp(deps).get('/api/v1/test-only/boom', () => {
      throw new TypeError('cannot read properties of undefined')
    })
    admin = await adminHeaders(deps)
  }, 60_000)

  afterAll(async () => {
    await deps.faults?.close()
    hook.stop()
    await backend.close()
  })

  test('a 500 is listed once as a group with its count, request id and trace id; admins only', async () => {
    const first = await app.handle(req('/api/v1/test-only/boom', { headers: { 'x-request-id': 'req-boom-1' } }))
    expect(first.status).toBe(500)
    expect((await json(first)).error.code).toBe('INTERNAL')
    const second = await app.handle(req('/api/v1/test-only/boom', { headers: { 'x-request-id': 'req-boom-2' } }))
    expect(second.status).toBe(500)
    const traceIds = [first, second].map((r) => r.headers.get('traceparent')?.split('-')[1])

    expect((await app.handle(req('/api/v1/problems'))).status).toBe(401)
    const res = await app.handle(req('/api/v1/problems', { headers: admin }))
    expect(res.status).toBe(200)
    const body = await json(res)
    const groups = body.data.filter((p: any) => p.route === '/api/v1/test-only/boom')
    expect(groups).toHaveLength(1)
    const [g] = groups
    expect(g).toMatchObject({
      code: 'INTERNAL',
      status: 'open',
      count: 2,
      message: 'cannot read properties of undefined',
    })
    expect(g.frame).toMatch(/^api\/src\/problems\/problems\.test\.ts:\d+$/)
    expect(['req-boom-1', 'req-boom-2']).toContain(g.sampleRequestId)
    expect(traceIds).toContain(g.sampleTraceId)
    expect(new Date(g.firstSeen).getTime()).toBeLessThanOrEqual(new Date(g.lastSeen).getTime())
    expect(body.meta).toMatchObject({ count: body.data.length, outages: [], buffered: 0 })
    // The webhook heard about the group once, not once per occurrence.
    await until('the webhook message', () => hook.got.length >= 1)
    await Bun.sleep(100)
    expect(hook.got.filter((m) => m.route === '/api/v1/test-only/boom')).toHaveLength(1)
    expect(hook.got[0]).toMatchObject({ event: 'problem', code: 'INTERNAL', fingerprint: expect.any(String) })
  })

  test('a resolved group reopens when it happens again, keeping its count', async () => {
    const list = await json(await app.handle(req('/api/v1/problems', { headers: admin })))
    const g = list.data.find((p: any) => p.route === '/api/v1/test-only/boom')
    const resolved = await app.handle(req(`/api/v1/problems/${g.id}/resolve`, { method: 'POST', headers: admin }))
    expect(resolved.status).toBe(200)
    expect((await json(resolved)).data).toMatchObject({ status: 'resolved', resolvedAt: expect.any(String) })
    const open = await json(await app.handle(req('/api/v1/problems?status=open', { headers: admin })))
    expect(open.data.some((p: any) => p.id === g.id)).toBe(false)

    expect((await app.handle(req('/api/v1/test-only/boom'))).status).toBe(500)
    const again = await json(await app.handle(req('/api/v1/problems?status=open', { headers: admin })))
    expect(again.data.find((p: any) => p.id === g.id)).toMatchObject({ status: 'open', count: 3, resolvedAt: null })
    // Within the hour: no second webhook message for the same group.
    expect(hook.got.filter((m) => m.route === '/api/v1/test-only/boom')).toHaveLength(1)
  })

  test('bad ids are refused clearly', async () => {
    const bad = await app.handle(req('/api/v1/problems/not-a-uuid/resolve', { method: 'POST', headers: admin }))
    expect(bad.status).toBe(400)
    const missing = await app.handle(
      req('/api/v1/problems/00000000-0000-4000-8000-000000000000/resolve', { method: 'POST', headers: admin }),
    )
    expect(missing.status).toBe(404)
    expect((await json(missing)).error.code).toBe('PROBLEM_NOT_FOUND')
    const filter = await app.handle(req('/api/v1/problems?status=whatever', { headers: admin }))
    expect(filter.status).toBe(400)
  })

  test('one webhook message per group; a failing receiver is logged once, never blocks a report', async () => {
    const failing = receiver(500)
    const { logger, lines } = capturedLogger()
    const problems = createProblemsService({ db: backend.database.db, logger, webhookUrl: failing.url })
    for (let i = 0; i < 3; i++) problems.report({ code: 'X_ONE', route: 'test:a', error: new Error('a') })
    problems.report({ code: 'X_TWO', route: 'test:b', error: new Error('b') })
    problems.report({ code: 'X_THREE', route: 'test:c', error: new Error('c') })
    await until('three webhook messages', () => failing.got.length >= 3)
    await Bun.sleep(200)
    expect(failing.got.map((m) => m.code).sort()).toEqual(['X_ONE', 'X_THREE', 'X_TWO'])
    const failures = lines.filter((l) => String(l.msg).startsWith('alert webhook: delivery failed'))
    expect(failures).toHaveLength(1)
    expect(JSON.stringify(lines)).not.toContain(failing.url)
    // The receiver is back: delivery resumes, and says so once.
    failing.receiverStatus.value = 204
    problems.report({ code: 'X_FOUR', route: 'test:d', error: new Error('d') })
    await until('the recovery line', () => lines.some((l) => l.msg === 'alert webhook: delivering again'))
    await problems.close()
    const rows = await json(await app.handle(req('/api/v1/problems', { headers: admin })))
    expect(rows.data.find((p: any) => p.code === 'X_ONE')?.count).toBe(3)
    failing.stop()
  })
})
