/**
 * The portfolio as visitors, crawlers and link previews see it, against the real server:
 * - without JavaScript: every public page is server-rendered with its content and meta tags, unknown
 *   pages are 404s, robots.txt / sitemap.xml / feed.xml are valid, assets come precompressed;
 * - in Chromium: the owner edits the profile and sees it on the home page, publishes a post with an
 *   image and a table whose preview matches the page, picks a recorded session as a project's demo,
 *   which plays until a terminal starts and instead of one when none can; the admin works on a phone.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import {
  ADMIN,
  adminToken,
  buildSite,
  launchBrowser,
  type PageProblems,
  type Server,
  screenshot,
  startOnServer,
  startServer,
  waitForText,
  watchedPage,
} from './harness.ts'

setDefaultTimeout(60_000)

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
)

let server: Server
let browser: Browser
let token: string

async function api(path: string, init: { method?: string; json?: unknown; body?: BodyInit } = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      authorization: `Bearer ${token}`,
      ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: init.json !== undefined ? JSON.stringify(init.json) : init.body,
  })
  const body = (await res.json()) as { data: Record<string, unknown> & { id: string } }
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${JSON.stringify(body)}`)
  return body.data
}

async function upload(name: string): Promise<{ id: string; url: string }> {
  const form = new FormData()
  form.append('file', new Blob([PNG], { type: 'image/png' }), name)
  return (await api('/api/v1/media', { method: 'POST', body: form })) as unknown as { id: string; url: string }
}

beforeAll(async () => {
  const dist = await buildSite()
  // One live terminal per visitor here, so the "session limit reached" case is reachable.
  const before = process.env.TERMINAL_MAX_PER_IP
  process.env.TERMINAL_MAX_PER_IP = '1'
  try {
    server = await startServer(dist)
  } finally {
    if (before === undefined) delete process.env.TERMINAL_MAX_PER_IP
    else process.env.TERMINAL_MAX_PER_IP = before
  }
  try {
    browser = await launchBrowser()
  } catch (err) {
    await server.stop()
    throw err
  }
  token = await adminToken(server)
}, 180_000)

afterAll(async () => {
  await browser?.close()
  await server?.stop()
})

/** The head of an HTML document: meta tags by name/property, link rels, title, JSON-LD blocks. */
async function headOf(html: string) {
  const meta = new Map<string, string>()
  const links = new Map<string, string>()
  const jsonLd: Record<string, unknown>[] = []
  const scripts: { nonce: string | null; type: string | null; src: string | null; text: string }[] = []
  let title = ''
  let current: (typeof scripts)[number] | undefined
  await new HTMLRewriter()
    .on('meta', {
      element(e) {
        const key = e.getAttribute('name') ?? e.getAttribute('property')
        if (key) meta.set(key, e.getAttribute('content') ?? '')
      },
    })
    .on('link', {
      element(e) {
        links.set(e.getAttribute('rel') ?? '', e.getAttribute('href') ?? '')
      },
    })
    .on('head > title', {
      text(t) {
        title += t.text
      },
    })
    .on('script', {
      element(e) {
        current = { nonce: e.getAttribute('nonce'), type: e.getAttribute('type'), src: e.getAttribute('src'), text: '' }
        scripts.push(current)
      },
      text(t) {
        if (current) current.text += t.text
      },
    })
    .transform(new Response(html))
    .text()
  for (const s of scripts) if (s.type === 'application/ld+json') jsonLd.push(JSON.parse(s.text))
  return { meta, links, title, jsonLd, scripts }
}

/** A page fetched as a crawler does: no JavaScript runs, only the HTML counts. */
async function crawl(path: string) {
  const res = await fetch(`${server.url}${path}`)
  const html = await res.text()
  return { res, html, head: await headOf(html) }
}

