import type { ApiProcess } from './services.ts'

/**
 * A steady load against one API process while a fault is injected (docs/faults.md): cached and
 * uncached reads, post writes, sign-ins, terminal session requests and media uploads, each from a
 * fresh client address (so per-IP budgets never interfere). Every answer is kept for the report.
 */

export type Kind = 'list' | 'read' | 'write' | 'login' | 'session' | 'upload'
export const KINDS: Kind[] = ['list', 'read', 'write', 'login', 'session', 'upload']

export interface Sample {
  kind: Kind
  at: number
  status: number
  code?: string | undefined
  retryAfter?: string | null
  /** The post slug or media id a write tried to create. */
  target?: string
  ms?: number
}

/** 503 codes a dependency outage may answer with (docs/api.md). */
export const OUTAGE_CODES = new Set([
  'DATABASE_UNAVAILABLE',
  'CACHE_UNAVAILABLE',
  'STORAGE_UNAVAILABLE',
  'RUNNER_UNAVAILABLE',
  'AUTH_UNAVAILABLE',
])

let ipCounter = 0
/** A different documentation-range address per request. */
export const nextIp = () => {
  ipCounter++
  return `198.51.${(ipCounter >> 8) & 255}.${ipCounter & 255}`
}

export interface LoadOptions {
  instance: ApiProcess
  admin: { email: string; password: string }
  token: () => string
  /** A published post's id and slug (uncached and cached reads). */
  post: { id: string; slug: string }
  /** Concurrent request loops (default 3). */
  workers?: number
}

export class Load {
  readonly samples: Sample[] = []
  private running = false
  private loops: Promise<void>[] = []
  private n = 0

  constructor(private readonly options: LoadOptions) {}

  start(): void {
    this.running = true
    for (let w = 0; w < (this.options.workers ?? 3); w++) this.loops.push(this.loop(w))
  }

  async stop(): Promise<void> {
    this.running = false
    await Promise.all(this.loops)
    this.loops = []
  }

  /** Samples in [from, to). */
  between(from: number, to = Number.POSITIVE_INFINITY): Sample[] {
    return this.samples.filter((s) => s.at >= from && s.at < to)
  }

  private async loop(worker: number): Promise<void> {
    let i = worker
    while (this.running) {
      const kind = KINDS[i++ % KINDS.length]!
      this.samples.push(await this.one(kind))
      await Bun.sleep(25)
    }
  }

  /** One request of `kind`; a connection error counts as status 0. */
  async one(kind: Kind): Promise<Sample> {
    const { instance, admin, token, post } = this.options
    const at = Date.now()
    const ip = nextIp()
    let target: string | undefined
    let res: Response
    try {
      const init = { ip, signal: AbortSignal.timeout(20_000) }
      switch (kind) {
        case 'list':
          res = await instance.fetch('/api/v1/posts', init)
          break
        case 'read':
          res = await instance.fetch(`/api/v1/posts/by-id/${post.id}`, { ...init, token: token() })
          break
        case 'write':
          target = `fault-${process.pid}-${++this.n}`
          res = await instance.fetch('/api/v1/posts', {
            ...init,
            method: 'POST',
            token: token(),
            json: { slug: target, title: `Fault ${this.n}`, markdown: 'written under load', status: 'published' },
          })
          break
        case 'login':
          res = await instance.fetch('/api/v1/auth/token', { ...init, method: 'POST', json: admin })
          break
        case 'session':
          res = await instance.fetch('/api/v1/terminal/sessions', {
            ...init,
            method: 'POST',
            json: { project: 'calc', runner: 'wasi' },
          })
          break
        case 'upload': {
          const form = new FormData()
          form.set('file', new File([`uploaded under load ${++this.n}\n`], 'note.txt', { type: 'text/plain' }))
          res = await instance.fetch('/api/v1/media', { ...init, method: 'POST', token: token(), body: form })
          break
        }
      }
    } catch {
      return { kind, at, status: 0, target }
    }
    let code: string | undefined
    const body = (await res.json().catch(() => null)) as { data?: { id?: string }; error?: { code?: string } } | null
    code = body?.error?.code
    if (kind === 'upload' && res.status === 201) target = body?.data?.id
    return {
      kind,
      at,
      status: res.status,
      code,
      retryAfter: res.headers.get('retry-after'),
      target,
      ms: Date.now() - at,
    }
  }
}

/** What a window of samples says: refused (503 with a code), wrong answers, and per-kind counts. */
export function summarize(samples: Sample[]) {
  const refused = samples.filter((s) => s.status === 503)
  const wrong = samples.filter(
    (s) =>
      s.status === 0 ||
      (s.status >= 500 && s.status !== 503) ||
      (s.status === 503 && (!s.code || !OUTAGE_CODES.has(s.code) || !s.retryAfter)),
  )
  const byCode: Record<string, number> = {}
  for (const s of refused) byCode[s.code ?? '?'] = (byCode[s.code ?? '?'] ?? 0) + 1
  const other: Record<string, number> = {}
  for (const s of samples) {
    if (s.status < 300 || s.status === 503) continue
    const k = `${s.kind} ${s.status} ${s.code ?? ''}`.trim()
    other[k] = (other[k] ?? 0) + 1
  }
  return { total: samples.length, refused: refused.length, byCode, wrong, other }
}

/** Success statuses per kind. */
export const okStatus: Record<Kind, number> = {
  list: 200,
  read: 200,
  write: 201,
  login: 200,
  session: 201,
  upload: 201,
}
