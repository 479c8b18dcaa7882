import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Writable } from 'node:stream'
import { type Backend, openBackend, req, testConfig } from '../../test/harness.ts'
import { createApp } from '../app.ts'
import { createLogger } from '../logger.ts'
import { formatTraceparent, OtlpExporter, parseTraceparent, type Span, startContext } from './index.ts'

let backend: Backend
beforeAll(async () => {
  backend = await openBackend('embedded')
})
afterAll(() => backend.close())

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const PARENT = '00f067aa0ba902b7'

describe('traceparent', () => {
  test('parses the W3C example and rejects invalid headers', () => {
    expect(parseTraceparent(`00-${TRACE}-${PARENT}-01`)).toEqual({
      traceId: TRACE,
      parentSpanId: PARENT,
      sampled: true,
    })
    expect(parseTraceparent(`00-${TRACE}-${PARENT}-00`)).toEqual({
      traceId: TRACE,
      parentSpanId: PARENT,
      sampled: false,
    })
    for (const bad of [
      undefined,
      '',
      'garbage',
      `00-${'0'.repeat(32)}-${PARENT}-01`, // all-zero trace id
      `00-${TRACE}-${'0'.repeat(16)}-01`, // all-zero parent id
      `ff-${TRACE}-${PARENT}-01`, // forbidden version
      `00-${TRACE.toUpperCase()}-${PARENT}-01`, // uppercase is invalid
      `00-${TRACE}-${PARENT}-01-extra`, // version 00 has exactly four fields
    ]) {
      expect(parseTraceparent(bad)).toBeNull()
    }
    // A future version may append fields; the first four are still understood.
    expect(parseTraceparent(`01-${TRACE}-${PARENT}-01-what-ever`)?.traceId).toBe(TRACE)
  })

  test('continues an incoming trace with a new span, or starts a sampled one', () => {
    const continued = startContext(`00-${TRACE}-${PARENT}-01`)
    expect(continued.traceId).toBe(TRACE)
    expect(continued.parentSpanId).toBe(PARENT)
    expect(continued.spanId).toMatch(/^[0-9a-f]{16}$/)
    expect(continued.spanId).not.toBe(PARENT)
    const fresh = startContext(null)
    expect(fresh.traceId).toMatch(/^[0-9a-f]{32}$/)
    expect(fresh.parentSpanId).toBeUndefined()
    expect(fresh.sampled).toBe(true)
    expect(formatTraceparent(fresh)).toBe(`00-${fresh.traceId}-${fresh.spanId}-01`)
  })
})

/** Collects pino's JSON lines. */
function logSink() {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l))
      done()
    },
  })
  return { lines, stream }
}

/** Elysia runs onAfterResponse hooks in a setImmediate after handing the response back. */
const afterResponses = () => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)))

