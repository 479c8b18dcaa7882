/**
 * The site in a real browser against a real server: public pages, the live terminal on every
 * available runner (render, reload-resume, refused command), and the admin publishing flow.
 * Every page must log no console error and no CSP violation; each page is screenshotted to
 * test-artifacts/screenshots/.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import {
  ADMIN,
  adminSignIn,
  buildSite,
  inlineScriptsInBuild,
  type PageProblems,
  RUNNERS,
  type Server,
  screenshot,
  startOnServer,
  startWithBrowser,
  waitForText,
  watchedPage,
} from './harness.ts'

// `make test` passes --timeout=30000; the slow cases below carry their own limits.
setDefaultTimeout(60_000)

let dist: string
let server: Server
let browser: Browser
let context: BrowserContext

beforeAll(async () => {
  dist = await buildSite('e2e')
  ;({ server, browser } = await startWithBrowser(dist))
  context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 } })
}, 180_000)

afterAll(async () => {
  await context?.close()
  await browser?.close()
  await server?.stop()
})

/** Opens a path and waits until the app has rendered its main heading. */
async function visit(path: string): Promise<{ page: Page; problems: PageProblems }> {
  const watched = await watchedPage(context)
  const res = await watched.page.goto(path)
  expect(res?.status()).toBe(200)
  await watched.page.locator('main h1').first().waitFor()
  return watched
}

const mainNav = (page: Page) => page.getByRole('navigation', { name: 'Main' })

function expectClean(problems: PageProblems) {
  expect(problems.csp).toEqual([])
  expect(problems.errors).toEqual([])
}

// Terminal helpers: read xterm's buffer through the `?e2e` hook (window.__shellfolio, e2e build only).

async function terminalText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const b = window.__shellfolio!.term.buffer.active
    const lines: string[] = []
    for (let y = 0; y < b.length; y++) lines.push(b.getLine(y)?.translateToString(true) ?? '')
    return lines.join('\n')
  })
}

/** Cells whose background is a 24-bit colour: miniRT draws with upper half blocks in truecolour. */
/**
 * Cells with a 24-bit background in xterm's buffer (the raytraced picture) when there are more than
 * `min`, else 0 — so `waitForFunction` can wait on it. Runs in the page (no string eval: our CSP).
 */
function colouredCellsOver(min: number): number {
  const b = window.__shellfolio!.term.buffer.active
  const cell = b.getNullCell()
  let count = 0
  for (let y = 0; y < b.length; y++) {
    const line = b.getLine(y)
    for (let x = 0; line && x < line.length; x++) if (line.getCell(x, cell)?.isBgRGB()) count++
  }
  return count > min ? count : 0
}

async function colouredCells(page: Page): Promise<number> {
  return page.evaluate(colouredCellsOver, -1)
}

/** Waits until the terminal shows the picture (more than 500 coloured cells). */
async function waitForPicture(page: Page, timeout: number) {
  await page.waitForFunction(colouredCellsOver, 500, { timeout, polling: 250 })
}

async function waitForState(page: Page, state: string, timeout = 60_000) {
  await page.waitForFunction((s) => window.__shellfolio?.state() === s, state, { timeout, polling: 100 })
}

async function typeLine(page: Page, line: string) {
  await page.locator('.terminal-host .xterm').click()
  await page.keyboard.type(line)
  await page.keyboard.press('Enter')
}

describe('build', () => {
  test('index.html has no inline script (strict CSP)', () => {
    expect(inlineScriptsInBuild(dist)).toEqual([])
  })

  test('the server sends the strict CSP with the page', async () => {
    const res = await fetch(server.url)
    const csp = res.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toContain("'unsafe-inline' 'self'; script")
    expect(csp.split(';').find((d) => d.trim().startsWith('script-src'))).not.toContain('unsafe-inline')
  })
})

