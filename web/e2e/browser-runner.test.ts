/**
 * The browser runner (docs/runners.md, "The browser runner") in real Chromium against the real
 * server: on a cross-origin isolated project page the terminal starts in the tab, and with every
 * `/api/v1/terminal/*` request blocked `calc` computes, `life` animates and `q` quits, and a refused
 * command shows the policy's message; a session makes no API request once the project's files are
 * in. `make` in minirt loads clang into the tab (the progress line shows the download), builds
 * and renders the server runners' golden image; a second visit loads clang from the browser's
 * cache and downloads none of it. Pointing at Start mounts the panel ahead, hidden, inert and
 * not announced; the click reveals it at the prompt, focused, on the one shell started ahead; a
 * server runner picked meanwhile drops both. A tab that is not cross-origin isolated gets a server
 * runner, with no error.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page, Request } from 'playwright-core'
import { checkLine } from '../../runner/src/policy.ts'
import { buildSite, type Server, screenshot, startWithBrowser, waitForText, watchedPage } from './harness.ts'

setDefaultTimeout(90_000)

let server: Server
let browser: Browser
let context: BrowserContext

beforeAll(async () => {
  ;({ server, browser } = await startWithBrowser(await buildSite('e2e')))
  context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 } })
}, 600_000)

afterAll(async () => {
  await context?.close()
  await browser?.close()
  await server?.stop()
})

const screenType = (page: Page) => page.evaluate(() => window.__shellfolio?.term.buffer.active.type)
const screenText = (page: Page) =>
  page.evaluate(() => {
    const b = window.__shellfolio?.term.buffer.active
    const lines: string[] = []
    for (let y = 0; b && y < b.length; y++) lines.push(b.getLine(y)?.translateToString(true) ?? '')
    return lines.join('\n')
  })

/** Records every byte the terminal is given from now on (read back with `written`). */
async function recordWrites(page: Page) {
  await page.evaluate(() => {
    const term = window.__shellfolio?.term
    if (!term) throw new Error('no terminal')
    const w = window as unknown as { __written: string[] }
    w.__written = []
    const decoder = new TextDecoder()
    const write = term.write.bind(term)
    term.write = (data: string | Uint8Array, callback?: () => void) => {
      w.__written.push(typeof data === 'string' ? data : decoder.decode(data, { stream: true }))
      write(data, callback)
    }
  })
}
const written = (page: Page) =>
  page.evaluate(() => (window as unknown as { __written: string[] }).__written.join('').replaceAll('\r\n', '\n'))

const MINIRT = join(import.meta.dirname, '../../wasm-projects/minirt')
/** What miniRT draws for scenes/demo.rt at 60 × 20 on the server runners (runner/src/projects.test.ts). */
const golden = readFileSync(join(MINIRT, 'golden/demo-60x20.ans'), 'utf8')
/** How the progress line is redrawn in place: back to the line's start, cleared, dim. */
const REDRAW = String.raw`\r\x1b\[K\x1b\[2m`
const RENDER = 'make && ./miniRT -w 60 -h 20 scenes/demo.rt && echo render-ok'

/** Waits for a screen line that is exactly `text` (not the command line that echoes it). */
async function waitForLine(page: Page, text: string, timeout: number) {
  await page.waitForFunction(
    (t) => {
      const b = window.__shellfolio?.term.buffer.active
      for (let y = 0; b && y < b.length; y++) if (b.getLine(y)?.translateToString(true).trim() === t) return true
      return false
    },
    text,
    { timeout, polling: 250 },
  )
}

async function type(page: Page, line: string) {
  await page.keyboard.type(line)
  await page.keyboard.press('Enter')
}

