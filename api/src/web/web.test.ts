import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib'
import { testConfig } from '../../test/harness.ts'
import { createApp } from '../app.ts'
import { createMemoryCache } from '../cache/index.ts'
import { openDatabase } from '../db/index.ts'
import { createLogger } from '../logger.ts'
import { pickEncoding } from './index.ts'

describe('pickEncoding', () => {
  test('takes the first of ours the client accepts; q=0 refuses; nothing accepted means identity', () => {
    expect(pickEncoding('gzip, deflate, br', ['br', 'gzip'])).toBe('br')
    expect(pickEncoding('gzip', ['br', 'gzip'])).toBe('gzip')
    expect(pickEncoding('br;q=0, gzip;q=0.5', ['br', 'gzip'])).toBe('gzip')
    expect(pickEncoding('*', ['br', 'gzip'])).toBe('br')
    expect(pickEncoding('identity', ['br', 'gzip'])).toBeUndefined()
    expect(pickEncoding(null, ['br', 'gzip'])).toBeUndefined()
    expect(pickEncoding('br', ['gzip'])).toBeUndefined()
  })
})

/**
 * module.web over a small built site: an index.html with the render slots, a hashed asset with its
 * .br/.gz twins, and a stand-in server bundle that echoes what it was given (the real one is
 * exercised by web/e2e/portfolio.test.ts).
 */
describe('module.web', () => {
  let dist: string
  let app: ReturnType<typeof createApp>
  let close: () => Promise<void>
  const js = 'console.log("hello from a hashed asset");\n'.repeat(40)

  beforeAll(async () => {
    dist = mkdtempSync(join(tmpdir(), 'shellfolio-web-'))
    mkdirSync(join(dist, 'assets'))
    mkdirSync(join(dist, 'server'))
    writeFileSync(
      join(dist, 'index.html'),
      '<!doctype html><html><head><!--ssr-head--></head><body><div id="root"><!--ssr-body--></div></body></html>',
    )
    writeFileSync(join(dist, 'assets/app-abc123.js'), js)
    writeFileSync(join(dist, 'assets/app-abc123.js.br'), brotliCompressSync(js))
    writeFileSync(join(dist, 'assets/app-abc123.js.gz'), gzipSync(js))
    writeFileSync(join(dist, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>')
    writeFileSync(
      join(dist, 'server/entry-server.js'),
      `export async function render({ url, origin, nonce, content }) {
        const site = await content.site()
        const missing = url.startsWith('/missing')
        return {
          status: missing ? 404 : 200,
          head: '<title>' + site.siteTitle + '</title><link rel="canonical" href="' + origin + url + '">',
          body: '<h1>' + (missing ? 'Page not found' : url) + '</h1>',
          scripts: '<script nonce="' + nonce + '">window._$HY={}</script>',
        }
      }`,
    )
    const config = testConfig({ WEB_DIST: dist })
    const database = await openDatabase({})
    await database.migrate()
    const cache = createMemoryCache()
    app = createApp({ config, logger: createLogger('silent'), database, cache, rateLimits: [] })
    close = async () => {
      await cache.close()
      await database.close()
    }
  }, 60_000)
  afterAll(async () => {
    await close()
    rmSync(dist, { recursive: true, force: true })
  })

  const get = (path: string, headers: Record<string, string> = {}) =>
    app.handle(new Request(`http://localhost${path}`, { headers }))

  test('a page is rendered with its head and body in the template, the hydration script under a fresh nonce', async () => {
    const res = await get('/blog/hello', { 'accept-encoding': 'identity' })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    const html = await res.text()
    expect(html).toContain('<title>Shellfolio</title><link rel="canonical" href="http://localhost/blog/hello">')
    expect(html).toContain('<div id="root"><h1>/blog/hello</h1></div>')
    const csp = res.headers.get('content-security-policy')!
    const nonce = /script-src [^;]*'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1]
    expect(nonce).toBeString()
    expect(html).toContain(`<script nonce="${nonce}">`)
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/)
    const next = await get('/blog/hello')
    expect(next.headers.get('content-security-policy')).not.toContain(nonce!)
    expect(next.headers.get('etag')).toBe(res.headers.get('etag')!)
  })

  test('an unchanged page is a 304 without a CSP (the cached copy keeps its own nonce)', async () => {
    const first = await get('/projects')
    const etag = first.headers.get('etag')!
    expect(first.headers.get('cache-control')).toBe('public, max-age=0, must-revalidate')
    const again = await get('/projects', { 'if-none-match': etag })
    expect(again.status).toBe(304)
    expect(again.headers.get('content-security-policy')).toBeNull()
    expect(await again.text()).toBe('')
  })

  test('a page that does not exist is a 404 with the rendered not-found page, never cached', async () => {
    const res = await get('/missing/page')
    expect(res.status).toBe(404)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(res.headers.get('etag')).toBeNull()
    expect(await res.text()).toContain('<h1>Page not found</h1>')
    // API paths keep the JSON envelope.
    const api = await get('/api/v1/nothing-here')
    expect(api.status).toBe(404)
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND')
  })

  test('pages are compressed on the fly by Accept-Encoding', async () => {
    const plain = await (await get('/about', { 'accept-encoding': 'identity' })).text()
    const br = await get('/about', { 'accept-encoding': 'br' })
    expect(br.headers.get('content-encoding')).toBe('br')
    expect(br.headers.get('vary')).toContain('Accept-Encoding')
    const text = brotliDecompressSync(Buffer.from(await br.arrayBuffer())).toString()
    // Same page but for the nonce.
    expect(text.replace(/nonce="[^"]+"/, '')).toBe(plain.replace(/nonce="[^"]+"/, ''))
    const gz = await get('/about', { 'accept-encoding': 'gzip' })
    expect(gz.headers.get('content-encoding')).toBe('gzip')
  })

  test('hashed assets: the precompressed twin by Accept-Encoding, its type kept, cached for a year', async () => {
    const br = await get('/assets/app-abc123.js', { 'accept-encoding': 'gzip, br' })
    expect(br.headers.get('content-encoding')).toBe('br')
    expect(br.headers.get('content-type')).toContain('javascript')
    expect(br.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(br.headers.get('vary')).toBe('Accept-Encoding')
    expect(brotliDecompressSync(Buffer.from(await br.arrayBuffer())).toString()).toBe(js)
    const gz = await get('/assets/app-abc123.js', { 'accept-encoding': 'gzip' })
    expect(gz.headers.get('content-encoding')).toBe('gzip')
    expect(gunzipSync(Buffer.from(await gz.arrayBuffer())).toString()).toBe(js)
    const plain = await get('/assets/app-abc123.js')
    expect(plain.headers.get('content-encoding')).toBeNull()
    expect(await plain.text()).toBe(js)
    // A file without twins is sent as is, with a shorter cache outside assets/.
    const icon = await get('/favicon.svg', { 'accept-encoding': 'br' })
    expect(icon.headers.get('content-encoding')).toBeNull()
    expect(icon.headers.get('cache-control')).toBe('public, max-age=3600')
  })

  test('paths outside the build are never served', async () => {
    const res = await get('/..%2f..%2fetc%2fpasswd')
    expect(await res.text()).not.toContain('root:')
  })
})
