/**
 * Terminals outside the project page, in a real browser against the real server: a post's runnable
 * block runs miniRT in place (Run, then the raytracer's output), and a page on another origin (a
 * second loopback port, listed in EMBED_ORIGINS) embeds a project with /embed.js and runs a command
 * in it; the admin's live list shows that origin. Pages log no console error and no CSP violation.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { Server as BunServer } from 'bun'
import type { Browser, BrowserContext, Frame, Page } from 'playwright-core'
import { adminToken, buildSite, type Server, screenshot, startWithBrowser, watchedPage } from './harness.ts'

setDefaultTimeout(60_000)

/** Renders the picture, then writes it to a file: the last line is the program's completion line. */
const COMMAND = 'make && ./miniRT scenes/demo.rt && ./miniRT -o demo.ppm -W 160 -H 120 scenes/demo.rt'
const DONE = 'wrote demo.ppm (160x120)'

let server: Server
let other: BunServer<undefined>
let browser: Browser
let context: BrowserContext
let token: string

/** The other site: a page that embeds minirt with /embed.js, and one that frames a normal page. */
function otherSite(): BunServer<undefined> {
  return Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch(request) {
      const path = new URL(request.url).pathname
      const page = (body: string) =>
        new Response(
          `<!doctype html><html><head><title>Another site</title><link rel="icon" href="data:,"></head><body>${body}</body></html>`,
          {
            headers: { 'content-type': 'text/html; charset=utf-8' },
          },
        )
      if (path === '/')
        return page(
          `<h1>Someone else's blog</h1><shellfolio-terminal project="minirt"></shellfolio-terminal>` +
            `<p id="after">After the terminal.</p><script src="${server.url}/embed.js"></script>`,
        )
      if (path === '/direct') return page(`<iframe src="${server.url}/projects/minirt"></iframe>`)
      return new Response('not found', { status: 404 })
    },
  })
}

beforeAll(async () => {
  const dist = await buildSite('e2e')
  // The other site listens first: its origin goes into the server's EMBED_ORIGINS (its pages read
  // server.url only when requested).
  other = otherSite()
  ;({ server, browser } = await startWithBrowser(dist, { EMBED_ORIGINS: `http://127.0.0.1:${other.port}` }))
  context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 } })
  token = await adminToken(server)
}, 180_000)

afterAll(async () => {
  await context?.close()
  await browser?.close()
  await other?.stop(true)
  await server?.stop()
})

async function api(path: string, json?: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method: json === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: json === undefined ? undefined : JSON.stringify(json),
  })
  const body = (await res.json()) as { data: any }
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`)
  return body.data
}

/** Waits until the terminal in `frame` (page or iframe) shows `needle` (xterm's DOM rows). */
async function waitForScreen(frame: Page | Frame, needle: string, timeout: number) {
  await frame.waitForFunction(
    (n) => (document.querySelector('.terminal-host .xterm-rows')?.textContent ?? '').includes(n),
    needle,
    { timeout, polling: 250 },
  )
}

describe('a runnable block in a post', () => {
  test('Run opens a minirt terminal in place and runs the command: the picture, then the completion line', async () => {
    const slug = `runnable-${Date.now().toString(36)}`
    await api('/api/v1/posts', {
      slug,
      title: 'Raytracing in a blog post',
      status: 'published',
      markdown: `Press Run:\n\n\`\`\`shellfolio project=minirt\n${COMMAND}\n\`\`\`\n\nThen:\n\n\`\`\`shellfolio project=minirt\necho second-block-ran\n\`\`\`\n\nAnd a block for a project that does not exist:\n\n\`\`\`shellfolio project=no-such-project\nls\n\`\`\`\n`,
    })
    const { page, problems } = await watchedPage(context)
    await page.goto(`/blog/${slug}?e2e`)
    await page.locator('main h1').waitFor()
    // The unknown project is a message on the page, and the post around it is intact.
    await expect(page.locator('.shellfolio-run-missing .shellfolio-run-message').textContent()).resolves.toBe(
      'This terminal cannot run: unknown project “no-such-project”.',
    )
    await expect(page.getByText('And a block for a project that does not exist:').count()).resolves.toBe(1)

    const block = page.locator('.shellfolio-run:not(.shellfolio-run-missing)').first()
    await expect(block.locator('code').textContent()).resolves.toBe(COMMAND)
    await block.getByRole('button', { name: /Run/ }).click()
    // The terminal opens inside the block, on the WASI runner, and types the command itself.
    await block.locator('.terminal-status [data-state="connected"]').waitFor({ timeout: 60_000 })
    await expect(block.locator('.terminal-status').textContent()).resolves.toContain('wasi')
    await page.waitForFunction(() => (window.__shellfolio?.term.buffer.active.length ?? 0) > 0)
    await waitForScreen(page, DONE, 150_000)
    const coloured = await page.evaluate(() => {
      const b = window.__shellfolio!.term.buffer.active
      const cell = b.getNullCell()
      let count = 0
      for (let y = 0; y < b.length; y++) {
        const line = b.getLine(y)
        for (let x = 0; line && x < line.length; x++) if (line.getCell(x, cell)?.isBgRGB()) count++
      }
      return count
    })
    expect(coloured).toBeGreaterThan(500)
    await screenshot(page, 'post-runnable-block')

    // A second block of the same project takes the session over (one per project and tab) and runs
    // its own command there, in the directory the first one left; the first block gets Run back.
    const second = page.locator('.shellfolio-run:not(.shellfolio-run-missing)').nth(1)
    const sessionId = await page.evaluate(() => window.__shellfolio!.sessionId())
    await second.getByRole('button', { name: /Run/ }).click()
    await second.locator('.terminal-status [data-state="connected"]').waitFor({ timeout: 60_000 })
    await waitForScreen(page, 'second-block-ran', 60_000)
    expect(await page.evaluate(() => window.__shellfolio!.sessionId())).toBe(sessionId!)
    await expect(block.getByRole('button', { name: /Run/ }).isVisible()).resolves.toBe(true)
    await expect(block.locator('.terminal').count()).resolves.toBe(0)
    expect(problems.csp).toEqual([])
    expect(problems.errors).toEqual([])
    await page.close()
  }, 240_000)
})