/** Opens `slug`'s page with every terminal API request blocked (and counted), started on the browser runner. */
async function openInBrowser(slug: string, ctx: BrowserContext = context) {
  const { page, problems } = await watchedPage(ctx)
  const blocked: string[] = []
  await page.route('**/api/v1/terminal/**', (route) => {
    blocked.push(route.request().url())
    return route.abort()
  })
  await page.goto(`/projects/${slug}?e2e`)
  await page.locator('main h1').first().waitFor()
  expect(await page.evaluate(() => window.crossOriginIsolated)).toBe(true)
  const choice = page.getByRole('radio', { name: /in your browser/i })
  await choice.waitFor()
  // the automatic choice: the tab can run the project, so it is picked first
  expect(await choice.isChecked()).toBe(true)
  await page.getByRole('button', { name: 'Start terminal' }).click()
  await page.waitForFunction(() => window.__shellfolio?.state() === 'connected', null, { timeout: 60_000 })
  await expect(page.locator('.terminal-status').textContent()).resolves.toContain('runs in this tab')
  await waitForText(page, `~/projects/${slug}$`)
  // from here on, the session asks the server for nothing
  const api: string[] = []
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.startsWith('/api/')) api.push(r.url())
  })
  await page.locator('.terminal-host .xterm').click()
  return { page, problems, blocked, api }
}

