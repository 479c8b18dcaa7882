/**
 * Terminals outside the project page (docs/api.md, "Embedding"): runnable ```` ```shellfolio ````
 * blocks in posts (rendered and sanitized on the server, unknown projects), the embed page's
 * framing headers for the origins of EMBED_ORIGINS and for every other page, `/embed.js`, oEmbed,
 * and the embedding origin a session carries to the admin's live list.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { adminHeaders, contentDeps } from '../../test/content.ts'
import { BACKENDS, type Backend, openBackend, req } from '../../test/harness.ts'
import { connect, startServer } from '../../test/terminal-kit.ts'
import { type AppDeps, createApp } from '../app.ts'
import { loadConfig } from '../config.ts'
import { renderMarkdown } from '../posts/render.ts'
import { seedContent } from '../seed.ts'

type Json = { data: any; meta: unknown; error: any }
const json = async (res: Response) => (await res.json()) as Json

const EMBEDDERS = 'https://blog.example, http://127.0.0.1:8123'
const MINIRT = 'make && ./miniRT scenes/demo.rt'
const block = (info: string, command = MINIRT) => `Try it:\n\n\`\`\`${info}\n${command}\n\`\`\`\n`

/** A stand-in built site (index.html and a server bundle that echoes the URL), as web.test.ts uses. */
function standInSite(): string {
  const dist = mkdtempSync(join(tmpdir(), 'shellfolio-embed-'))
  mkdirSync(join(dist, 'server'))
  writeFileSync(
    join(dist, 'index.html'),
    '<!doctype html><html><head><!--ssr-head--></head><body><div id="root"><!--ssr-body--></div></body></html>',
  )
  writeFileSync(
    join(dist, 'server/entry-server.js'),
    `export async function render({ url, nonce }) {
      return { status: 200, head: '<title>t</title>', body: '<h1>' + url + '</h1>', scripts: '<script nonce="' + nonce + '"></script>' }
    }`,
  )
  return dist
}

const frameAncestors = (res: Response) =>
  /frame-ancestors ([^;]*)/.exec(res.headers.get('content-security-policy') ?? '')?.[1]?.trim()

describe('runnable blocks: the renderer', () => {
  const live = new Set(['minirt'])

  test('a block of a live project is its command and a Run button, with only the data the client needs', () => {
    const html = renderMarkdown(block('shellfolio project=minirt'), { projects: live })
    expect(html).toBe(
      '<p>Try it:</p>\n' +
        '<div class="shellfolio-run" data-project="minirt" data-command="make &amp;&amp; ./miniRT scenes/demo.rt">' +
        '<pre><code class="language-shell">make &amp;&amp; ./miniRT scenes/demo.rt</code></pre>' +
        '<button type="button" class="shellfolio-run-button">Run</button></div>',
    )
  })

  test('an unknown or malformed project is a clear message, never a Run button or a broken post', () => {
    const unknown = renderMarkdown(`${block('shellfolio project=nope')}\nAfter.`, { projects: live })
    expect(unknown).toContain('This terminal cannot run: unknown project “nope”.')
    expect(unknown).toContain('class="shellfolio-run shellfolio-run-missing"')
    expect(unknown).not.toContain('<button')
    expect(unknown).toContain('<p>After.</p>')
    const none = renderMarkdown(block('shellfolio'), { projects: live })
    expect(none).toContain('unknown project (none given)')
    expect(none).not.toContain('data-project')
  })

  test('hostile input inside a block: attributes in the info string, markup in the command, a hostile slug', () => {
    const html = renderMarkdown(
      block(
        'shellfolio project=minirt onclick=alert(1) class=x style=color:red data-x=1',
        'echo "><img src=x onerror=alert(2)><script>alert(3)</script>\' &',
      ),
      { projects: live },
    )
    const doc = new HTMLRewriterProbe(html)
    expect(doc.attributes()).toEqual([
      'div:class',
      'div:data-project',
      'div:data-command',
      'code:class',
      'button:type',
      'button:class',
    ])
    // The markup in the command is text (escaped), never an element or an attribute.
    expect(html).not.toMatch(/<img|<script/)
    expect(html).toContain(
      'data-command="echo &quot;&gt;&lt;img src=x onerror=alert(2)&gt;&lt;script&gt;alert(3)&lt;/script&gt;\' &amp;"',
    )
    const slug = renderMarkdown(block('shellfolio project=x"><script>alert(1)</script>'), { projects: live })
    expect(slug).not.toMatch(/<script|data-project/)
    expect(slug).toContain('unknown project')
  })

  test('the same markup written as raw HTML is not a runnable block: its attributes and button are removed', () => {
    const forged =
      '<div class="shellfolio-run" data-project="minirt" data-command="rm -rf ~" data-sf-run="guess" onclick="x()">' +
      '<p class="shellfolio-run-message">hi</p><button class="shellfolio-run-button" onclick="y()">Run</button></div>'
    const html = renderMarkdown(forged, { projects: live })
    expect(html).toBe('<div><p>hi</p><span>Run</span></div>')
  })

  test("a block's command is bounded", () => {
    const html = renderMarkdown(block('shellfolio project=minirt', 'x'.repeat(5000)), { projects: live })
    expect(/data-command="(x*)"/.exec(html)?.[1]?.length).toBe(2000)
  })
})

