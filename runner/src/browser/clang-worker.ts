/**
 * The browser runner's clang worker (docs/runners.md, "The browser runner"): loads @yowasp/clang
 * (the server runner's compiler) and runs one clang command at a time for clang-compiler.ts.
 *
 * LLVM's files (≈ 105 MB: the WebAssembly modules and the headers' tar) are this site's static
 * assets under content-hashed URLs. They are read through this worker's own `fetch`, installed
 * before the bundle loads (the bundle takes `globalThis.fetch` when it is evaluated): each file
 * comes from Cache Storage when it is there, otherwise from the network, counted as it streams
 * (the progress line) and then put in Cache Storage, so a later visit downloads nothing. Every
 * module's memory is capped (`capMemory`, like the programs'): a compile that needs more fails
 * instead of growing the tab without bound (docs/budgets.md, "Browser runner").
 */
import { runClangHere } from '../wasi/clang-run.ts'
import { capMemory, isWasm } from '../wasi/wasm-limits.ts'
import { CLANG_MEMORY_BYTES, type FromClang, type ToClang } from './clang-protocol.ts'

/** The Cache Storage cache holding LLVM's files (entries of other versions are deleted once loaded). */
export const CLANG_CACHE = 'shellfolio-clang'
/** How often loading progress is posted at most (ms). */
const PROGRESS_MS = 100

/** What this module needs of a dedicated worker's global scope (runner code has no DOM typings). */
export interface ClangWorkerScope {
  postMessage(message: FromClang): void
  onmessage: ((ev: MessageEvent<ToClang>) => void) | null
  location: { href: string }
}

/** The part of Cache Storage used here. */
interface CacheLike {
  match(url: string): Promise<Response | undefined>
  put(url: string, response: Response): Promise<void>
  keys(): Promise<readonly Request[]>
  delete(request: Request): Promise<boolean>
}

export function serveClang(scope: ClangWorkerScope, memoryBytes = CLANG_MEMORY_BYTES): void {
  const begin = performance.now()
  const post = (m: FromClang) => scope.postMessage(m)
  const realFetch = globalThis.fetch.bind(globalThis)
  let network = 0
  let cached = 0
  let total = 0
  let posted = 0
  const progress = () => {
    const now = performance.now()
    if (now - posted < PROGRESS_MS) return
    posted = now
    post({ type: 'progress', network, cached, total })
  }
  const used = new Set<string>()
  /** URLs read from the network (not from Cache Storage). */
  const downloaded = new Set<string>()
  const puts: Promise<unknown>[] = []
  // Cache Storage may be missing or refused (a private window's quota): then the network only
  const storage = (globalThis as { caches?: { open(name: string): Promise<CacheLike> } }).caches
  const opened: Promise<CacheLike | undefined> = storage
    ? storage.open(CLANG_CACHE).catch(() => undefined)
    : Promise.resolve(undefined)

  ;(globalThis as { fetch: unknown }).fetch = async (input: Request | URL | string, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input), scope.location.href).href
    used.add(url)
    const cache = await opened
    let res = await cache?.match(url).catch(() => undefined)
    const hit = res !== undefined
    if (!res) {
      res = await realFetch(url, init)
      downloaded.add(url)
      if (!res.ok) throw new Error(`${new URL(url).pathname}: HTTP ${res.status}`)
    }
    const chunks: Uint8Array[] = []
    let size = 0
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      chunks.push(r.value)
      size += r.value.length
      if (hit) cached += r.value.length
      else network += r.value.length
      progress()
    }
    const bytes = new Uint8Array(size)
    let at = 0
    for (const c of chunks) {
      bytes.set(c, at)
      at += c.length
    }
    const type = isWasm(bytes) ? 'application/wasm' : 'application/octet-stream'
    if (!hit && cache) {
      puts.push(cache.put(url, new Response(bytes, { headers: { 'content-type': type } })).catch(() => {}))
    }
    const body = isWasm(bytes) ? capMemory(bytes, memoryBytes) : bytes
    return new Response(body as Uint8Array<ArrayBuffer>, { headers: { 'content-type': type } })
  }

  const loading = (async () => {
    type Loader = {
      runClang: (args: null, files: object, o: { fetchProgress: (s: { totalLength: number }) => void }) => unknown
    }
    const mod = (await import('@yowasp/clang')) as unknown as Loader
    await mod.runClang(null, {}, { fetchProgress: (s) => (total = s.totalLength) })
    await Promise.all(puts)
    // what an older compiler version left in the cache goes
    const cache = await opened
    if (cache && used.size > 0) {
      for (const req of await cache.keys().catch(() => [] as readonly Request[])) {
        if (!used.has(req.url)) await cache.delete(req).catch(() => false)
      }
    }
    // the compressed size on the wire, where the browser tells it (same-origin: it does)
    let transferred = 0
    for (const entry of performance.getEntriesByType('resource') as (PerformanceEntry & { transferSize?: number })[]) {
      if (downloaded.has(entry.name)) transferred += entry.transferSize ?? 0
    }
    post({ type: 'ready', network, cached, total, transferred, ms: Math.round(performance.now() - begin) })
  })()
  loading.catch((e) => post({ type: 'failed', message: e instanceof Error ? e.message : String(e) }))

  scope.onmessage = async (ev: MessageEvent<ToClang>) => {
    const job = ev.data
    try {
      await loading
    } catch {
      return
    }
    const result = await runClangHere(job.args, job.tree, (bytes) => post({ type: 'output', id: job.id, bytes }))
    post({ type: 'done', id: job.id, code: result.code, tree: result.tree })
  }
}
