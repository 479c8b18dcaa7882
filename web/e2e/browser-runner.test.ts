/**
 * The browser runner (docs/runners.md, "The browser runner") in real Chromium against the real
 * server: on a cross-origin isolated project page the terminal starts in the tab, and with every
 * `/api/v1/terminal/*` request blocked `calc` computes, `life` animates and `q` quits, and a refused
 * command shows the policy's message; a session makes no API request once the project's files are
 * in. A tab that is not cross-origin isolated gets a server runner, with no error.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { checkLine } from '../../runner/src/policy.ts'
import { buildSite, launchBrowser, type Server, screenshot, startServer, waitForText, watchedPage } from './harness.ts'

setDefaultTimeout(90_000)

let server: Server
let browser: Browser
let context: BrowserContext

beforeAll(async () => {
  server = await startServer(await buildSite('e2e'))
  try {
    browser = await launchBrowser()
  } catch (err) {
    await server.stop()
    throw err
  }
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

async function type(page: Page, line: string) {
  await page.keyboard.type(line)
  await page.keyboard.press('Enter')
}

/** Opens `slug`'s page with every terminal API request blocked (and counted), started on the browser runner. */
async function openInBrowser(slug: string) {
  const { page, problems } = await watchedPage(context)
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
    await page.waitForFunction(
      () => {
        const b = window.__shellfolio?.term.buffer.active
        for (let y = 0; b && y < b.length; y++) if (b.getLine(y)?.translateToString(true).trim() === '14') return true
        return false
      },
      null,
      { timeout: 30_000 },
    )
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