describe('a project embedded on another origin', () => {
  test('/embed.js frames the project, sizes the frame, runs a command; admins see the origin', async () => {
    const origin = `http://127.0.0.1:${other.port}`
    const { page, problems } = await watchedPage(context)
    await page.goto(`${origin}/`)
    const iframe = page.locator('shellfolio-terminal iframe')
    await iframe.waitFor()
    await page.waitForFunction(() => {
      const f = document.querySelector('shellfolio-terminal iframe')
      return f instanceof HTMLIFrameElement && f.contentWindow !== null
    })
    const frame = await (await iframe.elementHandle())!.contentFrame()
    if (!frame) throw new Error('the embed iframe has no frame')
    await frame.getByRole('button', { name: 'Start terminal' }).waitFor({ timeout: 60_000 })
    // Only the terminal: none of the site's header, navigation or footer.
    await expect(frame.locator('nav, header.site-header, footer').count()).resolves.toBe(0)
    // The frame is as tall as the embed page says (postMessage), not the element's default.
    await page.waitForFunction(
      () => {
        const f = document.querySelector('shellfolio-terminal iframe') as HTMLIFrameElement
        const px = Number.parseInt(f.style.height, 10)
        return px > 0 && px !== 540
      },
      undefined,
      { timeout: 30_000 },
    )
    const height = await iframe.evaluate((f) => (f as HTMLIFrameElement).getBoundingClientRect().height)
    const inside = await frame.evaluate(() => Math.ceil(document.documentElement.getBoundingClientRect().height))
    expect(Math.abs(height - inside)).toBeLessThanOrEqual(2)

    await frame.getByRole('button', { name: 'Start terminal' }).click()
    await frame.locator('.terminal-status [data-state="connected"]').waitFor({ timeout: 60_000 })
    await frame.locator('.terminal-host .xterm').click()
    await page.keyboard.type('make && ./miniRT -o demo.ppm -W 160 -H 120 scenes/demo.rt')
    await page.keyboard.press('Enter')
    await waitForScreen(frame, DONE, 150_000)
    await screenshot(page, 'embed-other-origin')

    // The admin's live list labels the session with the page that embedded it.
    const live = (await api('/api/v1/terminal/sessions')) as { origin?: string; project: string }[]
    expect(live.filter((s) => s.project === 'minirt').map((s) => s.origin)).toContain(origin)
    expect(problems.csp).toEqual([])
    expect(problems.errors).toEqual([])
    await page.close()
  }, 240_000)

  test('a project page links its oEmbed; the oEmbed is an iframe on the embed page', async () => {
    const html = await (await fetch(`${server.url}/projects/minirt`)).text()
    const href = /<link rel="alternate" type="application\/json\+oembed" href="([^"]+)"/.exec(html)?.[1]
    expect(href).toBe(`${server.url}/oembed?url=${encodeURIComponent(`${server.url}/projects/minirt`)}&amp;format=json`)
    const res = await fetch(href!.replaceAll('&amp;', '&'))
    expect(res.status).toBe(200)
    const oembed = (await res.json()) as { type: string; html: string }
    expect(oembed.type).toBe('rich')
    expect(oembed.html).toContain(`<iframe src="${server.url}/embed/minirt"`)
    // The embed page of a project that does not exist is a 404 page, not an empty terminal.
    const missing = await fetch(`${server.url}/embed/no-such-project`)
    expect(missing.status).toBe(404)
    expect(await missing.text()).toContain('There is no such project here.')
  })

  test('any other page of the site refuses to be framed, even by an embedding origin', async () => {
    const page = await context.newPage()
    const refused = new Promise<string>((resolve) => {
      page.on('console', (msg) => {
        if (msg.text().includes('frame-ancestors')) resolve(msg.text())
      })
    })
    await page.goto(`http://127.0.0.1:${other.port}/direct`)
    expect(await refused).toContain("frame-ancestors 'none'")
    await page.close()
  })
})
