/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the text
 * exposition format 0.0.4. Written here rather than pulling in prom-client because we need a dozen
 * series, no default Node collectors (several read Node internals Bun does not have), and nothing
 * that must be kept in step with a Bun upgrade.
 */

export type Labels = Record<string, string | number>

type MetricType = 'counter' | 'gauge' | 'histogram'

interface Metric {
  readonly name: string
  readonly help: string
  readonly type: MetricType
  render(): string[]
  reset(): void
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN'
  if (n === Number.POSITIVE_INFINITY) return '+Inf'
  if (n === Number.NEGATIVE_INFINITY) return '-Inf'
  return String(n)
}

/** Canonical key for a label set: the declared label names in order, values as strings. */
function labelKey(names: readonly string[], labels: Labels | undefined): string[] {
  const values = names.map((n) => {
    const v = labels?.[n]
    return v === undefined ? '' : String(v)
  })
  for (const key of Object.keys(labels ?? {})) {
    if (!names.includes(key)) throw new Error(`metric label ${key} is not declared`)
  }
  return values
}

function renderLabels(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i]!)}"`)
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`)
  return parts.length > 0 ? `{${parts.join(',')}}` : ''
}

/** Bounds the number of label combinations so a bug (a raw path as a label) cannot exhaust memory. */
const MAX_SERIES = 2000

abstract class Base<T> implements Metric {
  protected readonly series = new Map<string, { values: string[]; state: T }>()
  abstract readonly type: MetricType

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    if (!NAME.test(name)) throw new Error(`invalid metric name ${name}`)
    for (const l of labelNames) if (!LABEL_NAME.test(l)) throw new Error(`invalid label name ${l}`)
  }

  protected abstract initial(): T

  protected entry(labels: Labels | undefined): T {
    const values = labelKey(this.labelNames, labels)
    const key = values.join('\u0000')
    let found = this.series.get(key)
    if (!found) {
      if (this.series.size >= MAX_SERIES) {
        // Fold the overflow into one series rather than growing without bound.
        const overflow = this.labelNames.map(() => '_overflow')
        const okey = overflow.join('\u0000')
        found = this.series.get(okey) ?? { values: overflow, state: this.initial() }
        this.series.set(okey, found)
        return found.state
      }
      found = { values, state: this.initial() }
      this.series.set(key, found)
    }
    return found.state
  }

  reset(): void {
    this.series.clear()
  }

  abstract render(): string[]
}

/** A value that only goes up (requests, failures). */
export class Counter extends Base<{ value: number }> {
  readonly type = 'counter' as const
  protected initial() {
    return { value: 0 }
  }
  inc(labels?: Labels, by = 1): void {
    if (by < 0) throw new Error('a counter cannot decrease')
    this.entry(labels).value += by
  }
  /** The current value for a label set (tests, dashboards in-process). */
  get(labels?: Labels): number {
    return this.series.get(labelKey(this.labelNames, labels).join('\u0000'))?.state.value ?? 0
  }
  render(): string[] {
    return [...this.series.values()].map(
      (s) => `${this.name}${renderLabels(this.labelNames, s.values)} ${formatNumber(s.state.value)}`,
    )
  }
}

/** A value that goes up and down (active sessions, pool size). */
export class Gauge extends Base<{ value: number }> {
  readonly type = 'gauge' as const
  protected initial() {
    return { value: 0 }
  }
  set(labels: Labels | undefined, value: number): void {
    this.entry(labels).value = value
  }
  inc(labels?: Labels, by = 1): void {
    this.entry(labels).value += by
  }
  dec(labels?: Labels, by = 1): void {
    this.entry(labels).value -= by
  }
  get(labels?: Labels): number {
    return this.series.get(labelKey(this.labelNames, labels).join('\u0000'))?.state.value ?? 0
  }
  render(): string[] {
    return [...this.series.values()].map(
      (s) => `${this.name}${renderLabels(this.labelNames, s.values)} ${formatNumber(s.state.value)}`,
    )
  }
}

/** Observations in cumulative buckets (latencies), with `_sum` and `_count`. */
export class Histogram extends Base<{ counts: number[]; sum: number; count: number }> {
  readonly type = 'histogram' as const
  readonly buckets: readonly number[]

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames)
    if (labelNames.includes('le')) throw new Error('le is reserved in histograms')
    this.buckets = [...buckets].sort((a, b) => a - b)
  }
  protected initial() {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 }
  }
  observe(labels: Labels | undefined, value: number): void {
    const s = this.entry(labels)
    s.sum += value
    s.count += 1
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]! += 1
  }
  /** Count of observations for a label set. */
  count(labels?: Labels): number {
    return this.series.get(labelKey(this.labelNames, labels).join('\u0000'))?.state.count ?? 0
  }
  render(): string[] {
    const lines: string[] = []
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => {
        lines.push(
          `${this.name}_bucket${renderLabels(this.labelNames, s.values, ['le', formatNumber(b)])} ${s.state.counts[i]}`,
        )
      })
      lines.push(`${this.name}_bucket${renderLabels(this.labelNames, s.values, ['le', '+Inf'])} ${s.state.count}`)
      lines.push(`${this.name}_sum${renderLabels(this.labelNames, s.values)} ${formatNumber(s.state.sum)}`)
      lines.push(`${this.name}_count${renderLabels(this.labelNames, s.values)} ${s.state.count}`)
    }
    return lines
  }
}

/** Holds metrics and renders them; `collect` callbacks refresh sampled gauges just before a scrape. */
export class Registry {
  private readonly metrics = new Map<string, Metric>()
  private readonly collectors = new Set<() => void>()

  private add<M extends Metric>(metric: M): M {
    if (this.metrics.has(metric.name)) throw new Error(`metric ${metric.name} is already registered`)
    this.metrics.set(metric.name, metric)
    return metric
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labelNames))
  }
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, labelNames))
  }
  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, labelNames, buckets))
  }

  /** Registers a callback run before each render; returns a function that removes it. */
  collect(fn: () => void): () => void {
    this.collectors.add(fn)
    return () => this.collectors.delete(fn)
  }

  /** The text exposition format (Content-Type `text/plain; version=0.0.4`). */
  render(): string {
    for (const fn of this.collectors) {
      try {
        fn()
      } catch {
        // A broken collector must not break the scrape.
      }
    }
    const out: string[] = []
    for (const m of this.metrics.values()) {
      out.push(`# HELP ${m.name} ${m.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`)
      out.push(`# TYPE ${m.name} ${m.type}`)
      out.push(...m.render())
    }
    return `${out.join('\n')}\n`
  }

  /** Clears every series (tests). */
  reset(): void {
    for (const m of this.metrics.values()) m.reset()
  }
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
