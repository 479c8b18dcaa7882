import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join, normalize, sep } from 'node:path'
import { brotliCompressSync, constants as zlib } from 'node:zlib'
import { Elysia } from 'elysia'
import { allowFraming, EMBED_PAGE } from '../embed/index.ts'
import { classifyDependencyError, type Dependency, type DependencyMonitor } from '../health/dependencies.ts'
import { NotFoundError, ServiceUnavailableError } from '../http/errors.ts'
import { matchesEtag } from '../lib/read-cache.ts'
import type { Logger } from '../logger.ts'
import type { ContentSource, SsrModule } from './ssr.ts'

/** Paths the site must never shadow: unknown ones there get the JSON 404. */
const RESERVED = /^\/(api|healthz|readyz|metrics)(\/|$)/
/**
 * Pages whose terminal may run in the visitor's tab (the browser runner, docs/runners.md): served
 * cross-origin isolated (COOP same-origin comes with every answer, COEP here) so the tab has
 * SharedArrayBuffer. require-corp costs nothing under our CSP: every subresource is same-origin.
 * Embeds are not isolated (an isolated page could not be framed by a page that is not).
 */
const ISOLATED_PAGE = /^\/projects\/[a-z0-9][a-z0-9-]{0,99}\/?$/
const COEP = 'require-corp'

/** Where the rendered page goes in the built index.html (web/index.html). */
const HEAD_SLOT = '<!--ssr-head-->'
const BODY_SLOT = '<!--ssr-body-->'

export interface WebModuleOptions {
  /** The built site: web/dist (client files, index.html) with web/dist/server/entry-server.js. */
  distDir: string
  content: ContentSource
  /** PUBLIC_ORIGIN; else canonical URLs use the request's origin. */
  publicOrigin: string | undefined
  /** EMBED_ORIGINS: who may frame `/embed/:slug` (every other page stays unframable). */
  embedOrigins?: readonly string[]
  logger?: Logger
  /** Told about a render or content read that failed because a dependency is down (docs/faults.md). */
  dependencies?: DependencyMonitor | undefined
  /** Told about a render that failed for any other reason (the Problems list). */
  onRenderError?: ((error: unknown, path: string) => void) | undefined
}

type Encoding = 'br' | 'gzip'

/** The best encoding the client accepts among those we have (q=0 refuses one). */
export function pickEncoding(acceptEncoding: string | null, available: readonly Encoding[]): Encoding | undefined {
  if (!acceptEncoding) return undefined
  const accepted = new Map<string, number>()
  for (const part of acceptEncoding.toLowerCase().split(',')) {
    const [name, ...params] = part.trim().split(';')
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find(Boolean)
    if (name) accepted.set(name.trim(), q === undefined ? 1 : Number(q))
  }
  const ok = (e: Encoding) => (accepted.get(e) ?? accepted.get('*') ?? 0) > 0
  return available.find(ok)
}

/**
 * module.web: serves the built SolidJS site. Files come precompressed (`.br`, `.gz` written by
 * `bun run build`) by `Accept-Encoding`, hashed assets cached for a year; every other GET is a
 * page rendered on the server (web/src/entry-server.tsx) with its content, meta tags and the
 * hydration script under a per-response CSP nonce, answered 404 when the page does not exist.
 */