describe('without JavaScript', () => {
  let post: { slug: string; title: string; html: string }
  let avatar: { id: string; url: string }
  let preview: { id: string; url: string }

  beforeAll(async () => {
    avatar = await upload('avatar.png')
    preview = await upload('minirt.png')
    await api('/api/v1/site', {
      method: 'PUT',
      json: {
        name: 'Grace Hopper',
        headline: 'Compilers and small C programs',
        intro: 'I build **compilers** and tiny programs you can run here.',
        avatarId: avatar.id,
        location: 'Arlington, VA',
        links: [
          { label: 'GitHub', url: 'https://github.com/grace' },
          { label: 'Email', url: 'mailto:grace@example.com' },
        ],
        siteTitle: 'Grace’s workbench',
        siteDescription: 'Programs that run in your browser, and notes on writing them.',
      },
    })
    const projects = (await (await fetch(`${server.url}/api/v1/projects`)).json()) as {
      data: { id: string; slug: string }[]
    }
    const minirt = projects.data.find((p) => p.slug === 'minirt')!
    await api(`/api/v1/projects/${minirt.id}`, { method: 'PATCH', json: { previewMediaId: preview.id } })
    const created = await api('/api/v1/posts', {
      method: 'POST',
      json: {
        slug: 'crawled-post',
        title: 'A post for crawlers',
        summary: 'Read without JavaScript.',
        tags: ['crawling', 'c'],
        status: 'published',
        markdown: `A cover first:\n\n![the cover](${preview.url})\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n\`\`\`c\nint main(void) { return 0; }\n\`\`\``,
      },
    })
    post = { slug: created.slug as string, title: created.title as string, html: created.html as string }
  })

  test('every public page has its content, title, description, canonical, Open Graph, Twitter card and JSON-LD', async () => {
    const pages = [
      { path: '/', content: ['Grace Hopper', 'Compilers and small C programs', 'miniRT', post.title], ld: 'Person' },
      { path: '/projects', content: ['miniRT', 'calc'], ld: undefined },
      {
        path: '/projects/minirt',
        content: ['miniRT', 'capped cylinders', './miniRT scenes/demo.rt'],
        ld: 'SoftwareSourceCode',
      },
      { path: '/blog', content: [post.title, 'Read without JavaScript.'], ld: undefined },
      { path: `/blog/${post.slug}`, content: [post.title, '<table>', 'hljs-keyword', 'min read'], ld: 'BlogPosting' },
      { path: '/blog/tags/crawling', content: ['crawling', post.title], ld: undefined },
      { path: '/architecture', content: ['How it works', 'Shellfolio architecture'], ld: undefined },
    ]
    for (const page of pages) {
      const { res, html, head } = await crawl(page.path)
      expect({ path: page.path, status: res.status }).toEqual({ path: page.path, status: 200 })
      const root = html.slice(html.indexOf('<div id="root">'))
      for (const text of page.content)
        expect({ path: page.path, has: root.includes(text), text }).toMatchObject({ has: true })
      expect(head.title).toEndWith('Grace’s workbench')
      expect(head.meta.get('description')?.length).toBeGreaterThan(10)
      expect(head.links.get('canonical')).toBe(`${server.url}${page.path === '/' ? '/' : page.path}`)
      expect(head.meta.get('og:url')).toBe(head.links.get('canonical')!)
      for (const key of ['og:title', 'og:description', 'og:type', 'og:site_name', 'twitter:card', 'twitter:title']) {
        expect({ path: page.path, key, value: Boolean(head.meta.get(key)) }).toEqual({
          path: page.path,
          key,
          value: true,
        })
      }
      expect(head.meta.get('og:image')).toStartWith(server.url)
      if (page.ld) expect(head.jsonLd.map((j) => j['@type'])).toEqual([page.ld])
    }
  })

  test('link previews use the project preview, the post cover, else the owner photo', async () => {
    expect((await crawl('/projects/minirt')).head.meta.get('og:image')).toBe(`${server.url}${preview.url}`)
    const article = await crawl(`/blog/${post.slug}`)
    expect(article.head.meta.get('og:image')).toBe(`${server.url}${preview.url}`)
    expect(article.head.meta.get('og:type')).toBe('article')
    expect(article.head.meta.get('twitter:card')).toBe('summary_large_image')
    const home = await crawl('/')
    expect(home.head.meta.get('og:image')).toBe(`${server.url}${avatar.url}`)
    const person = home.head.jsonLd[0]!
    expect(person).toMatchObject({ '@type': 'Person', name: 'Grace Hopper', image: `${server.url}${avatar.url}` })
    expect(person.sameAs).toEqual(['https://github.com/grace'])
    const posting = article.head.jsonLd[0]!
    expect(posting).toMatchObject({ '@type': 'BlogPosting', headline: post.title, author: { name: 'Grace Hopper' } })
    // The footer carries the owner's links on every page.
    expect((await crawl('/architecture')).html).toContain('href="mailto:grace@example.com"')
  })

  test('the inline hydration scripts carry this response’s CSP nonce, and no other inline script runs', async () => {
    const first = await crawl('/')
    const second = await crawl('/')
    const nonceOf = (res: Response) => /'nonce-([^']+)'/.exec(res.headers.get('content-security-policy') ?? '')?.[1]
    const nonce = nonceOf(first.res)
    expect(nonce).toBeString()
    expect(nonceOf(second.res)).not.toBe(nonce)
    expect(first.res.headers.get('content-security-policy')).not.toContain("unsafe-inline' 'nonce")
    const script = first.res.headers
      .get('content-security-policy')!
      .split(';')
      .find((d) => d.includes('script-src'))!
    expect(script).not.toContain('unsafe-inline')
    const inline = first.head.scripts.filter((s) => !s.src && s.type !== 'application/json')
    expect(inline.length).toBeGreaterThanOrEqual(2) // Solid's bootstrap and its serialized data
    for (const s of inline) expect(s.nonce).toBe(nonce!)
  })

  test('pages rendered at the same time keep their own content, status and nonce', async () => {
    const paths = ['/', '/projects/minirt', `/blog/${post.slug}`, '/no/such/page', '/blog/tags/crawling']
    const all = await Promise.all(
      Array.from({ length: 4 }, () => paths)
        .flat()
        .map((path) => crawl(path).then((r) => ({ path, ...r }))),
    )
    for (const { path, res, head } of all) {
      const nonce = /'nonce-([^']+)'/.exec(res.headers.get('content-security-policy') ?? '')?.[1]
      const inline = head.scripts.filter((s) => !s.src && s.type !== 'application/json')
      expect({ path, nonces: [...new Set(inline.map((s) => s.nonce))] }).toEqual({ path, nonces: [nonce!] })
      expect({ path, status: res.status }).toEqual({ path, status: path === '/no/such/page' ? 404 : 200 })
      const expected =
        path === '/'
          ? 'Grace’s workbench'
          : path === '/projects/minirt'
            ? 'miniRT · '
            : path.startsWith('/blog/tags')
              ? 'Posts tagged'
              : path === '/no/such/page'
                ? 'Page not found'
                : post.title
      expect({ path, title: head.title.includes(expected) }).toEqual({ path, title: true })
    }
  })

  test('HTML is revalidated with its ETag: 304 without a new CSP, so the cached page keeps its nonce', async () => {
    const { res } = await crawl(`/blog/${post.slug}`)
    const etag = res.headers.get('etag')!
    expect(etag).toMatch(/^"/)
    expect(res.headers.get('cache-control')).toBe('public, max-age=0, must-revalidate')
    const again = await fetch(`${server.url}/blog/${post.slug}`, { headers: { 'if-none-match': etag } })
    expect(again.status).toBe(304)
    expect(again.headers.get('content-security-policy')).toBeNull()
    expect(await again.text()).toBe('')
  })

  test('unknown pages, posts and projects answer 404 with the not-found page; API paths keep the JSON 404', async () => {
    for (const [path, heading] of [
      ['/no/such/page', 'Page not found'],
      ['/blog/no-such-post', 'Post not found'],
      ['/projects/no-such-project', 'Project not found'],
    ] as const) {
      const { res, html, head } = await crawl(path)
      expect({ path, status: res.status }).toEqual({ path, status: 404 })
      expect(html).toMatch(new RegExp(`<h1[^>]*>${heading}</h1>`))
      expect(head.meta.get('robots')).toBe('noindex')
      expect(res.headers.get('cache-control')).toBe('no-store')
    }
    const apiMiss = await fetch(`${server.url}/api/v1/no-such-route`)
    expect(apiMiss.status).toBe(404)
    expect(((await apiMiss.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND')
  })

  test('robots.txt is plain text naming the sitemap', async () => {
    const res = await fetch(`${server.url}/robots.txt`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8')
    const text = await res.text()
    expect(text).toContain('User-agent: *')
    expect(text).toContain(`Sitemap: ${server.url}/sitemap.xml`)
    expect(text).not.toContain('<')
  })

  test('sitemap.xml is valid and lists every public post and project with lastmod', async () => {
    const res = await fetch(`${server.url}/sitemap.xml`)
    expect(res.headers.get('content-type')).toBe('application/xml; charset=utf-8')
    const xml = await res.text()
    expect(XMLValidator.validate(xml)).toBe(true)
    const doc = new XMLParser({ ignoreAttributes: false }).parse(xml)
    expect(doc.urlset['@_xmlns']).toBe('http://www.sitemaps.org/schemas/sitemap/0.9')
    const urls = new Map<string, string | undefined>(
      (doc.urlset.url as { loc: string; lastmod?: string }[]).map((u) => [u.loc, u.lastmod]),
    )
    const projects = (
      (await (await fetch(`${server.url}/api/v1/projects`)).json()) as {
        data: { slug: string; updatedAt: string }[]
      }
    ).data
    const posts = (
      (await (await fetch(`${server.url}/api/v1/posts?limit=100`)).json()) as {
        data: { slug: string; updatedAt: string }[]
      }
    ).data
    expect(projects.length).toBeGreaterThan(0)
    for (const p of projects) expect(urls.get(`${server.url}/projects/${p.slug}`)).toBe(p.updatedAt)
    for (const p of posts) expect(urls.get(`${server.url}/blog/${p.slug}`)).toBe(p.updatedAt)
    expect(urls.has(`${server.url}/`)).toBe(true)
    expect(urls.has(`${server.url}/blog/tags/crawling`)).toBe(true)
    expect([...urls.keys()].some((u) => u.includes('/admin'))).toBe(false)
  })

  test('feed.xml is a valid Atom feed of the published posts with their full HTML', async () => {
    const res = await fetch(`${server.url}/feed.xml`)
    expect(res.headers.get('content-type')).toBe('application/atom+xml; charset=utf-8')
    const xml = await res.text()
    expect(XMLValidator.validate(xml)).toBe(true)
    const doc = new XMLParser({
      ignoreAttributes: false,
      isArray: (name) => name === 'entry' || name === 'link',
    }).parse(xml)
    const feed = doc.feed
    expect(feed['@_xmlns']).toBe('http://www.w3.org/2005/Atom')
    // The elements RFC 4287 requires of a feed and of each entry.
    expect(feed.id).toBe(`${server.url}/`)
    expect(feed.title).toBe('Grace’s workbench')
    expect(Date.parse(feed.updated)).not.toBeNaN()
    expect(feed.author.name).toBe('Grace Hopper')
    expect(feed.link.some((l: Record<string, string>) => l['@_rel'] === 'self')).toBe(true)
    const posts = ((await (await fetch(`${server.url}/api/v1/posts?limit=20`)).json()) as { data: { slug: string }[] })
      .data
    expect(feed.entry.map((e: { id: string }) => e.id)).toEqual(posts.map((p) => `${server.url}/blog/${p.slug}`))
    for (const e of feed.entry) {
      expect(e.title).toBeTruthy()
      expect(Date.parse(e.updated)).not.toBeNaN()
      expect(e.content['@_type']).toBe('html')
    }
    const entry = feed.entry.find((e: { id: string }) => e.id.endsWith(`/blog/${post.slug}`))
    expect(entry.content['#text']).toBe(post.html)
  })

  test('static assets come precompressed by Accept-Encoding, hashed ones cached for a year', async () => {
    const { html } = await crawl('/')
    const src = /<script type="module" crossorigin src="([^"]+)"/.exec(html)?.[1]
    expect(src).toStartWith('/assets/')
    const raw = (encoding: string) =>
      fetch(`${server.url}${src}`, { headers: { 'accept-encoding': encoding }, decompress: false } as RequestInit)
    const plain = await raw('identity')
    const original = new Uint8Array(await plain.arrayBuffer())
    expect(plain.headers.get('content-encoding')).toBeNull()
    expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    const br = await raw('gzip, deflate, br')
    expect(br.headers.get('content-encoding')).toBe('br')
    expect(br.headers.get('vary')).toContain('Accept-Encoding')
    expect(br.headers.get('content-type')).toContain('javascript')
    const brBytes = new Uint8Array(await br.arrayBuffer())
    expect(brBytes.length).toBeLessThan(original.length / 2)
    const { brotliDecompressSync, gunzipSync } = await import('node:zlib')
    expect(new Uint8Array(brotliDecompressSync(brBytes))).toEqual(original)
    const gz = await raw('gzip')
    expect(gz.headers.get('content-encoding')).toBe('gzip')
    expect(new Uint8Array(gunzipSync(new Uint8Array(await gz.arrayBuffer())))).toEqual(original)
    // The page itself is compressed on the fly.
    const page = await fetch(`${server.url}/`, {
      headers: { 'accept-encoding': 'br' },
      decompress: false,
    } as RequestInit)
    expect(page.headers.get('content-encoding')).toBe('br')
  })
})

// ── in the browser ─────────────────────────────────────────────────────────────────────────────

function expectClean(problems: PageProblems) {
  expect(problems.csp).toEqual([])
  expect(problems.errors).toEqual([])
}

async function signIn(page: Page, path: string) {
  await page.goto(path)
  await page.getByLabel('Email').fill(ADMIN.email)
  await page.getByLabel('Password').fill(ADMIN.password)
  await page.getByRole('button', { name: 'Sign in' }).click()
}

async function waitForState(page: Page, state: string, timeout = 60_000) {
  await page.waitForFunction((s) => window.__shellfolio?.state() === s, state, { timeout, polling: 100 })
}

describe('in the browser', () => {
  let context: BrowserContext

  beforeAll(async () => {
    context = await browser.newContext({ baseURL: server.url, viewport: { width: 1440, height: 900 } })
  })
  afterAll(async () => {
    await context?.close()
  })

  test('the owner edits the profile (a bad link is pointed at) and sees it on the home page', async () => {
    const { page, problems } = await watchedPage(context)
    await signIn(page, '/admin/profile')
    await page.getByRole('heading', { name: 'Profile', level: 1 }).waitFor()
    await page.getByLabel('Name').fill('Ada Lovelace')
    await page.getByLabel('Headline').fill('Analytical engines, in C')
    await page.getByLabel('Introduction (Markdown)').fill('Notes on **engines** and the programs that run on them.')
    await page.locator('.preview strong', { hasText: 'engines' }).waitFor()
    await page.getByRole('button', { name: /Change photo|Choose a photo/ }).click()
    await page.locator('.media-choice').first().click()
    await page.getByRole('button', { name: 'Add a link' }).click()
    await page.locator('#profile-links-0-label').fill('Website')
    await page.locator('#profile-links-0-url').fill('ftp://example.com/ada')
    await page.getByRole('button', { name: 'Save profile' }).click()
    // The server refuses the link: the exact field is marked, described and focused.
    const url = page.locator('#profile-links-0-url')
    await page.waitForFunction(() => document.activeElement?.id === 'profile-links-0-url')
    expect(await url.getAttribute('aria-invalid')).toBe('true')
    expect(await page.locator('#profile-links-0-url-error').textContent()).toBeTruthy()
    await screenshot(page, 'portfolio-profile-invalid')
    problems.errors = problems.errors.filter((e) => !e.includes('400 (Bad Request)'))
    await url.fill('https://ada.example.com')
    await page.getByRole('button', { name: 'Save profile' }).click()
    await page.getByText('Profile saved.').waitFor()
    expect(await url.getAttribute('aria-invalid')).toBeNull()

    await page.getByRole('link', { name: 'View the home page' }).click()
    await page.getByRole('heading', { name: 'Ada Lovelace', level: 1 }).waitFor()
    await page.getByText('Analytical engines, in C').waitFor()
    expect(await page.locator('.hero img.avatar').getAttribute('src')).toStartWith('/api/v1/media/')
    await page.locator('.hero').getByRole('link', { name: 'Website' }).waitFor()
    expect(await page.locator('footer').getByRole('link', { name: 'Website' }).getAttribute('href')).toBe(
      'https://ada.example.com',
    )
    // A fresh load (server-rendered) shows the same.
    const visitor = await watchedPage(await browser.newContext({ baseURL: server.url, javaScriptEnabled: false }))
    await visitor.page.goto('/')
    expect(await visitor.page.locator('h1').first().textContent()).toBe('Ada Lovelace')
    await visitor.page.context().close()
    await screenshot(page, 'portfolio-home')
    expectClean(problems)
    await page.close()
  })

  test('a post with an image, a table, a task list and code: the preview is what the page shows', async () => {
    const { page, problems } = await watchedPage(context)
    await signIn(page, '/admin/posts')
    await page.getByRole('button', { name: 'New post' }).click()
    await page.getByLabel('Title').fill('Tables and pictures')
    await page.getByLabel('Tags').fill('writing')
    const markdown = page.getByLabel('Markdown')
    await markdown.fill(
      '| runner | start |\n|:--|--:|\n| wasi | 2 ms |\n| docker | 23 ms |\n\n- [x] render\n- [ ] ship\n\n```c\nint main(void) { return 0; }\n```',
    )
    await page.getByRole('button', { name: 'Insert an image' }).click()
    await page.locator('.media-choice').first().click()
    expect(await markdown.inputValue()).toMatch(/!\[[^\]]*\]\(\/api\/v1\/media\/[0-9a-f-]+\)/)
    const preview = page.locator('.preview .prose')
    await preview.locator('img').waitFor()
    await preview.locator('table td', { hasText: '23 ms' }).waitFor()
    expect(await preview.locator('input[type="checkbox"]').count()).toBe(2)
    expect(await preview.locator('code.hljs .hljs-keyword').count()).toBeGreaterThan(0)
    await screenshot(page, 'portfolio-editor')
    // The markup as rendered; an empty style attribute the live DOM may carry on a control is no markup.
    const markupOf = async (el: typeof preview) => (await el.innerHTML()).replaceAll(' style=""', '')
    const previewHtml = await markupOf(preview)
    await page.getByRole('button', { name: 'Publish' }).click()
    await page.getByText('Published.').waitFor()

    await page.goto('/blog/tables-and-pictures')
    const body = page.locator('article.post .prose')
    await body.locator('table').waitFor()
    expect(await markupOf(body)).toBe(previewHtml)
    await page.getByText('min read').waitFor()
    await page.getByRole('link', { name: 'writing' }).click()
    await page.getByRole('heading', { name: /Posts tagged/ }).waitFor()
    await page.getByRole('link', { name: 'Tables and pictures' }).waitFor()
    await screenshot(page, 'portfolio-post')
    expectClean(problems)
    await page.close()
  })

  test('a recorded session becomes the demo: it plays until a terminal starts, and instead of one when none can', async () => {
    // A visitor runs something and stops the terminal with the Stop button: the session is recorded.
    const { page: visitor, problems } = await watchedPage(context)
    await visitor.goto('/projects/minirt?e2e')
    await startOnServer(visitor)
    await waitForState(visitor, 'connected')
    // Placed where it is seen: the whole terminal frame is inside the 1440×900 viewport.
    const frame = await visitor.locator('.terminal-frame').boundingBox()
    await visitor.waitForFunction(() => {
      const r = document.querySelector('.terminal')!.getBoundingClientRect()
      return r.top >= 0 && r.top < 80
    })
    expect(frame!.height).toBeGreaterThan(300)
    await visitor.locator('.terminal-host .xterm').click()
    await visitor.keyboard.type('echo recorded-for-the-demo')
    await visitor.keyboard.press('Enter')
    await waitForText(visitor, 'recorded-for-the-demo')
    await visitor.getByRole('button', { name: 'Full screen' }).click()
    const full = await visitor.locator('section.terminal').boundingBox()
    expect(full).toMatchObject({ x: 0, y: 0, width: 1440, height: 900 })
    await screenshot(visitor, 'portfolio-terminal-fullscreen')
    await visitor.getByRole('button', { name: 'Exit full screen' }).click()
    await visitor.getByRole('button', { name: 'Stop' }).click()
    await waitForState(visitor, 'exited', 30_000)

    // The owner picks that recording as the project's demo.
    const { page: admin } = await watchedPage(context)
    await signIn(admin, '/admin/projects')
    await admin.getByRole('button', { name: 'Edit miniRT' }).click()
    const select = admin.getByLabel('Demo recording')
    await admin.waitForFunction(
      () => (document.querySelector('#project-demoSessionId') as HTMLSelectElement).options.length > 1,
    )
    const value = await select.locator('option').nth(1).getAttribute('value')
    await select.selectOption(value!)
    await admin.getByRole('button', { name: 'Save' }).click()
    await admin.getByText('Saved “miniRT”.').waitFor()
    const cast = await fetch(`${server.url}/api/v1/site/demos/minirt`)
    expect(cast.headers.get('content-type')).toBe('application/x-asciicast')
    expect(await cast.text()).toContain('recorded-for-the-demo')

    // Until a terminal starts, the frame plays the demo.
    await visitor.goto('/projects/minirt?e2e')
    const player = visitor.locator('.terminal-poster .demo .ap-wrapper')
    await player.waitFor()
    await visitor.locator('.terminal-poster', { hasText: 'recorded-for-the-demo' }).waitFor({ timeout: 30_000 })
    await screenshot(visitor, 'portfolio-demo')

    // One live terminal per visitor here: with one running, another tab is told why and sees the demo.
    await startOnServer(visitor)
    await waitForState(visitor, 'connected')
    expect(await visitor.locator('.terminal-poster').count()).toBe(0)
    const other = await watchedPage(
      await browser.newContext({ baseURL: server.url, viewport: { width: 1440, height: 900 } }),
    )
    await other.page.goto('/projects/minirt')
    await startOnServer(other.page)
    await other.page.getByRole('alert').getByText('maximum number of live terminals').waitFor()
    await other.page.locator('.terminal-poster .demo .ap-wrapper').waitFor()
    await screenshot(other.page, 'portfolio-demo-limit')
    await other.page.context().close()
    await visitor.getByRole('button', { name: 'Stop' }).click()
    await waitForState(visitor, 'exited', 30_000)

    // Terminals switched off: the reason, and the demo instead of an empty box.
    await admin.goto('/admin/flags')
    const toggle = admin.getByLabel('terminal.enabled enabled')
    await toggle.uncheck()
    await admin.getByText('Saved terminal.enabled.').waitFor()
    const off = await watchedPage(context)
    await off.page.goto('/projects/minirt')
    await off.page.getByText('Live terminals are switched off').waitFor()
    await off.page.locator('.terminal-poster .demo .ap-wrapper').waitFor()
    await screenshot(off.page, 'portfolio-demo-terminals-off')
    await toggle.check()
    await admin.getByText('Saved terminal.enabled.').waitFor()
    // The card shows the preview image picked earlier.
    await off.page.goto('/projects')
    expect(await off.page.locator('.card.has-image img.card-image').count()).toBeGreaterThan(0)
    await off.page.close()
    problems.errors = problems.errors.filter((e) => !e.includes('429 (Too Many Requests)'))
    expectClean(problems)
    await visitor.close()
    await admin.close()
  }, 180_000)

  test('the project page and the admin work on a 390 px phone: nothing overflows, tables become lists', async () => {
    const phone = await browser.newContext({ baseURL: server.url, viewport: { width: 390, height: 844 } })
    const { page, problems } = await watchedPage(phone)
    await page.goto('/projects/minirt')
    await page.locator('section.terminal').waitFor()
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    expect(await overflow()).toBeLessThanOrEqual(0)
    await screenshot(page, 'portfolio-project-phone')
    await signIn(page, '/admin/posts')
    const row = page.locator('tbody tr[data-post]').first()
    await row.waitFor()
    expect(await overflow()).toBeLessThanOrEqual(0)
    expect(await row.evaluate((el) => getComputedStyle(el).display)).toBe('block')
    expect(await row.locator('td').first().getAttribute('data-label')).toBe('Title')
    await screenshot(page, 'portfolio-admin-phone')
    for (const section of ['Profile', 'Projects', 'Media']) {
      await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: section }).click()
      await page.getByRole('heading', { name: section, level: 1 }).waitFor()
      await page.waitForLoadState('networkidle')
      expect({ section, overflow: await overflow() }).toEqual({ section, overflow: 0 })
    }
    expectClean(problems)
    await phone.close()
  })
})