describe('public pages', () => {
  test('home: the owner, featured projects, recent posts, landmarks and a skip link', async () => {
    const { page, problems } = await visit('/')
    // A fresh install names nobody: neutral defaults and an invitation to fill the profile in.
    await expect(page.locator('h1').first().textContent()).resolves.toBe('Your Name')
    await page.getByRole('link', { name: 'fill in the profile' }).waitFor()
    await page.getByRole('heading', { name: 'Featured projects' }).waitFor()
    await page.getByRole('link', { name: 'miniRT' }).first().waitFor()
    expect(await page.locator('header').count()).toBeGreaterThan(0)
    expect(await page.locator('nav[aria-label="Main"]').count()).toBe(1)
    expect(await page.locator('main#main').count()).toBe(1)
    expect(await page.locator('footer').count()).toBe(1)
    await page.locator('section[aria-labelledby="recent"] .loading').waitFor({ state: 'detached' })
    await page.getByRole('link', { name: 'All posts →' }).waitFor()
    await screenshot(page, 'home')
    // Keyboard: the first Tab reaches the skip link, and it moves focus to the main content.
    await page.keyboard.press('Tab')
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content')
    await page.keyboard.press('Enter')
    expect(await page.evaluate(() => location.hash)).toBe('#main')
    expectClean(problems)
    await page.close()
  })

  test('projects list links to each project', async () => {
    const { page, problems } = await visit('/projects')
    for (const name of ['miniRT']) await page.getByRole('link', { name }).first().waitFor()
    await screenshot(page, 'projects')
    expectClean(problems)
    await page.close()
  })

  test('architecture page draws the diagram inline', async () => {
    const { page, problems } = await visit('/architecture')
    const svg = page.locator('figure.diagram svg[role="img"]')
    await svg.waitFor()
    expect(await svg.locator('title').textContent()).toBe('Shellfolio architecture')
    expect(await page.locator('img').count()).toBe(0)
    await screenshot(page, 'architecture')
    expectClean(problems)
    await page.close()
  })

  test('blog list and an unknown page', async () => {
    const { page, problems } = await visit('/blog')
    await screenshot(page, 'blog-empty')
    const missing = await page.goto('/no/such/page')
    expect(missing?.status()).toBe(404)
    await page.getByRole('heading', { name: 'Page not found' }).waitFor()
    await screenshot(page, 'not-found')
    // The browser logs the page's own 404 as a console error: that one is expected.
    problems.errors = problems.errors.filter((e) => !e.includes('/no/such/page'))
    expectClean(problems)
    await page.close()
  })

  test('offline: a banner says so, and goes away when the connection is back', async () => {
    const { page } = await visit('/blog')
    await context.setOffline(true)
    await page.getByText('You are offline').waitFor()
    await screenshot(page, 'offline')
    await context.setOffline(false)
    await page.getByText('You are offline').waitFor({ state: 'detached' })
    await page.close()
  })

  test('small screens: the project page stacks and nothing overflows sideways', async () => {
    const small = await browser.newContext({ baseURL: server.url, viewport: { width: 390, height: 844 } })
    const { page, problems } = await watchedPage(small)
    await page.goto('/projects/minirt')
    await page.locator('main h1').waitFor()
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    expect(overflow).toBeLessThanOrEqual(0)
    await screenshot(page, 'project-mobile')
    expectClean(problems)
    await small.close()
  })
})