describe('tracing in the app', () => {
  test('answers with traceparent in the same trace, puts traceId in the access log and exports a span', async () => {
    const { lines, stream } = logSink()
    const spans: Span[] = []
    const app = createApp({
      config: testConfig(),
      logger: createLogger('info', stream),
      database: backend.database,
      cache: backend.cache,
      spanExporter: { add: (s) => spans.push(s) },
    })
    {
      const res = await app.handle(
        req('/healthz', { headers: { traceparent: `00-${TRACE}-${PARENT}-01`, 'x-request-id': 'req-trace-1' } }),
      )
      expect(res.status).toBe(200)
      const back = parseTraceparent(res.headers.get('traceparent'))
      expect(back?.traceId).toBe(TRACE)
      expect(back?.parentSpanId).not.toBe(PARENT) // our span, the parent of whatever comes next
      expect(res.headers.get('x-request-id')).toBe('req-trace-1')

      // A request without a traceparent starts its own trace.
      const fresh = await app.handle(req('/healthz'))
      const freshTrace = parseTraceparent(fresh.headers.get('traceparent'))?.traceId
      expect(freshTrace).toMatch(/^[0-9a-f]{32}$/)
      expect(freshTrace).not.toBe(TRACE)

      await afterResponses()
      const access = lines.find((l) => l.msg === 'request' && l.requestId === 'req-trace-1')
      expect(access?.traceId).toBe(TRACE)
      const span = spans.find((s) => s.traceId === TRACE)
      expect(span).toMatchObject({
        traceId: TRACE,
        parentSpanId: PARENT,
        spanId: back!.parentSpanId,
        name: 'GET /healthz',
        error: false,
        attributes: {
          'http.request.method': 'GET',
          'http.route': '/healthz',
          'url.path': '/healthz',
          'http.response.status_code': 200,
          'shellfolio.request_id': 'req-trace-1',
        },
      })
      expect(span!.endNs).toBeGreaterThanOrEqual(span!.startNs)
    }
  })

  test('unsampled incoming traces are propagated but not exported', async () => {
    const spans: Span[] = []
    const app = createApp({
      config: testConfig(),
      logger: createLogger('silent'),
      database: backend.database,
      cache: backend.cache,
      spanExporter: { add: (s) => spans.push(s) },
    })
    {
      const res = await app.handle(req('/healthz', { headers: { traceparent: `00-${TRACE}-${PARENT}-00` } }))
      expect(res.headers.get('traceparent')).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-00$`))
      await afterResponses()
      expect(spans.filter((s) => s.traceId === TRACE)).toEqual([])
    }
  })
})

describe('OTLP exporter', () => {
  test('posts OTLP/HTTP JSON to <endpoint>/v1/traces on a real collector socket', async () => {
    const received: { path: string; body: unknown }[] = []
    using collector = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      async fetch(request) {
        received.push({ path: new URL(request.url).pathname, body: await request.json() })
        return new Response('{}', { headers: { 'content-type': 'application/json' } })
      },
    })
    const exporter = new OtlpExporter({ endpoint: `http://127.0.0.1:${collector.port}/`, serviceName: 'sf-test' })
    exporter.add({
      traceId: TRACE,
      parentSpanId: PARENT,
      spanId: 'a1b2c3d4e5f60718',
      sampled: true,
      name: 'GET /healthz',
      startNs: 1_000_000_000n,
      endNs: 1_002_000_000n,
      attributes: { 'http.response.status_code': 200, 'http.route': '/healthz' },
      error: false,
    })
    await exporter.close()
    expect(received).toEqual([
      {
        path: '/v1/traces',
        body: {
          resourceSpans: [
            {
              resource: { attributes: [{ key: 'service.name', value: { stringValue: 'sf-test' } }] },
              scopeSpans: [
                {
                  scope: { name: 'shellfolio' },
                  spans: [
                    {
                      traceId: TRACE,
                      spanId: 'a1b2c3d4e5f60718',
                      parentSpanId: PARENT,
                      name: 'GET /healthz',
                      kind: 2,
                      startTimeUnixNano: '1000000000',
                      endTimeUnixNano: '1002000000',
                      attributes: [
                        { key: 'http.response.status_code', value: { intValue: '200' } },
                        { key: 'http.route', value: { stringValue: '/healthz' } },
                      ],
                      status: { code: 0 },
                    },
                  ],
                },
              ],
            },
          ],
        },
      },
    ])
  })

  test('a dead collector is reported, never thrown, and the queue is bounded', async () => {
    const errors: unknown[] = []
    const exporter = new OtlpExporter({
      endpoint: 'http://127.0.0.1:9', // discard port: connection refused
      serviceName: 'sf-test',
      batchSize: 10_000,
      maxQueue: 3,
      onError: (e) => errors.push(e),
    })
    const span = {
      traceId: TRACE,
      parentSpanId: undefined,
      spanId: 'a1b2c3d4e5f60718',
      sampled: true,
      name: 'x',
      startNs: 0n,
      endNs: 1n,
      attributes: {},
      error: false,
    }
    for (let i = 0; i < 5; i++) exporter.add(span)
    expect(exporter.dropped).toBe(2)
    await exporter.close()
    expect(errors.length).toBe(1)
  })

  test('OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL', () => {
    expect(() => testConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow('OTEL_EXPORTER_OTLP_ENDPOINT')
    expect(testConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).otelEndpoint).toBe(
      'http://collector:4318',
    )
  })
})
