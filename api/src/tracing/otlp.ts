import type { Span } from './span.ts'

export interface OtlpExporterOptions {
  /** OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base URL; spans go to `<endpoint>/v1/traces`. */
  endpoint: string
  serviceName: string
  /** Spans are sent when this many are queued, or every `intervalMs`. */
  batchSize?: number
  intervalMs?: number
  /** Spans beyond this many queued are dropped (a dead collector must not grow memory). */
  maxQueue?: number
  onError?: (err: unknown) => void
  fetch?: typeof fetch
}

/** OTLP span kind SERVER; status codes UNSET=0, ERROR=2. */
const KIND_SERVER = 2

function attribute(key: string, value: string | number | boolean) {
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? { key, value: { intValue: String(value) } }
      : { key, value: { doubleValue: value } }
  }
  if (typeof value === 'boolean') return { key, value: { boolValue: value } }
  return { key, value: { stringValue: value } }
}

/**
 * Batches finished spans and posts them as OTLP/HTTP JSON (trace and span ids as hex, as the OTLP
 * JSON mapping specifies). Export failures are reported through `onError` and the batch is dropped:
 * tracing must never slow or fail a request.
 */
export class OtlpExporter {
  readonly url: string
  private queue: Span[] = []
  private readonly timer: ReturnType<typeof setInterval>
  private inflight: Promise<void> = Promise.resolve()
  dropped = 0

  constructor(private readonly options: OtlpExporterOptions) {
    this.url = `${options.endpoint.replace(/\/$/, '')}/v1/traces`
    this.timer = setInterval(() => void this.flush(), options.intervalMs ?? 5000)
    this.timer.unref?.()
  }

  add(span: Span): void {
    if (this.queue.length >= (this.options.maxQueue ?? 2048)) {
      this.dropped++
      return
    }
    this.queue.push(span)
    if (this.queue.length >= (this.options.batchSize ?? 256)) void this.flush()
  }

  /** The OTLP/JSON body for a batch (exported for tests). */
  body(spans: Span[]) {
    return {
      resourceSpans: [
        {
          resource: { attributes: [attribute('service.name', this.options.serviceName)] },
          scopeSpans: [
            {
              scope: { name: 'shellfolio' },
              spans: spans.map((s) => ({
                traceId: s.traceId,
                spanId: s.spanId,
                ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
                name: s.name,
                kind: KIND_SERVER,
                startTimeUnixNano: s.startNs.toString(),
                endTimeUnixNano: s.endNs.toString(),
                attributes: Object.entries(s.attributes).map(([k, v]) => attribute(k, v)),
                status: s.error ? { code: 2 } : { code: 0 },
              })),
            },
          ],
        },
      ],
    }
  }

  /** Sends what is queued; resolves when the send finished (or failed). */
  flush(): Promise<void> {
    if (this.queue.length === 0) return this.inflight
    const batch = this.queue
    this.queue = []
    const send = async () => {
      try {
        const res = await (this.options.fetch ?? fetch)(this.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(this.body(batch)),
          signal: AbortSignal.timeout(10_000),
        })
        if (!res.ok) throw new Error(`collector answered ${res.status}`)
      } catch (err) {
        this.options.onError?.(err)
      }
    }
    this.inflight = this.inflight.then(send)
    return this.inflight
  }

  async close(): Promise<void> {
    clearInterval(this.timer)
    await this.flush()
  }
}