describe('live terminal', () => {
  for (const runner of RUNNERS) {
    test(`${runner}: make && ./miniRT scenes/demo.rt renders the image; reload resumes; refused command explained`, async () => {
      const { page, problems } = await visit('/projects/minirt?e2e')
      const choice = page.getByRole('radio', { name: new RegExp(runner, 'i') })
      if ((await choice.count()) > 0) await choice.check()
      await page.getByRole('button', { name: 'Start terminal' }).click()
      await waitForState(page, 'connected')
      await expect(page.locator('.terminal-status').textContent()).resolves.toContain(runner)

      await typeLine(page, 'make && ./miniRT scenes/demo.rt')
      await waitForPicture(page, 90_000)
      const coloured = await colouredCells(page)
      expect(coloured).toBeGreaterThan(500)
      await screenshot(page, `terminal-${runner}`)

      // Flow control: what xterm rendered was acknowledged to the server.
      expect(await page.evaluate(() => window.__shellfolio!.acked())).toBeGreaterThan(10_000)
      const sessionId = await page.evaluate(() => window.__shellfolio!.sessionId())
      expect(sessionId).toBeString()

      // A dropped connection: the status says "reconnecting in 1s…", then the same session is back.
      await page.evaluate(() => window.__shellfolio!.drop())
      await page.waitForFunction(() => /reconnecting in \d+s…/.test(window.__shellfolio!.stateText()), undefined, {
        timeout: 10_000,
        polling: 50,
      })
      await waitForState(page, 'connected', 30_000)
      expect(await page.evaluate(() => window.__shellfolio!.sessionId())).toBe(sessionId!)

      // Reload mid-session: same session, scrollback replayed (the picture is still there).
      await page.reload()
      await page.waitForFunction(() => window.__shellfolio !== undefined, undefined, { timeout: 30_000 })
      await waitForState(page, 'connected')
      expect(await page.evaluate(() => window.__shellfolio!.sessionId())).toBe(sessionId!)
      await waitForPicture(page, 30_000)
      await screenshot(page, `terminal-${runner}-resumed`)

      // A command outside the allowlist is refused with a message.
      await typeLine(page, 'rm -rf /')
      await waitForText(page, 'not allowed')
      const afterRefusal = await terminalText(page)
      expect(afterRefusal).toContain("'rm' is not allowed")
      // The refused line stays on screen (Docker's readline keeps it as a `#` comment), never erased.
      expect(afterRefusal).toMatch(/\$ #?rm -rf \/\s*\n/)
      await screenshot(page, `terminal-${runner}-refused`)

      // A suggested command, clicked, is typed at the prompt; Enter runs it.
      await page.getByRole('button', { name: './miniRT scenes/broken.rt' }).click()
      await page.keyboard.press('Enter')
      await waitForText(page, 'line 9')

      // Copy the selection with the Copy button, paste with the Paste button.
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url })
      await page.evaluate(() => window.__shellfolio!.term.select(0, 0, 10_000))
      await page.getByRole('button', { name: 'Copy', exact: true }).click()
      expect(await page.evaluate(() => navigator.clipboard.readText())).toContain('coder@shellfolio')
      await page.evaluate(() => navigator.clipboard.writeText('echo pasted-from-clipboard'))
      await page.getByRole('button', { name: 'Paste', exact: true }).click()
      await page.keyboard.press('Enter')
      await waitForText(page, 'pasted-from-clipboard')
      expectClean(problems)
      await page.close()
    }, 180_000)
  }
})