/** The attribute names in an HTML string, as `tag:attr`, in document order (Bun's HTMLRewriter). */
class HTMLRewriterProbe {
  constructor(private readonly html: string) {}
  attributes(): string[] {
    const seen: string[] = []
    new HTMLRewriter()
      .on('*', {
        element(el) {
          for (const [name] of el.attributes) seen.push(`${el.tagName}:${name}`)
        },
      })
      .transform(this.html)
    return seen
  }
}

describe('EMBED_ORIGINS', () => {
  test('a list of origins; anything that is not an origin stops the start with its name', () => {
    const base = { JWT_SECRET: 'x'.repeat(40), DATA_DIR: '/tmp/x' }
    expect(loadConfig({ ...base, EMBED_ORIGINS: EMBEDDERS }).embedOrigins).toEqual([
      'https://blog.example',
      'http://127.0.0.1:8123',
    ])
    expect(loadConfig(base).embedOrigins).toEqual([])
    for (const bad of ['blog.example', "https://a.example 'unsafe-inline'", 'https://a.example;script-src *', '*']) {
      expect(() => loadConfig({ ...base, EMBED_ORIGINS: bad })).toThrow(/EMBED_ORIGINS/)
    }
  })
})

describe.each(BACKENDS)('posts, embed page and oEmbed on %s', (kind) => {
  let backend: Backend
  let deps: AppDeps
  let app: ReturnType<typeof createApp>
  let closed: ReturnType<typeof createApp>
  let admin: { authorization: string }
  let dist: string

  beforeAll(async () => {
    backend = await openBackend(kind)
    dist = standInSite()
    deps = contentDeps(backend, { EMBED_ORIGINS: EMBEDDERS, WEB_DIST: dist })
    app = createApp(deps)
    closed = createApp(contentDeps(backend, { WEB_DIST: dist }))
    admin = await adminHeaders(deps)
    await seedContent({
      db: backend.database.db,
      cache: backend.cache,
      config: { ...deps.config, adminEmail: 'content-admin@shellfolio.test' },
    })
  }, 60_000)
  afterAll(async () => {
    await backend.close()
    rmSync(dist, { recursive: true, force: true })
  })

  const post = async (slug: string, markdown: string) => {
    const res = await app.handle(
      req('/api/v1/posts', {
        method: 'POST',
        headers: admin,
        json: { slug: `${slug}-${kind}`, title: 'Runnable', markdown, status: 'published' },
      }),
    )
    expect(res.status).toBe(201)
    return (await json(await app.handle(req(`/api/v1/posts/${slug}-${kind}`)))).data.html as string
  }
  const preview = async (markdown: string) =>
    (await json(await app.handle(req('/api/v1/site/preview', { method: 'POST', headers: admin, json: { markdown } }))))
      .data.html as string

  test('a published post shows the block with its Run button; the editor preview is the same', async () => {
    const markdown = block('shellfolio project=minirt')
    const html = await post('runnable', markdown)
    expect(html).toContain('<div class="shellfolio-run" data-project="minirt" data-command="make &amp;&amp; ./miniRT')
    expect(html).toContain('<button type="button" class="shellfolio-run-button">Run</button>')
    expect(await preview(markdown)).toBe(html)
  })

  test('an unknown project: the post is saved and published with a message, in the preview too', async () => {
    const markdown = `${block('shellfolio project=no-such-project')}\nThe rest of the post.`
    const html = await post('unknown-project', markdown)
    expect(html).toContain('This terminal cannot run: unknown project “no-such-project”.')
    expect(html).toContain('<p>The rest of the post.</p>')
    expect(html).not.toContain('<button')
    expect(await preview(markdown)).toBe(html)
    // A deleted project is unknown to posts saved after its deletion.
    const projects = (await json(await app.handle(req('/api/v1/projects?include=deleted', { headers: admin })))).data
    const calc = projects.find((p: { slug: string }) => p.slug === 'calc')
    await app.handle(req(`/api/v1/projects/${calc.id}`, { method: 'DELETE', headers: admin }))
    try {
      expect(await preview(block('shellfolio project=calc'))).toContain('unknown project “calc”')
    } finally {
      await app.handle(req(`/api/v1/projects/${calc.id}/restore`, { method: 'POST', headers: admin }))
    }
    expect(await preview(block('shellfolio project=calc'))).toContain('<button')
  })

  test('the embed page may be framed by EMBED_ORIGINS only; every other page by nobody', async () => {
    const embed = await app.handle(req('/embed/minirt'))
    expect(embed.status).toBe(200)
    expect(frameAncestors(embed)).toBe('https://blog.example http://127.0.0.1:8123')
    expect(embed.headers.get('x-frame-options')).toBeNull()
    // The rest of the CSP is the site's own (script nonce included).
    expect(embed.headers.get('content-security-policy')).toMatch(/script-src 'self' 'wasm-unsafe-eval' 'nonce-/)
    // A revalidation must not bring X-Frame-Options back.
    const again = await app.handle(req('/embed/minirt', { headers: { 'if-none-match': embed.headers.get('etag')! } }))
    expect(again.status).toBe(304)
    expect(again.headers.get('x-frame-options')).toBeNull()

    for (const path of ['/', '/projects/minirt', '/blog', '/embed/minirt/more', '/embed.js', '/api/v1/site']) {
      const res = await app.handle(req(path))
      expect({ path, ancestors: frameAncestors(res), xfo: res.headers.get('x-frame-options') }).toEqual({
        path,
        ancestors: "'none'",
        xfo: 'DENY',
      })
    }
    // Without EMBED_ORIGINS nobody may frame the embed page either.
    const off = await closed.handle(req('/embed/minirt'))
    expect({ ancestors: frameAncestors(off), xfo: off.headers.get('x-frame-options') }).toEqual({
      ancestors: "'none'",
      xfo: 'DENY',
    })
  })

  test('/embed.js defines <shellfolio-terminal> and is cacheable', async () => {
    const res = await app.handle(req('/embed.js'))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin')
    const source = await res.text()
    expect(source).toContain("customElements.define('shellfolio-terminal'")
    expect(source).toContain("'/embed/' + project")
    expect(source).toContain("data.type !== 'shellfolio:height'")
    const again = await app.handle(req('/embed.js', { headers: { 'if-none-match': res.headers.get('etag')! } }))
    expect(again.status).toBe(304)
  })

  test('oEmbed: a project URL of this site is a rich iframe on its embed page', async () => {
    const url = encodeURIComponent('http://localhost/projects/minirt')
    const res = await app.handle(req(`/oembed?url=${url}&format=json`))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toStartWith('application/json')
    const body = (await res.json()) as { html: string }
    expect(body).toMatchObject({
      version: '1.0',
      type: 'rich',
      title: 'miniRT',
      provider_url: 'http://localhost/',
      width: 720,
      height: 540,
    })
    expect(body.html).toBe(
      '<iframe src="http://localhost/embed/minirt" width="720" height="540" title="Live terminal: miniRT" ' +
        'style="border:0" allow="clipboard-read; clipboard-write; fullscreen" loading="lazy"></iframe>',
    )
    // format defaults to json; maxwidth/maxheight shrink the frame; the embed URL works as input too.
    const small = (await (
      await app.handle(
        req(`/oembed?url=${encodeURIComponent('http://localhost/embed/minirt')}&maxwidth=400&maxheight=300`),
      )
    ).json()) as { html: string }
    expect(small).toMatchObject({ width: 400, height: 300 })
    expect(small.html).toContain('width="400" height="300"')
  })

  test('oEmbed errors: 404 unknown project or page, 501 other formats, 400 foreign or malformed URLs', async () => {
    const cases: [string, number, string][] = [
      ['http://localhost/projects/no-such-project', 404, 'PROJECT_NOT_FOUND'],
      ['http://localhost/blog/hello', 404, 'PROJECT_NOT_FOUND'],
      ['https://evil.example/projects/minirt', 400, 'FOREIGN_URL'],
      ['javascript:alert(1)//localhost/projects/minirt', 400, 'FOREIGN_URL'],
      ['not a url', 400, 'FOREIGN_URL'],
    ]
    for (const [url, status, code] of cases) {
      const res = await app.handle(req(`/oembed?url=${encodeURIComponent(url)}`))
      const body = await json(res)
      expect({ url, status: res.status, code: body.error?.code }).toEqual({ url, status, code })
    }
    const xml = await app.handle(
      req(`/oembed?url=${encodeURIComponent('http://localhost/projects/minirt')}&format=xml`),
    )
    expect({ status: xml.status, code: (await json(xml)).error.code }).toEqual({
      status: 501,
      code: 'FORMAT_NOT_IMPLEMENTED',
    })
    const tiny = await app.handle(
      req(`/oembed?url=${encodeURIComponent('http://localhost/projects/minirt')}&maxwidth=10`),
    )
    expect({ status: tiny.status, code: (await json(tiny)).error.code }).toEqual({
      status: 400,
      code: 'EMBED_TOO_SMALL',
    })
    for (const query of [
      '',
      '?url=',
      `?url=${'x'.repeat(3000)}`,
      '?url=http://localhost/projects/minirt&maxwidth=1e3',
    ]) {
      const res = await app.handle(req(`/oembed${query}`))
      expect({ query, status: res.status, code: (await json(res)).error.code }).toEqual({
        query,
        status: 400,
        code: 'VALIDATION_FAILED',
      })
    }
  })

  test('a session opened from an embed shows the embedding origin in the admin live list', async () => {
    await using server = await startServer(backend)
    const refused = await server.create({
      project: 'demo',
      runner: 'wasi',
      origin: `https://${'a'.repeat(300)}.example`,
    })
    expect({ status: refused.status, code: (await json(refused)).error.code }).toEqual({
      status: 400,
      code: 'VALIDATION_FAILED',
    })
    const bad = await server.create({ project: 'demo', runner: 'wasi', origin: 'https://x.example/"><script>' })
    expect(bad.status).toBe(400)

    const { client, sessionId } = await connect(server, {
      project: 'demo',
      runner: 'wasi',
      origin: 'https://blog.example',
    } as { project: string })
    using _ = client
    await client.control('ready', 20_000)
    const token = await server.adminToken()
    const live = await fetch(`${server.url}/api/v1/terminal/sessions`, {
      headers: { authorization: `Bearer ${token}` },
    })
    const mine = (await json(live)).data.find((s: { id: string }) => s.id === sessionId)
    expect(mine).toMatchObject({ id: sessionId, project: 'demo', origin: 'https://blog.example' })
    // A session opened on the site itself carries none.
    const { client: plain, sessionId: plainId } = await connect(server)
    using __ = plain
    await plain.control('ready', 20_000)
    const again = await fetch(`${server.url}/api/v1/terminal/sessions`, {
      headers: { authorization: `Bearer ${token}` },
    })
    expect((await json(again)).data.find((s: { id: string }) => s.id === plainId).origin).toBeUndefined()
  })
})
