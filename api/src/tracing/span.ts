/**
 * The shapes of a trace: what the tracing plugin records per request and the OTLP exporter sends.
 * In a file of their own so the plugin (index.ts) and the exporter (otlp.ts) both depend on them
 * and not on each other.
 */

export interface TraceContext {
  /** 32 lowercase hex characters, never all zeros. */
  traceId: string
  /** The span id of the caller (16 hex), when a valid `traceparent` came in. */
  parentSpanId: string | undefined
  /** This request's server span (16 hex). */
  spanId: string
  sampled: boolean
}

export interface Span extends TraceContext {
  name: string
  startNs: bigint
  endNs: bigint
  attributes: Record<string, string | number | boolean>
  error: boolean
}