describe('admin', () => {
  const title = `E2E post ${Date.now()}`
  const slug = title.toLowerCase().replace(/\s+/g, '-')

  test('signs in, publishes a post that appears on the blog, deletes it and it disappears', async () => {
    const { page, problems } = await visit('/admin')
    await screenshot(page, 'admin-sign-in')
    // A wrong password is explained in words (INVALID_CREDENTIALS → text from lib/errors.ts).
    await page.getByLabel('Email').fill(ADMIN.email)
    await page.getByLabel('Password').fill('not-the-password-at-all')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('alert').getByText('That email and password do not match an account.').waitFor()
    await screenshot(page, 'admin-sign-in-error')
    problems.errors = problems.errors.filter((e) => !e.includes('401 (Unauthorized)'))
    await page.getByLabel('Email').fill(ADMIN.email)
    await page.getByLabel('Password').fill(ADMIN.password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Posts', level: 1 }).waitFor()

    await page.getByRole('button', { name: 'New post' }).click()
    await page.getByLabel('Title').fill(title)
    await page.getByLabel('Summary').fill('Written by the end-to-end test.')
    await page.getByLabel('Tags').fill('e2e, testing')
    await page
      .getByLabel('Markdown')
      .fill('# Hello\n\nThis post has **bold** text, `code` and <script>alert(1)</script> that must stay inert.')
    // The preview is the server's sanitized rendering, as the page will be: no script survives.
    await page.locator('.preview strong', { hasText: 'bold' }).waitFor()
    expect(await page.locator('.preview script').count()).toBe(0)
    expect(await page.locator('.preview').textContent()).not.toContain('alert(1)')
    await screenshot(page, 'admin-editor')
    await page.getByRole('button', { name: 'Publish' }).click()
    await page.getByText('Published.').waitFor()
    await screenshot(page, 'admin-published')

    await mainNav(page).getByRole('link', { name: 'Blog' }).click()
    await page.getByRole('link', { name: title }).waitFor()
    await screenshot(page, 'blog')
    await page.getByRole('link', { name: title }).click()
    await page.getByRole('heading', { name: title, level: 1 }).waitFor()
    expect(await page.locator('.prose strong').textContent()).toBe('bold')
    expect(await page.locator('.prose script').count()).toBe(0)
    await screenshot(page, 'post')

    await mainNav(page).getByRole('link', { name: 'Admin' }).click()
    const row = page.locator(`tr[data-post="${slug}"]`)
    await row.getByRole('button', { name: /Delete/ }).click()
    await page.getByText('was deleted').waitFor()
    await expect(row.locator('.badge').textContent()).resolves.toBe('deleted')
    // Restore brings it back as published; delete it again for good.
    await row.getByRole('button', { name: /Restore/ }).click()
    await page.getByText('was restored').waitFor()
    await expect(row.locator('.badge').textContent()).resolves.toBe('published')
    await row.getByRole('button', { name: /Delete/ }).click()
    await page.getByText('was deleted').waitFor()
    await expect(row.locator('.badge').textContent()).resolves.toBe('deleted')
    await screenshot(page, 'admin-deleted')

    await mainNav(page).getByRole('link', { name: 'Blog' }).click()
    await page.getByRole('heading', { name: 'Blog', level: 1 }).waitFor()
    await page.waitForLoadState('networkidle')
    expect(await page.getByRole('link', { name: title }).count()).toBe(0)
    const gone = await fetch(`${server.url}/api/v1/posts/${slug}`)
    expect(gone.status).toBe(404)
    expectClean(problems)
    await page.close()
  }, 120_000)

  test('a draft stays off the blog until it is published', async () => {
    const { page, problems } = await visit('/admin/posts')
    await adminSignIn(page, page.getByRole('button', { name: 'New post' }))
    await page.getByRole('button', { name: 'New post' }).click()
    await page.getByLabel('Title').fill('A draft for later')
    await page.getByLabel('Markdown').fill('Not ready yet.')
    await page.getByRole('button', { name: 'Save draft' }).click()
    await page.getByText('Saved as a draft.').waitFor()
    expect((await fetch(`${server.url}/api/v1/posts/a-draft-for-later`)).status).toBe(404)
    await page.getByRole('button', { name: 'Publish' }).click()
    await page.getByText('Published.').waitFor()
    expect((await fetch(`${server.url}/api/v1/posts/a-draft-for-later`)).status).toBe(200)
    expectClean(problems)
    await page.close()
  })

  test('the admin posts list shows the status and date of every post', async () => {
    const { page, problems } = await visit('/admin/posts')
    const rows = page.locator('tbody tr[data-post]')
    await adminSignIn(page, rows)
    // Needs GET /api/v1/posts?include=deleted to answer the admin shape (status, updatedAt, deletedAt).
    const badges = await rows.locator('.badge').allTextContents()
    expect(badges.length).toBeGreaterThan(0)
    for (const badge of badges) expect(['draft', 'published', 'deleted']).toContain(badge)
    expectClean(problems)
    await page.close()
  })

  test('the other admin sections load: projects, media, flags, live sessions', async () => {
    const { page, problems } = await visit('/admin/projects')
    // Same context: the refresh token in sessionStorage does not carry to a new tab, so sign in.
    await adminSignIn(page, page.getByRole('navigation', { name: 'Admin' }))
    for (const [section, heading] of [
      ['projects', 'Projects'],
      ['media', 'Media'],
      ['flags', 'Feature flags'],
      ['sessions', 'Live sessions'],
    ] as const) {
      await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: heading }).click()
      await page.getByRole('heading', { name: heading, level: 1 }).waitFor()
      await page.waitForLoadState('networkidle')
      if (section === 'projects') {
        // Edit a project: feature calc on the home page.
        await page.getByRole('button', { name: 'Edit calc' }).click()
        await page.getByLabel('Featured on the home page').check()
        await page.getByRole('button', { name: 'Save' }).click()
        await page.getByText('Saved “calc”.').waitFor()
        const home = await (await fetch(`${server.url}/api/v1/projects`)).json()
        expect(home.data.find((p: { slug: string }) => p.slug === 'calc')?.featured).toBe(true)
      }
      if (section === 'media') {
        // A 1×1 PNG uploaded with the progress bar; it lands in the library.
        const png = Buffer.from(
          'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
          'base64',
        )
        await page.getByLabel('File').setInputFiles({ name: 'pixel.png', mimeType: 'image/png', buffer: png })
        await page.getByRole('button', { name: 'Upload' }).click()
        await page.getByRole('link', { name: 'pixel.png' }).waitFor()
      }
      if (section === 'flags') {
        // Switch terminals off: a visitor is told so in words; then switch them back on.
        const toggle = page.getByLabel('terminal.enabled enabled')
        await toggle.uncheck()
        await page.getByText('Saved terminal.enabled.').waitFor()
        const visitor = await watchedPage(context)
        await visitor.page.goto('/projects/minirt')
        await visitor.page.getByText('Live terminals are switched off').waitFor()
        await screenshot(visitor.page, 'terminal-off')
        expectClean(visitor.problems)
        await visitor.page.close()
        await toggle.check()
        await page.getByText('Saved terminal.enabled.').waitFor()
      }
      if (section === 'sessions') {
        // The terminal tests leave their sessions running; alone, this test starts one itself.
        const rows = page.locator('tbody tr', { has: page.getByRole('button', { name: /Kill/ }) })
        if ((await rows.count()) === 0) {
          const visitor = await watchedPage(context)
          await visitor.page.goto('/projects/minirt?e2e')
          await startOnServer(visitor.page)
          await waitForState(visitor.page, 'connected')
          await typeLine(visitor.page, 'ls')
          await visitor.page.close()
          await page.reload()
        }
        await rows.first().waitFor()
        const before = await rows.count()
        await rows
          .first()
          .getByRole('button', { name: /Recording/ })
          .click()
        await page.locator('.player .ap-wrapper').waitFor()
        // Autoplay: wait for the recorded prompt to be painted by the player.
        await page.locator('.player .ap-wrapper', { hasText: 'coder@shellfolio' }).waitFor()
        await screenshot(page, 'admin-recording')
        page.once('dialog', (d) => void d.accept())
        await rows.first().getByRole('button', { name: /Kill/ }).click()
        await page.getByText(/was ended/).waitFor()
        expect(await rows.count()).toBe(before - 1)
      }
      await screenshot(page, `admin-${section}`)
    }
    expect(await page.locator('[role="alert"]').count()).toBe(0)
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('button', { name: 'Sign in' }).waitFor()
    expectClean(problems)
    await page.close()
  }, 120_000)
})

