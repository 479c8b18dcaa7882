import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { adminHeaders, contentDeps } from '../../test/content.ts'
import { BACKENDS, type Backend, openBackend, req } from '../../test/harness.ts'
import { type AppDeps, createApp } from '../app.ts'
import { posts as postsTable } from '../db/schema/index.ts'
import { createCursorCodec } from './cursor.ts'
import { renderMarkdown } from './render.ts'

type Json = { data: any; meta: any; error: any }
const json = async (res: Response) => (await res.json()) as Json

/** Asserts the success envelope and returns it. */
async function okEnvelope(res: Response, status = 200): Promise<Json> {
  const body = await json(res)
  expect({ status: res.status, error: body.error }).toEqual({ status, error: null })
  expect(Object.keys(body).sort()).toEqual(['data', 'error', 'meta'])
  return body
}

/** Asserts the error envelope with a stable code. */
async function errEnvelope(res: Response, status: number, code: string): Promise<Json> {
  const body = await json(res)
  expect({ status: res.status, code: body.error?.code }).toEqual({ status, code })
  expect(body.data).toBeNull()
  expect(body.error.requestId).toBe(res.headers.get('x-request-id'))
  return body
}

let counter = 0
const uniqueSlug = (base: string) => `${base}-${(++counter).toString(36)}-${Date.now().toString(36)}`