describe('browser runner', () => {
  test('calc works in the tab with the terminal API blocked; a refused command shows its message', async () => {
    const { page, problems, blocked, api } = await openInBrowser('calc')
    await type(page, './calc')
    await waitForText(page, 'calc')
    await type(page, '2 + 3 * 4')
    await page
      .waitForFunction(
        () => {
          const b = window.__shellfolio?.term.buffer.active
          for (let y = 0; b && y < b.length; y++) if (b.getLine(y)?.translateToString(true).trim() === '14') return true
          return false
        },
        null,
        { timeout: 30_000 },
      )
      .catch(async (error: Error) => {
        // what the visitor saw: a lost line and a slow start look different on screen
        throw new Error(`${error.message}\nthe terminal showed:\n${await screenText(page)}`)
      })
    await type(page, 'quit')
    await page.waitForFunction(
      () => {
        const b = window.__shellfolio?.term.buffer.active
        if (!b) return false
        return (
          b
            .getLine(b.cursorY + b.baseY)
            ?.translateToString(true)
            .trimEnd()
            .endsWith('$') ?? false
        )
      },
      null,
      { timeout: 30_000 },
    )
    const refused = 'sudo ls'
    const verdict = checkLine(refused)
    if (verdict.ok) throw new Error('the default policy should refuse sudo')
    await type(page, refused)
    await waitForText(page, `shellfolio: ${verdict.message}`.slice(0, 60))
    await screenshot(page, 'browser-runner-calc')
    expect(blocked).toEqual([])
    expect(api).toEqual([])
    expect(problems.errors).toEqual([])
    expect(problems.csp).toEqual([])
    await page.close()
  })

  test('life animates full screen in the tab and q quits', async () => {
    const { page, problems, blocked, api } = await openInBrowser('life')
    await type(page, './life -s 7 -d 60')
    await page.waitForFunction(() => window.__shellfolio?.term.buffer.active.type === 'alternate', null, {
      timeout: 30_000,
    })
    const first = await screenText(page)
    let changed = false
    for (let i = 0; i < 50 && !changed; i++) {
      await Bun.sleep(100)
      changed = (await screenText(page)) !== first
    }
    expect(changed).toBe(true)
    await screenshot(page, 'browser-runner-life')
    await page.keyboard.press('q')
    await page.waitForFunction(() => window.__shellfolio?.term.buffer.active.type === 'normal', null, {
      timeout: 15_000,
    })
    expect(await screenType(page)).toBe('normal')
    await type(page, 'echo after-$((6*7))')
    await waitForText(page, 'after-42')
    expect(blocked).toEqual([])
    expect(api).toEqual([])
    expect(problems.errors).toEqual([])
    await page.close()
  })

  test('make builds minirt in the tab with the terminal API blocked; a second visit downloads no compiler', async () => {
    // LLVM's files are the site's assets/llvm* (docs/runners.md, "The browser runner")
    const compiler: string[] = []
    const count = (r: Request) => {
      if (/^\/assets\/llvm/.test(new URL(r.url()).pathname)) compiler.push(r.url())
    }
    // a browser of its own: its Cache Storage starts empty whatever ran before
    const fresh = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 } })
    fresh.on('request', count)
    try {
      const first = await openInBrowser('minirt', fresh)
      await recordWrites(first.page)
      await type(first.page, RENDER)
      await waitForLine(first.page, 'render-ok', 600_000)
      const out = await written(first.page)
      // the progress line, redrawn in place as the bytes arrive, then what was downloaded
      expect(out).toMatch(new RegExp(`${REDRAW}downloading the C compiler… \\d+/\\d+ MB`))
      expect(out).toMatch(
        /downloaded the C compiler: \d+ MB (\(\d+ MB transferred\) )?in [\d.]+ s, kept in this browser's cache/,
      )
      // the same bytes as the server runners' build draws
      expect(out).toContain(golden)
      expect(compiler.length).toBeGreaterThan(0)
      await screenshot(first.page, 'browser-runner-minirt')
      expect(first.blocked).toEqual([])
      expect(first.api).toEqual([])
      expect(first.problems.errors).toEqual([])
      expect(first.problems.csp).toEqual([])
      await first.page.close()

      // a later visit: a fresh session builds again with clang from Cache Storage, nothing downloaded
      compiler.length = 0
      const second = await openInBrowser('minirt', fresh)
      await recordWrites(second.page)
      await type(second.page, RENDER)
      await waitForLine(second.page, 'render-ok', 600_000)
      const again = await written(second.page)
      expect(again).toContain("loaded the C compiler from this browser's cache")
      expect(again).toContain('(nothing downloaded)')
      expect(again).not.toContain('downloading the C compiler')
      expect(again).toContain(golden)
      expect(compiler).toEqual([])
      expect(second.blocked).toEqual([])
      expect(second.api).toEqual([])
      expect(second.problems.errors).toEqual([])
      await second.page.close()
    } finally {
      await fresh.close()
    }
  }, 900_000)

  test('Ctrl-C stops a compile in the tab; the shell lives on and the next make builds', async () => {
    const { page, problems, blocked, api } = await openInBrowser('minirt')
    await recordWrites(page)
    await type(page, 'make')
    // clang is loading or compiling main.c: Ctrl-C ends its worker
    await waitForText(page, 'src/main.o src/main.c')
    await page.keyboard.press('Control+C')
    await type(page, 'echo alive-$((6*7))')
    await waitForLine(page, 'alive-42', 30_000)
    const stopped = await written(page)
    expect(stopped).not.toContain('src/parse.o src/parse.c')
    // the next compile starts a fresh clang worker (from the browser's cache after a first load)
    await type(page, 'make && echo built-ok')
    await waitForLine(page, 'built-ok', 600_000)
    await type(page, './miniRT -w 60 -h 20 scenes/demo.rt')
    await waitForText(page, '▀▀▀▀▀▀▀▀▀▀', 60_000)
    expect(blocked).toEqual([])
    expect(api).toEqual([])
    expect(problems.errors).toEqual([])
    await page.close()
  }, 900_000)

  test('pointing at Start mounts the terminal ahead, hidden and inert; the click reveals it at the prompt, focused, with one shell', async () => {
    const { page, problems } = await watchedPage(context)
    const shells: string[] = []
    page.on('worker', (w) => {
      if (/shell-worker/.test(w.url())) shells.push(w.url())
    })
    await page.goto('/projects/calc?e2e')
    await page.getByRole('radio', { name: /in your browser/i }).waitFor()
    const start = page.getByRole('button', { name: 'Start terminal' })
    await start.hover()
    // the panel ahead starts its session (the hook is the e2e build's) while the page shows the stage
    await page.waitForFunction(() => window.__shellfolio?.state() === 'connected', null, { timeout: 60_000 })
    await waitForText(page, '~/projects/calc$')
    const ahead = page.locator('.terminal-live')
    expect(await ahead.getAttribute('inert')).not.toBeNull()
    expect(await ahead.getAttribute('aria-hidden')).toBe('true')
    expect(await ahead.isVisible()).toBe(false)
    // not announced: the accessibility tree has the stage's Start and no Stop of the hidden panel
    expect(await page.getByRole('button', { name: 'Stop', exact: true }).count()).toBe(0)
    expect(await page.getByRole('button', { name: 'Start terminal' }).count()).toBe(1)
    // "Try these" does not type into the hidden terminal
    const tryFirst = page.locator('.commands button').first()
    expect(await tryFirst.isDisabled()).toBe(true)
    // not focusable: Tab from Start never lands inside it
    await start.focus()
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab')
      expect(await page.evaluate(() => Boolean(document.activeElement?.closest('.terminal-live')))).toBe(false)
    }
    await start.click()
    await page.waitForFunction(() => document.activeElement?.classList.contains('xterm-helper-textarea'), null, {
      timeout: 10_000,
    })
    expect(await ahead.getAttribute('inert')).toBeNull()
    expect(await ahead.isVisible()).toBe(true)
    expect(await page.getByRole('button', { name: 'Stop', exact: true }).count()).toBe(1)
    expect(await tryFirst.isDisabled()).toBe(false)
    await type(page, 'echo revealed-ok')
    await waitForLine(page, 'revealed-ok', 30_000)
    // the click took the shell started ahead: no second one
    expect(shells.length).toBe(1)
    expect(problems.errors).toEqual([])
    await page.close()
  })

  test('a server runner picked after the panel was mounted ahead drops it and its shell; the session is on the server', async () => {
    const { page, problems } = await watchedPage(context)
    const shells: { closed: boolean }[] = []
    page.on('worker', (w) => {
      if (!/shell-worker/.test(w.url())) return
      const s = { closed: false }
      shells.push(s)
      w.on('close', () => {
        s.closed = true
      })
    })
    await page.goto('/projects/calc?e2e')
    await page.getByRole('radio', { name: /in your browser/i }).waitFor()
    await page.getByRole('button', { name: 'Start terminal' }).hover()
    await page.waitForFunction(() => window.__shellfolio?.state() === 'connected', null, { timeout: 60_000 })
    await page.getByRole('radio', { name: /wasi/i }).check()
    await page.getByRole('button', { name: 'Start terminal' }).click()
    await page.locator('.terminal-status [data-state="connected"]').waitFor({ timeout: 120_000 })
    await expect(page.locator('.terminal-status').textContent()).resolves.toContain('wasi — on the server')
    await page.locator('.terminal-host .xterm').click()
    await type(page, 'echo server-$((40+2))')
    await page.locator('.terminal-host .xterm-rows', { hasText: 'server-42' }).waitFor({ timeout: 60_000 })
    // one terminal on the page, and the shell started ahead is gone
    expect(await page.locator('.terminal-host').count()).toBe(1)
    expect(shells.length).toBe(1)
    expect(shells.every((s) => s.closed)).toBe(true)
    expect(problems.errors).toEqual([])
    await page.getByRole('button', { name: 'Stop', exact: true }).click()
    await page.close()
  })

  test('a tab without cross-origin isolation gets a server runner, with no error', async () => {
    const { page, problems } = await watchedPage(context)
    // the project list is not isolated, and following a link inside the app keeps the tab as it is
    await page.goto('/projects')
    await page.locator('main h1').first().waitFor()
    expect(await page.evaluate(() => window.crossOriginIsolated)).toBe(false)
    await page.locator('main a[href="/projects/calc"]').first().click()
    await page.waitForURL('**/projects/calc')
    expect(await page.evaluate(() => window.crossOriginIsolated)).toBe(false)
    await page.waitForFunction(() =>
      [...document.querySelectorAll('button')].some((b) => b.textContent === 'Start terminal' && !b.disabled),
    )
    expect(await page.getByRole('radio', { name: /in your browser/i }).count()).toBe(0)
    // the quicker server runner when Docker is offered too
    const wasi = page.getByRole('radio', { name: /wasi/i })
    if ((await wasi.count()) > 0) await wasi.check()
    await page.getByRole('button', { name: 'Start terminal' }).click()
    await page.locator('.terminal-status [data-state="connected"]').waitFor({ timeout: 120_000 })
    await expect(page.locator('.terminal-status').textContent()).resolves.toContain('on the server')
    await page.locator('.terminal-host .xterm').click()
    await type(page, 'echo server-$((40+2))')
    await page.locator('.terminal-host .xterm-rows', { hasText: 'server-42' }).waitFor({ timeout: 60_000 })
    expect(problems.errors).toEqual([])
    expect(problems.csp).toEqual([])
    await page.getByRole('button', { name: 'Stop', exact: true }).click()
    await page.close()
  })
})