describe('blog pagination', () => {
  test('"Load more posts" follows the cursor until the last page', async () => {
    const login = await fetch(`${server.url}/api/v1/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ADMIN),
    })
    const token = (await login.json()).data.accessToken as string
    for (let i = 1; i <= 11; i++) {
      const res = await fetch(`${server.url}/api/v1/posts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          title: `Paged post ${i}`,
          slug: `paged-post-${i}`,
          markdown: `Post ${i}.`,
          status: 'published',
        }),
      })
      expect(res.status).toBe(201)
    }
    const total = (await (await fetch(`${server.url}/api/v1/posts?limit=100`)).json()).data.length as number
    expect(total).toBeGreaterThan(10)

    const { page, problems } = await visit('/blog')
    const items = page.locator('article.post-item')
    // A link to the next page (works without JavaScript) that loads it in place when the app runs.
    const more = page.getByRole('link', { name: 'Load more posts' })
    await more.waitFor()
    expect(await items.count()).toBe(10)
    await more.click()
    await page.waitForFunction((n) => document.querySelectorAll('article.post-item').length === n, total)
    await more.waitFor({ state: 'detached' })
    expect(new URL(page.url()).search).toBe('')
    // Newest first, no duplicates across pages.
    const titles = await items.locator('h2').allTextContents()
    expect(new Set(titles).size).toBe(total)
    expect(titles[0]).toBe('Paged post 11')
    await screenshot(page, 'blog-paged')
    expectClean(problems)
    await page.close()
  })
})