describe.each(BACKENDS)('posts on %s', (kind) => {
  let backend: Backend
  let deps: AppDeps
  let app: ReturnType<typeof createApp>
  let admin: { authorization: string }

  const create = async (body: Record<string, unknown>) =>
    app.handle(req('/api/v1/posts', { method: 'POST', headers: admin, json: body }))
  const publish = async (extra: Record<string, unknown> = {}) => {
    const res = await create({
      slug: uniqueSlug('post'),
      title: 'A post',
      markdown: 'Hello **world**',
      status: 'published',
      ...extra,
    })
    return (await okEnvelope(res, 201)).data
  }

  beforeAll(async () => {
    backend = await openBackend(kind)
    deps = contentDeps(backend)
    app = createApp(deps)
    admin = await adminHeaders(deps)
  }, 60_000)
  afterAll(() => backend.close())

  test('admin create answers 201 with the rendered post in the envelope', async () => {
    const slug = uniqueSlug('first')
    const res = await create({
      slug,
      title: 'First',
      summary: 'sum',
      markdown: '# Title\n\nSome *text*.',
      tags: ['C', ' c ', 'WASM'],
      status: 'published',
    })
    const { data, meta } = await okEnvelope(res, 201)
    expect(meta).toBeNull()
    expect(data).toMatchObject({
      slug,
      title: 'First',
      summary: 'sum',
      markdown: '# Title\n\nSome *text*.',
      html: '<h1>Title</h1>\n<p>Some <em>text</em>.</p>',
      tags: ['c', 'wasm'],
      status: 'published',
      deletedAt: null,
    })
    expect(data.author).toEqual({ id: expect.any(String), name: 'Admin' })
    expect(Date.parse(data.publishedAt)).toBeGreaterThan(Date.now() - 60_000)

    const page = await okEnvelope(await app.handle(req(`/api/v1/posts/${slug}`)))
    expect(page.data).toEqual({
      id: data.id,
      slug,
      title: 'First',
      summary: 'sum',
      tags: ['c', 'wasm'],
      publishedAt: data.publishedAt,
      author: data.author,
      html: data.html,
      updatedAt: data.updatedAt,
    })
  })

  test('every admin route refuses a request without a token (401 envelope) and a bad token', async () => {
    const id = '00000000-0000-4000-8000-000000000000'
    const calls: [string, string, unknown?][] = [
      ['POST', '/api/v1/posts', { slug: 'x', title: 'x', markdown: 'x' }],
      ['PATCH', `/api/v1/posts/${id}`, { title: 'x' }],
      ['DELETE', `/api/v1/posts/${id}`],
      ['POST', `/api/v1/posts/${id}/restore`],
      ['GET', `/api/v1/posts/by-id/${id}`],
      ['GET', '/api/v1/posts?include=deleted'],
      ['GET', '/api/v1/posts?status=draft'],
    ]
    for (const [method, path, body] of calls) {
      const res = await app.handle(req(path, { method, ...(body ? { json: body } : {}) }))
      const env = await json(res)
      expect({ method, path, status: res.status, code: env.error?.code, data: env.data }).toEqual({
        method,
        path,
        status: 401,
        code: expect.stringMatching(/^[A-Z_]+$/),
        data: null,
      })
      const forged = await app.handle(
        req(path, { method, headers: { authorization: 'Bearer abc.def.ghi' }, ...(body ? { json: body } : {}) }),
      )
      expect(forged.status).toBe(401)
    }
  })

  test('drafts are hidden from the public and listed for admins', async () => {
    const draft = (await okEnvelope(await create({ slug: uniqueSlug('draft'), title: 'D', markdown: 'd' }), 201)).data
    expect(draft.status).toBe('draft')
    expect(draft.publishedAt).toBeNull()
    await errEnvelope(await app.handle(req(`/api/v1/posts/${draft.slug}`)), 404, 'POST_NOT_FOUND')
    const pub = await okEnvelope(await app.handle(req('/api/v1/posts?limit=100')))
    expect(pub.data.map((p: { id: string }) => p.id)).not.toContain(draft.id)
    const adminList = await okEnvelope(
      await app.handle(req('/api/v1/posts?status=draft&limit=100', { headers: admin })),
    )
    expect(adminList.data.map((p: { id: string }) => p.id)).toContain(draft.id)
    expect(adminList.data.every((p: { status: string }) => p.status === 'draft')).toBe(true)
    const byId = await okEnvelope(await app.handle(req(`/api/v1/posts/by-id/${draft.id}`, { headers: admin })))
    expect(byId.data).toEqual(draft)
  })

  test('PATCH edits, re-renders, and publishing sets published_at', async () => {
    const draft = (await okEnvelope(await create({ slug: uniqueSlug('edit'), title: 'E', markdown: 'old' }), 201)).data
    const res = await app.handle(
      req(`/api/v1/posts/${draft.id}`, {
        method: 'PATCH',
        headers: admin,
        json: { title: 'Edited', markdown: '*new*', status: 'published' },
      }),
    )
    const { data } = await okEnvelope(res)
    expect(data).toMatchObject({ id: draft.id, title: 'Edited', html: '<p><em>new</em></p>', status: 'published' })
    expect(data.publishedAt).not.toBeNull()
    const page = await okEnvelope(await app.handle(req(`/api/v1/posts/${draft.slug}`)))
    expect(page.data.title).toBe('Edited')
    const empty = await app.handle(req(`/api/v1/posts/${draft.id}`, { method: 'PATCH', headers: admin, json: {} }))
    await errEnvelope(empty, 400, 'VALIDATION_FAILED')
    const missing = await app.handle(
      req('/api/v1/posts/00000000-0000-4000-8000-000000000000', {
        method: 'PATCH',
        headers: admin,
        json: { title: 'x' },
      }),
    )
    await errEnvelope(missing, 404, 'POST_NOT_FOUND')
  })

  test('a slug conflict is a 409 envelope, on create and on edit; a deleted post frees its slug', async () => {
    const a = await publish()
    await errEnvelope(await create({ slug: a.slug, title: 'dup', markdown: 'x' }), 409, 'SLUG_TAKEN')
    const b = await publish()
    await errEnvelope(
      await app.handle(req(`/api/v1/posts/${b.id}`, { method: 'PATCH', headers: admin, json: { slug: a.slug } })),
      409,
      'SLUG_TAKEN',
    )
    await okEnvelope(await app.handle(req(`/api/v1/posts/${a.id}`, { method: 'DELETE', headers: admin })))
    const reused = await okEnvelope(await create({ slug: a.slug, title: 'reuse', markdown: 'x' }), 201)
    expect(reused.data.slug).toBe(a.slug)
    // Restoring the original now collides with the live post that took its slug.
    await errEnvelope(
      await app.handle(req(`/api/v1/posts/${a.id}/restore`, { method: 'POST', headers: admin })),
      409,
      'SLUG_TAKEN',
    )
  })

  test('soft-deleted posts never appear publicly (list, page, cached copies) and restore brings them back', async () => {
    const post = await publish({ title: 'Soon deleted' })
    // Warm the caches first so a stale copy would show.
    const before = await okEnvelope(await app.handle(req('/api/v1/posts?limit=100')))
    expect(before.data.map((p: { id: string }) => p.id)).toContain(post.id)
    await okEnvelope(await app.handle(req(`/api/v1/posts/${post.slug}`)))

    const deleted = await okEnvelope(
      await app.handle(req(`/api/v1/posts/${post.id}`, { method: 'DELETE', headers: admin })),
    )
    expect(deleted.data.deletedAt).not.toBeNull()
    const list = await okEnvelope(await app.handle(req('/api/v1/posts?limit=100')))
    expect(list.data.map((p: { id: string }) => p.id)).not.toContain(post.id)
    await errEnvelope(await app.handle(req(`/api/v1/posts/${post.slug}`)), 404, 'POST_NOT_FOUND')
    // A second app over the same cache (another instance) does not see it either.
    const other = createApp(contentDeps(backend))
    await errEnvelope(await other.handle(req(`/api/v1/posts/${post.slug}`)), 404, 'POST_NOT_FOUND')
    // Deleting again is harmless; editing a deleted post is a 404.
    await okEnvelope(await app.handle(req(`/api/v1/posts/${post.id}`, { method: 'DELETE', headers: admin })))
    await errEnvelope(
      await app.handle(req(`/api/v1/posts/${post.id}`, { method: 'PATCH', headers: admin, json: { title: 'x' } })),
      404,
      'POST_NOT_FOUND',
    )
    const withDeleted = await okEnvelope(
      await app.handle(req('/api/v1/posts?include=deleted&limit=100', { headers: admin })),
    )
    expect(withDeleted.data.find((p: { id: string }) => p.id === post.id)?.deletedAt).toBeString()
    const liveOnly = await okEnvelope(
      await app.handle(req('/api/v1/posts?status=published&limit=100', { headers: admin })),
    )
    expect(liveOnly.data.map((p: { id: string }) => p.id)).not.toContain(post.id)
    // The admin list answers the admin shape for live posts too (status, source, dates).
    for (const row of liveOnly.data as Record<string, unknown>[]) {
      expect(Object.keys(row)).toEqual(expect.arrayContaining(['status', 'markdown', 'updatedAt', 'deletedAt']))
    }

    const restored = await okEnvelope(
      await app.handle(req(`/api/v1/posts/${post.id}/restore`, { method: 'POST', headers: admin })),
    )
    expect(restored.data.deletedAt).toBeNull()
    const page = await okEnvelope(await app.handle(req(`/api/v1/posts/${post.slug}`)))
    expect(page.data.id).toBe(post.id)
  })

  test('XSS payloads in markdown are neutralised on write', async () => {
    const payloads = [
      '<script>alert(1)</script>',
      '<img src=x onerror=alert(1)>',
      '[click](javascript:alert(1))',
      '[click](JaVaScRiPt:alert(1))',
      '[click](  javascript:alert(1))',
      '[x](&#106;avascript:alert(1))',
      '<svg onload=alert(1)><circle/></svg>',
      '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">d</a>',
      '![i](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)',
      '<iframe src="https://evil.example"></iframe>',
      '<div style="background:url(javascript:alert(1))" onclick="alert(1)">x</div>',
      '<a href="vbscript:msgbox(1)">v</a>',
      '<math><mi xlink:href="javascript:alert(1)">m</mi></math>',
      '<form action="https://evil.example"><input name=a></form>',
      '<details open ontoggle=alert(1)>',
      '<object data="x.swf"></object><embed src="x.swf">',
      '"><script>alert(1)</script>',
      '<scr<script>ipt>alert(1)</script>',
      '<a href="https://ok.example" onmouseover="alert(1)" target="_blank">ok</a>',
    ]
    const res = await create({
      slug: uniqueSlug('xss'),
      title: 'xss',
      markdown: payloads.join('\n\n'),
      status: 'published',
    })
    const { data } = await okEnvelope(res, 201)
    const html: string = data.html
    expect(html).not.toMatch(/<script/i)
    expect(html).not.toMatch(/<svg|<iframe|<math|<form|<object|<embed|<style/i)
    expect(html).not.toMatch(/\son[a-z]+\s*=/i)
    expect(html).not.toMatch(/javascript:|vbscript:|data:/i)
    expect(html).not.toMatch(/style=/i)
    expect(html).toContain('<a href="https://ok.example" rel="noopener noreferrer">ok</a>')
    // Every link carries rel="noopener noreferrer".
    for (const a of html.match(/<a\b[^>]*>/g) ?? []) expect(a).toContain('rel="noopener noreferrer"')
    // The public page serves exactly the stored, sanitized HTML.
    const page = await okEnvelope(await app.handle(req(`/api/v1/posts/${data.slug}`)))
    expect(page.data.html).toBe(html)
    // Highlighted code (spans) still shows the markup as text, never as a tag.
    const code = renderMarkdown('```html\n<script>alert(1)</script>\n```')
    expect(code).toStartWith('<pre><code class="hljs language-html">')
    expect(code).not.toMatch(/<script/i)
    expect(code.replace(/<[^>]+>/g, '')).toBe('&lt;script&gt;alert(1)&lt;/script&gt;')
  })

  test('heading ids are kept only with the user-content- prefix, so a post cannot name page elements', () => {
    const html = renderMarkdown(
      [
        '<h2 id="root">clobbers #root</h2>',
        '<h3 id="site-data">and the page data</h3>',
        '<h2 id="user-content-intro">already prefixed</h2>',
        '<h4 id="bad id&quot;>">not a word</h4>',
        '<h2 id="">empty</h2>',
        '## Plain heading',
      ].join('\n\n'),
    )
    expect(html).toContain('<h2 id="user-content-root">clobbers #root</h2>')
    expect(html).toContain('<h3 id="user-content-site-data">and the page data</h3>')
    expect(html).toContain('<h2 id="user-content-intro">already prefixed</h2>')
    expect(html).toContain('<h4>not a word</h4>')
    expect(html).toContain('<h2>empty</h2>')
    expect(html).toContain('<h2>Plain heading</h2>')
    // No id anywhere without the prefix.
    for (const m of html.matchAll(/\sid="([^"]*)"/g)) expect(m[1]).toStartWith('user-content-')
  })

  test('SQL-looking input is stored as data', async () => {
    const nasty = "Robert'); DROP TABLE posts; --"
    const res = await create({
      slug: uniqueSlug('sql'),
      title: nasty,
      summary: "' OR 1=1 --",
      markdown: `${nasty}\n\n1; DELETE FROM users WHERE '1'='1`,
      tags: ["x'--"],
      status: 'published',
    })
    const { data } = await okEnvelope(res, 201)
    expect(data.title).toBe(nasty)
    expect(data.summary).toBe("' OR 1=1 --")
    expect(data.tags).toEqual(["x'--"])
    const page = await okEnvelope(await app.handle(req(`/api/v1/posts/${data.slug}`)))
    expect(page.data.title).toBe(nasty)
    // Still there, and so is everything else.
    const rows = await backend.database.db.select({ id: postsTable.id }).from(postsTable)
    expect(rows.length).toBeGreaterThan(1)
    await errEnvelope(await app.handle(req("/api/v1/posts/x'%20OR%20'1'='1")), 404, 'POST_NOT_FOUND')
    const cursorInjection = await app.handle(
      req(`/api/v1/posts?cursor=${encodeURIComponent("'; DROP TABLE posts; --")}`),
    )
    await errEnvelope(cursorInjection, 400, 'INVALID_CURSOR')
  })

  test('invalid bodies are refused with 400 envelopes (slug shape, unknown status, bad tags)', async () => {
    for (const body of [
      { slug: 'Has Spaces', title: 't', markdown: 'm' },
      { slug: 'ok-slug', title: '', markdown: 'm' },
      { slug: 'ok-slug', title: 't', markdown: 'm', status: 'secret' },
      { slug: 'ok-slug', title: 't', markdown: 'm', tags: ['<b>'] },
      { slug: 'ok-slug', title: 't' },
      { slug: 'ok-slug', title: 't', markdown: 'm', publishedAt: 'yesterday' },
    ]) {
      await errEnvelope(await create(body), 400, 'VALIDATION_FAILED')
    }
  })

  test('limit is a strict integer from 1 to 100', async () => {
    for (const q of [
      'limit=1e2',
      'limit=0',
      'limit=101',
      'limit=abc',
      'limit=-1',
      'limit=1.5',
      'limit=01',
      'limit=',
      'limit=5&limit=6',
      'limit=%2010',
    ]) {
      const res = await app.handle(req(`/api/v1/posts?${q}`))
      const body = await errEnvelope(res, 400, 'VALIDATION_FAILED')
      expect(body.error.details[0].path).toBe('/limit')
    }
    for (const n of [1, 7, 100]) {
      const res = await okEnvelope(await app.handle(req(`/api/v1/posts?limit=${n}`)))
      expect(res.data.length).toBeLessThanOrEqual(n)
    }
  })

  test('a tampered, truncated or foreign cursor is a 400 envelope', async () => {
    await publish()
    await publish()
    const first = await okEnvelope(await app.handle(req('/api/v1/posts?limit=1')))
    const cursor: string = first.meta.nextCursor
    expect(cursor).toBeString()
    const [payload, mac] = cursor.split('.') as [string, string]
    const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString())
    const forgedPayload = Buffer.from(
      JSON.stringify({ ...decoded, i: '00000000-0000-4000-8000-000000000000' }),
    ).toString('base64url')
    const flipped = mac.slice(0, -2) + (mac.at(-2) === 'A' ? 'B' : 'A') + mac.at(-1)
    for (const bad of [`${forgedPayload}.${mac}`, `${payload}.${flipped}`, payload, `${cursor}.x`, 'abc', '...']) {
      await errEnvelope(await app.handle(req(`/api/v1/posts?cursor=${encodeURIComponent(bad)}`)), 400, 'INVALID_CURSOR')
    }
    // A cursor signed with another secret is refused.
    const foreign = createCursorCodec('another-secret-that-is-long-enough-0123456789').encode('public', {
      at: decoded.a,
      id: decoded.i,
    })
    await errEnvelope(await app.handle(req(`/api/v1/posts?cursor=${foreign}`)), 400, 'INVALID_CURSOR')
    // An admin-listing cursor cannot be replayed on the public listing.
    const adminPage = await okEnvelope(
      await app.handle(req('/api/v1/posts?status=published&limit=1', { headers: admin })),
    )
    await errEnvelope(await app.handle(req(`/api/v1/posts?cursor=${adminPage.meta.nextCursor}`)), 400, 'INVALID_CURSOR')
  })

  test('paging through 250 posts finds each exactly once while new posts are published', async () => {
    // A fresh database so the count is exact; same published_at for groups of 5 to exercise the id tie-break.
    const own = await openBackend(kind)
    try {
      const ownDeps = contentDeps(own, { LOG_LEVEL: 'error' })
      const ownApp = createApp(ownDeps)
      const ownAdmin = await adminHeaders(ownDeps)
      const base = Date.now() - 3600_000
      const html = renderMarkdown('body')
      const rows = Array.from({ length: 250 }, (_, i) => ({
        slug: `bulk-${i}`,
        title: `Bulk ${i}`,
        bodyMarkdown: 'body',
        bodyHtml: html,
        status: 'published' as const,
        publishedAt: new Date(base + Math.floor(i / 5) * 1000),
      }))
      await own.database.db.insert(postsTable).values(rows)
      // A draft and a deleted post in the middle must not show.
      await own.database.db.insert(postsTable).values([
        {
          slug: 'bulk-draft',
          title: 'd',
          bodyMarkdown: '',
          bodyHtml: '',
          status: 'draft',
          publishedAt: new Date(base),
        },
        {
          slug: 'bulk-deleted',
          title: 'x',
          bodyMarkdown: '',
          bodyHtml: '',
          status: 'published',
          publishedAt: new Date(base + 5000),
          deletedAt: new Date(),
        },
      ])

      const seen: string[] = []
      let cursor: string | null = null
      let pages = 0
      let added = 0
      const pending: Promise<Response>[] = []
      do {
        const path: string = `/api/v1/posts?limit=17${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`
        const page = await okEnvelope(await ownApp.handle(req(path)))
        seen.push(...page.data.map((p: { slug: string }) => p.slug))
        cursor = page.meta.nextCursor
        pages++
        // Meanwhile, new posts are published (one synchronously, one racing the next page).
        const racing = ownApp.handle(
          req('/api/v1/posts', {
            method: 'POST',
            headers: ownAdmin,
            json: { slug: `new-${pages}`, title: 'new', markdown: 'n', status: 'published' },
          }),
        )
        if (pages % 2 === 0) await racing
        pending.push(racing)
        added++
      } while (cursor && pages < 100)
      expect((await Promise.all(pending)).map((r) => r.status)).toEqual(pending.map(() => 201))
      const bulk = seen.filter((s) => s.startsWith('bulk-'))
      expect(new Set(seen).size).toBe(seen.length) // no duplicates
      expect(bulk.sort()).toEqual(rows.map((r) => r.slug).sort()) // no gaps, nothing hidden shown
      expect(added).toBeGreaterThan(10)
      // Newest first, ties by id descending.
      const first = await okEnvelope(await ownApp.handle(req('/api/v1/posts?limit=100')))
      const stamps = first.data.map((p: { publishedAt: string }) => Date.parse(p.publishedAt))
      expect([...stamps].sort((a, b) => b - a)).toEqual(stamps)
    } finally {
      await own.close()
    }
  }, 120_000)

  test('public GETs carry an ETag and answer 304 to a matching If-None-Match', async () => {
    const post = await publish()
    const list = await app.handle(req('/api/v1/posts?limit=5'))
    const etag = list.headers.get('etag')
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/)
    const again = await app.handle(req('/api/v1/posts?limit=5', { headers: { 'if-none-match': etag! } }))
    expect(again.status).toBe(304)
    expect(await again.text()).toBe('')
    expect(again.headers.get('etag')).toBe(etag)

    const page = await app.handle(req(`/api/v1/posts/${post.slug}`))
    const pageTag = page.headers.get('etag')!
    const weak = await app.handle(
      req(`/api/v1/posts/${post.slug}`, { headers: { 'if-none-match': `W/${pageTag}, "x"` } }),
    )
    expect(weak.status).toBe(304)
    const stale = await app.handle(req(`/api/v1/posts/${post.slug}`, { headers: { 'if-none-match': '"nope"' } }))
    expect(stale.status).toBe(200)
    // An edit changes the ETag.
    await okEnvelope(
      await app.handle(
        req(`/api/v1/posts/${post.id}`, { method: 'PATCH', headers: admin, json: { title: 'changed' } }),
      ),
    )
    const changed = await app.handle(req(`/api/v1/posts/${post.slug}`, { headers: { 'if-none-match': pageTag } }))
    expect(changed.status).toBe(200)
    expect(changed.headers.get('etag')).not.toBe(pageTag)
  })

  test('an edit on one instance invalidates the cache of another instance sharing the cache store', async () => {
    const peer = await backend.openPeerCache()
    const appA = createApp({ ...contentDeps(backend), cache: peer })
    const appB = createApp(contentDeps(backend))
    const post = await publish({ title: 'Before' })
    // Instance A caches the page and the list.
    expect((await okEnvelope(await appA.handle(req(`/api/v1/posts/${post.slug}`)))).data.title).toBe('Before')
    expect(
      (await okEnvelope(await appA.handle(req('/api/v1/posts?limit=100')))).data.map((p: any) => p.title),
    ).toContain('Before')
    // Listen where A listens; a probe round-trip proves the subscription is live before B writes.
    const channel = 'read:posts:invalidate'
    const messages: string[] = []
    let notify: () => void = () => {}
    const unsubscribe = await peer.subscribe(channel, (m) => {
      messages.push(m)
      notify()
    })
    const waitFor = (n: number) =>
      new Promise<void>((resolve) => {
        notify = () => messages.length >= n && resolve()
        notify()
      })
    await backend.cache.publish(channel, '0')
    await waitFor(1)

    await okEnvelope(
      await appB.handle(req(`/api/v1/posts/${post.id}`, { method: 'PATCH', headers: admin, json: { title: 'After' } })),
    )
    await waitFor(2)
    expect((await okEnvelope(await appA.handle(req(`/api/v1/posts/${post.slug}`)))).data.title).toBe('After')
    const list = await okEnvelope(await appA.handle(req('/api/v1/posts?limit=100')))
    expect(list.data.map((p: any) => p.title)).toContain('After')
    expect(list.data.map((p: any) => p.title)).not.toContain('Before')

    await okEnvelope(await appB.handle(req(`/api/v1/posts/${post.id}`, { method: 'DELETE', headers: admin })))
    await waitFor(3)
    await errEnvelope(await appA.handle(req(`/api/v1/posts/${post.slug}`)), 404, 'POST_NOT_FOUND')
    await unsubscribe()
  })

  test('the routes are in the OpenAPI document with request and response schemas', async () => {
    const spec = (await (await app.handle(req('/api/openapi.json'))).json()) as { paths: Record<string, any> }
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/posts',
        '/api/v1/posts/{slug}',
        '/api/v1/posts/{id}',
        '/api/v1/posts/{id}/restore',
        '/api/v1/posts/by-id/{id}',
      ]),
    )
    expect(spec.paths['/api/v1/posts'].post.requestBody).toBeDefined()
    expect(spec.paths['/api/v1/posts'].get.responses['200']).toBeDefined()
    expect(spec.paths['/api/v1/posts/{id}'].patch.responses['409']).toBeDefined()
  })
})
