import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { adminHeaders, contentDeps } from '../../test/content.ts'
import { BACKENDS, type Backend, openBackend, req } from '../../test/harness.ts'
import { type AppDeps, createApp } from '../app.ts'
import { terminalSessions } from '../db/schema/index.ts'
import { createFilesystemStorage, type MediaStorage } from '../media/storage.ts'
import { renderMarkdown } from '../posts/render.ts'
import { seedContent } from '../seed.ts'
import { atomFeed, robotsTxt, sitemapXml, xmlEscape } from './feeds.ts'
import { DEFAULT_SITE } from './service.ts'

type Json = { data: any; meta: unknown; error: any }
const json = async (res: Response) => (await res.json()) as Json

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
)

const PROFILE = {
  name: 'Grace Hopper',
  headline: 'Compilers',
  intro: 'I build **compilers**.<script>alert(1)</script>\n\n| a | b |\n|---|---|\n| 1 | 2 |',
  avatarId: null as string | null,
  location: 'Arlington',
  links: [
    { label: 'GitHub', url: 'https://github.com/grace' },
    { label: 'Email', url: 'mailto:grace@example.com' },
  ],
  siteTitle: 'Grace’s workbench',
  siteDescription: 'Programs that run in your browser.',
}

describe('feeds (pure builders)', () => {
  test('robots.txt names the sitemap and keeps crawlers out of the admin and the API', () => {
    expect(robotsTxt('https://ex.example')).toBe(
      'User-agent: *\nAllow: /\nDisallow: /admin\nDisallow: /api/\n\nSitemap: https://ex.example/sitemap.xml\n',
    )
  })

  test('XML text is escaped and characters XML forbids are dropped', () => {
    expect(xmlEscape(`<a href="x">&'\u0001`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;')
    const xml = sitemapXml('https://ex.example', [{ path: '/blog/a&b', lastmod: '2026-01-01T00:00:00.000Z' }])
    expect(XMLValidator.validate(xml)).toBe(true)
    expect(new XMLParser().parse(xml).urlset.url).toEqual({
      loc: 'https://ex.example/blog/a&b',
      lastmod: '2026-01-01T00:00:00.000Z',
    })
  })

  test('an empty feed is still valid Atom with an updated time', () => {
    const xml = atomFeed('https://ex.example', { title: 'T', subtitle: '', author: 'A' }, [], new Date(0))
    expect(XMLValidator.validate(xml)).toBe(true)
    expect(new XMLParser().parse(xml).feed).toMatchObject({ title: 'T', updated: '1970-01-01T00:00:00.000Z' })
  })
})

describe.each(BACKENDS)('site on %s', (kind) => {
  let backend: Backend
  let deps: AppDeps
  let app: ReturnType<typeof createApp>
  let admin: { authorization: string }
  let storage: MediaStorage
  let mediaDir: string

  const uploadFile = async (bytes: Uint8Array, name: string) => {
    const form = new FormData()
    form.append('file', new Blob([bytes]), name)
    const res = await app.handle(req('/api/v1/media', { method: 'POST', headers: admin, body: form }))
    expect(res.status).toBe(201)
    return (await json(res)).data as { id: string; url: string }
  }
  const put = (body: unknown, headers: Record<string, string> = admin) =>
    app.handle(req('/api/v1/site', { method: 'PUT', headers, json: body }))

  beforeAll(async () => {
    backend = await openBackend(kind)
    mediaDir = mkdtempSync(join(tmpdir(), 'shellfolio-site-'))
    storage = createFilesystemStorage(mediaDir)
    deps = {
      ...contentDeps(backend),
      mediaStorage: storage,
      runnerAvailability: async () => ({ docker: false, wasi: true }),
    }
    app = createApp(deps)
    admin = await adminHeaders(deps)
    await seedContent({
      db: backend.database.db,
      cache: backend.cache,
      config: { ...deps.config, adminEmail: 'content-admin@shellfolio.test' },
    })
  }, 60_000)
  afterAll(async () => {
    await backend.close()
    rmSync(mediaDir, { recursive: true, force: true })
  })

  test('a fresh install answers neutral defaults that name nobody and invite the owner in', async () => {
    const res = await app.handle(req('/api/v1/site'))
    expect(res.status).toBe(200)
    const { data } = await json(res)
    expect(data).toEqual({ ...DEFAULT_SITE, introHtml: renderMarkdown(DEFAULT_SITE.intro) })
    expect(data.configured).toBe(false)
    expect(data.introHtml).toContain('<strong>Profile</strong>')
  })

  test('PUT needs an admin token; an anonymous one is a 401 envelope', async () => {
    const res = await put(PROFILE, {})
    expect(res.status).toBe(401)
    expect((await json(res)).error.code).toBe('INVALID_TOKEN')
  })

  test('PUT replaces the profile: the intro is rendered and sanitized once, every reader sees it at once', async () => {
    // Warm the cached read first: the write must replace it.
    await app.handle(req('/api/v1/site'))
    const avatar = await uploadFile(PNG, 'me.png')
    const res = await put({ ...PROFILE, avatarId: avatar.id })
    expect(res.status).toBe(200)
    const saved = (await json(res)).data
    expect(saved).toMatchObject({
      name: 'Grace Hopper',
      avatar: { id: avatar.id, url: `/api/v1/media/${avatar.id}` },
      links: PROFILE.links,
      configured: true,
    })
    expect(saved.introHtml).toContain('<strong>compilers</strong>')
    expect(saved.introHtml).toContain('<table>')
    expect(saved.introHtml).not.toContain('<script')
    const read = await app.handle(req('/api/v1/site'))
    expect((await json(read)).data).toEqual(saved)
    // ETag revalidation.
    const again = await app.handle(req('/api/v1/site', { headers: { 'if-none-match': read.headers.get('etag')! } }))
    expect(again.status).toBe(304)
  })

  test('bad input points at the exact field: link scheme, link address, avatar, lengths', async () => {
    const pdf = await uploadFile(new TextEncoder().encode('%PDF-1.4\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\n'), 'cv.pdf')
    const cases: [unknown, string][] = [
      [{ ...PROFILE, links: [PROFILE.links[0], { label: 'x', url: 'javascript:alert(1)' }] }, '/links/1/url'],
      [{ ...PROFILE, links: [{ label: 'Mail', url: 'mailto:nobody' }] }, '/links/0/url'],
      [{ ...PROFILE, links: [{ label: '', url: 'https://ok.example' }] }, '/links/0/label'],
      [{ ...PROFILE, avatarId: pdf.id }, '/avatarId'],
      [{ ...PROFILE, avatarId: randomUUID() }, '/avatarId'],
      [{ ...PROFILE, name: '' }, '/name'],
      [{ ...PROFILE, siteTitle: 'x'.repeat(81) }, '/siteTitle'],
      [{ ...PROFILE, links: Array.from({ length: 13 }, () => PROFILE.links[0]) }, '/links'],
    ]
    for (const [body, path] of cases) {
      const res = await put(body)
      const env = await json(res)
      expect({ status: res.status, code: env.error?.code, paths: env.error?.details?.map((d: any) => d.path) }).toEqual(
        {
          status: 400,
          code: 'VALIDATION_FAILED',
          paths: expect.arrayContaining([path]),
        },
      )
    }
    // Nothing of the refused writes landed.
    expect((await json(await app.handle(req('/api/v1/site')))).data.name).toBe('Grace Hopper')
  })

  test('the editor preview renders exactly what a post stores (tables, task lists, highlighted code, sanitizer)', async () => {
    const markdown =
      '| a | b |\n|:-|-:|\n| 1 | 2 |\n\n- [x] done\n- [ ] todo\n\n```c\nint main(void) { return 0; }\n```\n\n<img src=x onerror=alert(1)>'
    const res = await app.handle(req('/api/v1/site/preview', { method: 'POST', headers: admin, json: { markdown } }))
    expect(res.status).toBe(200)
    const { html } = (await json(res)).data
    const post = await app.handle(
      req('/api/v1/posts', { method: 'POST', headers: admin, json: { slug: `preview-${kind}`, title: 't', markdown } }),
    )
    expect(html).toBe((await json(post)).data.html)
    expect(html).toContain('<th align="left">a</th>')
    expect(html).toContain('<input checked disabled type="checkbox" />')
    expect(html).toContain('<span class="hljs-keyword">return</span>')
    expect(html).not.toMatch(/onerror|alert/)
    const anonymous = await app.handle(req('/api/v1/site/preview', { method: 'POST', json: { markdown } }))
    expect(anonymous.status).toBe(401)
  })

  test("a project's preview image and demo recording: validated, shown publicly, the demo served as asciicast", async () => {
    const projects = (await json(await app.handle(req('/api/v1/projects')))).data
    const minirt = projects.find((p: { slug: string }) => p.slug === 'minirt')
    expect(minirt).toMatchObject({ previewImage: null, demo: null })
    const none = await app.handle(req('/api/v1/site/demos/minirt'))
    expect({ status: none.status, code: (await json(none)).error.code }).toEqual({
      status: 404,
      code: 'DEMO_NOT_FOUND',
    })

    const image = await uploadFile(PNG, 'shot.png')
    const patch = (body: unknown) =>
      app.handle(req(`/api/v1/projects/${minirt.id}`, { method: 'PATCH', headers: admin, json: body }))
    // A session of another project, and one without a recording, are refused.
    const other = randomUUID()
    const unrecorded = randomUUID()
    const recorded = randomUUID()
    await backend.database.db.insert(terminalSessions).values([
      { id: other, projectSlug: 'calc', runner: 'wasi', recordingKey: `recordings/${other}.cast` },
      { id: unrecorded, projectSlug: 'minirt', runner: 'wasi' },
      { id: recorded, projectSlug: 'minirt', runner: 'wasi', recordingKey: `recordings/${recorded}.cast` },
    ])
    const cast =
      '{"version":2,"width":80,"height":24,"timestamp":0,"env":{"TERM":"xterm-256color"}}\n[0.1,"o","hello"]\n'
    await storage.put(`recordings/${recorded}.cast`, new TextEncoder().encode(cast), 'application/x-asciicast')
    for (const [body, path] of [
      [{ demoSessionId: other }, '/demoSessionId'],
      [{ demoSessionId: unrecorded }, '/demoSessionId'],
      [{ previewMediaId: randomUUID() }, '/previewMediaId'],
    ] as const) {
      const res = await patch(body)
      expect({ status: res.status, path: (await json(res)).error.details?.[0]?.path }).toEqual({ status: 400, path })
    }
    const listed = await app.handle(req('/api/v1/site/recordings?project=minirt', { headers: admin }))
    expect((await json(listed)).data.map((r: { id: string }) => r.id)).toEqual([recorded])
    expect((await app.handle(req('/api/v1/site/recordings?project=minirt'))).status).toBe(401)

    const ok = await patch({ demoSessionId: recorded, previewMediaId: image.id })
    expect(ok.status).toBe(200)
    const page = (await json(await app.handle(req('/api/v1/projects/minirt')))).data
    expect(page).toMatchObject({
      previewImage: { id: image.id, url: `/api/v1/media/${image.id}` },
      demo: { sessionId: recorded, url: '/api/v1/site/demos/minirt' },
    })
    const demo = await app.handle(req('/api/v1/site/demos/minirt'))
    expect(demo.status).toBe(200)
    expect(demo.headers.get('content-type')).toBe('application/x-asciicast')
    expect(await demo.text()).toBe(cast)
    const cached = await app.handle(
      req('/api/v1/site/demos/minirt', { headers: { 'if-none-match': demo.headers.get('etag')! } }),
    )
    expect(cached.status).toBe(304)
  })

  test('robots.txt, sitemap.xml and feed.xml follow the content (origin from PUBLIC_ORIGIN when set)', async () => {
    const robots = await app.handle(req('/robots.txt'))
    expect(robots.headers.get('content-type')).toBe('text/plain; charset=utf-8')
    expect(await robots.text()).toContain('Sitemap: http://localhost/sitemap.xml')

    const publish = await app.handle(
      req('/api/v1/posts', {
        method: 'POST',
        headers: admin,
        json: {
          slug: `feed-${kind}`,
          title: 'Fed <post>',
          markdown: 'Body & **bold**',
          tags: ['Feeds'],
          status: 'published',
        },
      }),
    )
    const post = (await json(publish)).data
    const sitemap = await (await app.handle(req('/sitemap.xml'))).text()
    expect(XMLValidator.validate(sitemap)).toBe(true)
    const urls = new XMLParser().parse(sitemap).urlset.url as { loc: string; lastmod?: string }[]
    expect(urls).toContainEqual({ loc: `http://localhost/blog/feed-${kind}`, lastmod: post.updatedAt })
    expect(urls).toContainEqual(expect.objectContaining({ loc: 'http://localhost/blog/tags/feeds' }))
    expect(urls.some((u) => u.loc === `http://localhost/blog/preview-${kind}`)).toBe(false) // a draft

    const feedRes = await app.handle(req('/feed.xml'))
    expect(feedRes.headers.get('content-type')).toBe('application/atom+xml; charset=utf-8')
    const feedXml = await feedRes.text()
    expect(XMLValidator.validate(feedXml)).toBe(true)
    const feed = new XMLParser({ ignoreAttributes: false, isArray: (n) => n === 'entry' }).parse(feedXml).feed
    expect(feed.title).toBe('Grace’s workbench')
    const entry = feed.entry[0]
    expect(entry.id).toBe(`http://localhost/blog/feed-${kind}`)
    expect(entry.title).toBe('Fed <post>')
    expect(entry.content['#text']).toBe(post.html)
    expect(entry.category['@_term']).toBe('feeds')

    const pinned = createApp({ ...deps, config: { ...deps.config, publicOrigin: 'https://grace.example' } })
    expect(await (await pinned.handle(req('/robots.txt'))).text()).toContain(
      'Sitemap: https://grace.example/sitemap.xml',
    )
  })
})
