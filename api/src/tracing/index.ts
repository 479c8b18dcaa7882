import { randomBytes } from 'node:crypto'
import { Elysia } from 'elysia'
import { requestIdOf } from '../http/plugin.ts'
import type { Logger } from '../logger.ts'
import { OtlpExporter } from './otlp.ts'
import type { Span, TraceContext } from './span.ts'

export { OtlpExporter, type OtlpExporterOptions } from './otlp.ts'
export type { Span, TraceContext } from './span.ts'

/**
 * Minimal W3C Trace Context (https://www.w3.org/TR/trace-context/) and OTLP/HTTP span export.
 * The OpenTelemetry JS SDK is not used: it patches Node's http module (which Bun's server does not go
 * through) and brings ~40 packages for one server span per request. What we keep from it is the
 * wire format: `traceparent` in and out, and OTLP/HTTP JSON to OTEL_EXPORTER_OTLP_ENDPOINT.
 */

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/

/** Parses a `traceparent` header; null when absent or invalid (then a new trace starts). */
export function parseTraceparent(
  header: string | null | undefined,
): { traceId: string; parentSpanId: string; sampled: boolean } | null {
  if (!header) return null
  const m = TRACEPARENT.exec(header.trim())
  if (!m) return null
  const [, version, traceId, parentSpanId, flags, rest] = m
  // Version ff is forbidden; version 00 has exactly four fields; later versions may append fields.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return null
  if (/^0+$/.test(traceId!) || /^0+$/.test(parentSpanId!)) return null
  return { traceId: traceId!, parentSpanId: parentSpanId!, sampled: (Number.parseInt(flags!, 16) & 1) === 1 }
}

export const newTraceId = () => randomBytes(16).toString('hex')
export const newSpanId = () => randomBytes(8).toString('hex')

/** `00-<trace-id>-<span-id>-<flags>` for a context, naming its own span as the parent of the next hop. */
export function formatTraceparent(ctx: Pick<TraceContext, 'traceId' | 'spanId' | 'sampled'>): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${ctx.sampled ? '01' : '00'}`
}

/** Continues the caller's trace or starts a new, sampled one. */
export function startContext(header: string | null | undefined): TraceContext {
  const parent = parseTraceparent(header)
  return {
    traceId: parent?.traceId ?? newTraceId(),
    parentSpanId: parent?.parentSpanId,
    spanId: newSpanId(),
    sampled: parent ? parent.sampled : true,
  }
}

const contexts = new WeakMap<Request, Span>()
/** requestId → traceId for the log formatter; entries live only while their request is in flight. */
const traceByRequestId = new Map<string, string>()
const MAX_IN_FLIGHT = 10_000

/** The trace of a request, for code that calls another service and must pass `traceparent` on. */
export function traceOf(request: Request): TraceContext | undefined {
  return contexts.get(request)
}

/** Headers to send to a downstream service so its spans join this request's trace. */
export function propagationHeaders(request: Request): Record<string, string> {
  const ctx = contexts.get(request)
  return ctx ? { traceparent: formatTraceparent(ctx), 'x-request-id': requestIdOf(request) } : {}
}

/**
 * A child logger that adds `traceId` to every line carrying a `requestId` of an in-flight request,
 * so the access log and service logs join traces without changing their call sites.
 */
export function withTraceIds(logger: Logger): Logger {
  return logger.child(
    {},
    {
      formatters: {
        log: (object: object) => {
          const obj = object as Record<string, unknown>
          const id = obj.requestId
          if (typeof id === 'string' && obj.traceId === undefined) {
            const traceId = traceByRequestId.get(id)
            if (traceId) return { ...obj, traceId }
          }
          return obj
        },
      },
    },
  )
}

/** Wall-clock nanoseconds from the monotonic clock, so a span's end never precedes its start. */
const nowNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1_000_000))

export interface TracingPluginOptions {
  /** Receives finished, sampled spans (the OTLP exporter when OTEL_EXPORTER_OTLP_ENDPOINT is set). */
  exporter?: Pick<OtlpExporter, 'add'> | undefined
}

/**
 * plugin.tracing: one server span per request. Reads `traceparent`, answers with this hop's
 * `traceparent`, records `traceId` for the logs, and hands finished spans to the exporter.
 * Register it right after plugin.http (which assigns the request id it reads).
 */
export function tracingPlugin(options: TracingPluginOptions = {}) {
  const { exporter } = options
  return new Elysia({ name: 'plugin.tracing' })
    .onRequest(({ request, set }) => {
      const ctx = startContext(request.headers.get('traceparent'))
      const span: Span = { ...ctx, name: request.method, startNs: nowNs(), endNs: 0n, attributes: {}, error: false }
      contexts.set(request, span)
      const requestId = requestIdOf(request)
      if (requestId !== 'unknown') {
        // Bounded: should an after-response hook never run for a request, its entry ages out here.
        if (traceByRequestId.size >= MAX_IN_FLIGHT) traceByRequestId.delete(traceByRequestId.keys().next().value!)
        traceByRequestId.set(requestId, ctx.traceId)
      }
      set.headers.traceparent = formatTraceparent(ctx)
    })
    .onAfterResponse({ as: 'global' }, ({ request, route, set, responseValue }) => {
      const span = contexts.get(request)
      if (!span) return
      const requestId = requestIdOf(request)
      // Delete only our own entry: another in-flight request may reuse an incoming X-Request-Id.
      if (traceByRequestId.get(requestId) === span.traceId) traceByRequestId.delete(requestId)
      if (!exporter || !span.sampled) return
      const status =
        responseValue instanceof Response ? responseValue.status : typeof set.status === 'number' ? set.status : 200
      const template = route || 'unmatched'
      span.name = `${request.method} ${template}`
      span.endNs = nowNs()
      span.error = status >= 500
      span.attributes = {
        'http.request.method': request.method,
        'http.route': template,
        'url.path': new URL(request.url).pathname,
        'http.response.status_code': status,
        'shellfolio.request_id': requestId,
      }
      exporter.add(span)
    })
}

/** The exporter for a configured endpoint, or undefined when tracing export is off. */
export function exporterFromConfig(
  config: { otelEndpoint: string | undefined; otelServiceName: string },
  logger?: Logger,
): OtlpExporter | undefined {
  if (!config.otelEndpoint) return undefined
  return new OtlpExporter({
    endpoint: config.otelEndpoint,
    serviceName: config.otelServiceName,
    onError: (err) => logger?.warn({ err }, 'OTLP span export failed'),
  })
}
