/**
 * Prometheus metrics on prom-client: its registry, counters, gauges and histograms, and its text
 * exposition format 0.0.4. prom-client's default Node collectors (event loop lag, GC, handles) are
 * never enabled: they read Node internals Bun does not have. The process metrics we expose are
 * computed by `collect` callbacks instead (see `createMetrics`).
 *
 * The thin wrappers here add what prom-client does not do: labels always rendered in their declared
 * order, and a cap on label combinations.
 */
import * as prom from 'prom-client'

export type Labels = Record<string, string | number>

/**
 * Label combinations kept per metric. Further ones fold into one `_overflow` series, so a label fed
 * from the outside (an HTTP method, a raw path by mistake) cannot grow memory without bound.
 */
const MAX_SERIES = 2000

/** Turns a caller's labels into the declared order, refusing undeclared names and folding overflow. */
class LabelSets {
  private readonly seen = new Set<string>()
  private readonly overflow: Record<string, string>

  constructor(private readonly names: readonly string[]) {
    this.overflow = Object.fromEntries(names.map((n) => [n, '_overflow']))
  }

  /** The labels as prom-client gets them: every declared name, in declared order, values as strings. */
  ordered(labels: Labels | undefined): Record<string, string> {
    for (const key of Object.keys(labels ?? {})) {
      if (!this.names.includes(key)) throw new Error(`metric label ${key} is not declared`)
    }
    return Object.fromEntries(this.names.map((n) => [n, labels?.[n] === undefined ? '' : String(labels[n])]))
  }

  /** `ordered`, then folded into the overflow series once the cap is reached. */
  record(labels: Labels | undefined): Record<string, string> {
    const ordered = this.ordered(labels)
    const key = Object.values(ordered).join('\u0000')
    if (this.seen.has(key)) return ordered
    if (this.seen.size >= MAX_SERIES) return this.overflow
    this.seen.add(key)
    return ordered
  }
}

/** A value that only goes up (requests, failures). */
export class Counter {
  private readonly labels: LabelSets
  constructor(
    private readonly metric: prom.Counter<string>,
    labelNames: readonly string[],
  ) {
    this.labels = new LabelSets(labelNames)
  }
  inc(labels?: Labels, by = 1): void {
    if (by < 0) throw new Error('a counter cannot decrease')
    this.metric.inc(this.labels.record(labels), by)
  }
  /** The current value for a label set (tests). */
  async get(labels?: Labels): Promise<number> {
    const wanted = Object.values(this.labels.ordered(labels)).join('\u0000')
    const { values } = await this.metric.get()
    const found = values.find((v) => Object.values(v.labels).join('\u0000') === wanted)
    return found?.value ?? 0
  }
}

/** A value that goes up and down (active sessions, pool size). */
export class Gauge {
  private readonly labels: LabelSets
  constructor(
    private readonly metric: prom.Gauge<string>,
    labelNames: readonly string[],
  ) {
    this.labels = new LabelSets(labelNames)
  }
  set(labels: Labels | undefined, value: number): void {
    this.metric.set(this.labels.record(labels), value)
  }
  inc(labels?: Labels, by = 1): void {
    this.metric.inc(this.labels.record(labels), by)
  }
  dec(labels?: Labels, by = 1): void {
    this.metric.dec(this.labels.record(labels), by)
  }
}

/** Observations in cumulative buckets (latencies), with `_sum` and `_count`. */
export class Histogram {
  private readonly labels: LabelSets
  constructor(
    private readonly metric: prom.Histogram<string>,
    labelNames: readonly string[],
  ) {
    this.labels = new LabelSets(labelNames)
  }
  observe(labels: Labels | undefined, value: number): void {
    this.metric.observe(this.labels.record(labels), value)
  }
}

/** Holds metrics and renders them; `collect` callbacks refresh sampled gauges just before a scrape. */
export class Registry {
  private readonly registry = new prom.Registry()
  private readonly collectors = new Set<() => void>()

  /** Metrics are created unregistered (`registers: []`, not prom-client's global registry) and added here. */
  private add<M extends prom.Metric<string>>(name: string, create: () => M): M {
    if (this.registry.getSingleMetric(name)) throw new Error(`metric ${name} is already registered`)
    const metric = create()
    this.registry.registerMetric(metric)
    return metric
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    const metric = this.add(name, () => new prom.Counter({ name, help, labelNames, registers: [] }))
    return new Counter(metric, labelNames)
  }
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    const metric = this.add(name, () => new prom.Gauge({ name, help, labelNames, registers: [] }))
    return new Gauge(metric, labelNames)
  }
  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    const metric = this.add(
      name,
      () => new prom.Histogram({ name, help, labelNames, buckets: [...buckets], registers: [] }),
    )
    return new Histogram(metric, labelNames)
  }

  /** Registers a callback run before each render; returns a function that removes it. */
  collect(fn: () => void): () => void {
    this.collectors.add(fn)
    return () => this.collectors.delete(fn)
  }

  /** The text exposition format (Content-Type `CONTENT_TYPE`). */
  async render(): Promise<string> {
    for (const fn of this.collectors) {
      try {
        fn()
      } catch {
        // A broken collector must not break the scrape.
      }
    }
    return this.registry.metrics()
  }
}

/** `text/plain; version=0.0.4; charset=utf-8`. */
export const CONTENT_TYPE = prom.Registry.PROMETHEUS_CONTENT_TYPE