export function webModule({
  distDir,
  content: source,
  publicOrigin,
  embedOrigins = [],
  logger,
  dependencies,
  onRenderError,
}: WebModuleOptions) {
  // The renderer turns a failed content read into a 503 page itself; the monitor must still hear of
  // an outage (one log line, the metric, Problems), so every read reports one on its way out.
  const watch =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A) =>
      fn(...args).catch((err: unknown) => {
        const dependency = classifyDependencyError(err)
        if (dependency) dependencies?.failed(dependency, err, { route: 'web:render' })
        throw err
      })
  const content: ContentSource = {
    site: watch(() => source.site()),
    projects: watch(() => source.projects()),
    project: watch((slug: string) => source.project(slug)),
    posts: watch((query: Parameters<ContentSource['posts']>[0]) => source.posts(query)),
    post: watch((slug: string) => source.post(slug)),
    replay: watch((id: string) => source.replay(id)),
  }
  const file = (path: string): string | undefined => {
    const full = normalize(join(distDir, path))
    if (!full.startsWith(distDir + sep)) return undefined
    return existsSync(full) && statSync(full).isFile() ? full : undefined
  }

  let template: string | undefined
  let ssr: Promise<SsrModule | undefined> | undefined
  const loadSsr = () => {
    ssr ??= (async () => {
      const entry = file('server/entry-server.js')
      if (!entry) {
        logger?.warn({ distDir }, 'web: no server bundle; pages are rendered in the browser only')
        return undefined
      }
      return (await import(entry)) as SsrModule
    })()
    return ssr
  }

  const asset = (path: string, request: Request, set: { headers: Record<string, string | number> }) => {
    const full = file(path)
    if (!full) return undefined
    const type = Bun.file(full).type
    set.headers.vary = 'Accept-Encoding'
    // Vite puts a content hash in every file under assets/: cache those forever.
    set.headers['cache-control'] = path.startsWith('/assets/')
      ? 'public, max-age=31536000, immutable'
      : 'public, max-age=3600'
    const available = (['br', 'gzip'] as const).filter((e) => existsSync(`${full}.${e === 'br' ? 'br' : 'gz'}`))
    const encoding = pickEncoding(request.headers.get('accept-encoding'), available)
    if (encoding) {
      set.headers['content-encoding'] = encoding
      set.headers['content-type'] = type
      return Bun.file(`${full}.${encoding === 'br' ? 'br' : 'gz'}`)
    }
    return Bun.file(full)
  }

  return new Elysia({ name: 'module.web' }).get(
    '/*',
    async ({ path, request, set }) => {
      if (RESERVED.test(path)) throw new NotFoundError(`no route for GET ${path}`)
      // Before any answer, 304 included: a revalidation must not bring back X-Frame-Options: DENY.
      if (EMBED_PAGE.test(path)) allowFraming(set.headers, embedOrigins)
      // the isolated page's scripts and workers: a worker's own isolation comes from its script's answer
      if (ISOLATED_PAGE.test(path) || path.startsWith('/assets/')) set.headers['cross-origin-embedder-policy'] = COEP
      if (path !== '/' && path !== '/index.html') {
        let decoded: string
        try {
          decoded = decodeURIComponent(path)
        } catch {
          decoded = path
        }
        const found = asset(decoded, request, set)
        if (found) return found
      }
      template ??= file('index.html') ? readFileSync(file('index.html')!, 'utf8') : undefined
      if (!template) throw new ServiceUnavailableError('the web app is not built; run `bun run build`', 'WEB_NOT_BUILT')
      set.headers['content-type'] = 'text/html; charset=utf-8'
      const renderer = await loadSsr()
      if (!renderer) {
        set.headers['cache-control'] = 'no-cache'
        return template.replace(HEAD_SLOT, '<title>Shellfolio</title>').replace(BODY_SLOT, '')
      }

      const nonce = randomBytes(18).toString('base64')
      const url = new URL(request.url)
      let page: Awaited<ReturnType<SsrModule['render']>>
      try {
        page = await renderer.render({
          url: url.pathname + url.search,
          origin: publicOrigin ?? url.origin,
          nonce,
          content,
        })
      } catch (err) {
        // A bug in a page must not take the site down: the browser renders it instead.
        const outage: Dependency | null = classifyDependencyError(err)
        if (outage) {
          // An outage is a 503 logged once by the monitor, not a 500 per page view (docs/faults.md).
          dependencies?.failed(outage, err, { route: 'web:render' })
          set.status = 503
          set.headers['retry-after'] = '5'
        } else {
          logger?.error({ err, path }, 'web: server render failed')
          onRenderError?.(err, path)
          set.status = 500
        }
        set.headers['cache-control'] = 'no-store'
        return template.replace(HEAD_SLOT, '<title>Shellfolio</title>').replace(BODY_SLOT, '')
      }
      const html = template.replace(HEAD_SLOT, page.head + page.scripts).replace(BODY_SLOT, page.body)
      // The nonce changes per response; the ETag is over everything else.
      const etag = `"${createHash('sha256').update(html.replaceAll(nonce, '')).digest('base64url').slice(0, 27)}"`
      set.status = page.status
      // A 503 page: content could not be read (an outage); ask the browser to come back (docs/faults.md).
      if (page.status === 503) set.headers['retry-after'] = '5'
      set.headers.vary = 'Accept-Encoding'
      set.headers['cache-control'] = page.status === 200 ? 'public, max-age=0, must-revalidate' : 'no-store'
      if (page.status === 200) {
        set.headers.etag = etag
        if (matchesEtag(request.headers.get('if-none-match'), etag)) {
          // The browser keeps the page it has, with the CSP (and nonce) it came with: send no new one.
          delete set.headers['content-security-policy']
          set.status = 304
          return new Response(null, { status: 304, headers: set.headers as Record<string, string> })
        }
      }
      const csp = String(set.headers['content-security-policy'] ?? '')
      set.headers['content-security-policy'] = csp.replace(/script-src([^;]*)/, `script-src$1 'nonce-${nonce}'`)
      const encoding = pickEncoding(request.headers.get('accept-encoding'), ['br', 'gzip'])
      if (!encoding) return html
      set.headers['content-encoding'] = encoding
      const bytes = Buffer.from(html)
      return encoding === 'br'
        ? brotliCompressSync(bytes, { params: { [zlib.BROTLI_PARAM_QUALITY]: 5 } })
        : Bun.gzipSync(bytes)
    },
    { detail: { hide: true } },
  )
}
