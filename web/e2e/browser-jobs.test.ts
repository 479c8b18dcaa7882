/**
 * Job control in the browser runner (docs/runners.md, "The browser runner" and "Job control") in
 * real Chromium against the real server, with every `/api/v1/terminal/*` request blocked: Ctrl-Z
 * stops `./calc` running in the tab (`[1]+  Stopped  ./calc`), the prompt comes back and takes
 * commands, `jobs` lists it, `fg` resumes it where it was (its variable is still set) and Ctrl-Z
 * stops it again with the same number.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { Browser, BrowserContext, Page } from 'playwright-core'
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

const screenLines = (page: Page) =>
  page.evaluate(() => {
    const b = window.__shellfolio?.term.buffer.active
    const lines: string[] = []
    for (let y = 0; b && y < b.length; y++) lines.push(b.getLine(y)?.translateToString(true) ?? '')
    return lines
  })

/** Waits until `count` lines of the screen match `re`. */
async function waitForLines(page: Page, re: RegExp, count: number, timeout = 30_000): Promise<void> {
  const until = Date.now() + timeout
  for (;;) {
    const lines = await screenLines(page)
    if (lines.filter((l) => re.test(l)).length >= count) return
    if (Date.now() > until) throw new Error(`expected ${count} lines matching ${re}, screen:\n${lines.join('\n')}`)
    await Bun.sleep(100)
  }
}

/** The cursor's line ends with the shell's prompt. */
async function waitForPrompt(page: Page): Promise<void> {
  await page.waitForFunction(
    () => {
      const b = window.__shellfolio?.term.buffer.active
      return (
        b
          ?.getLine(b.cursorY + b.baseY)
          ?.translateToString(true)
          .trimEnd()
          .endsWith('$') ?? false
      )
    },
    null,
    { timeout: 30_000 },
  )
}

/** calc waits for a line: its `> ` prompt is on the cursor's line. */
async function waitForCalc(page: Page): Promise<void> {
  await page.waitForFunction(
    () => {
      const b = window.__shellfolio?.term.buffer.active
      return (
        b
          ?.getLine(b.cursorY + b.baseY)
          ?.translateToString(true)
          .trimEnd() === '>'
      )
    },
    null,
    { timeout: 30_000 },
  )
}

async function type(page: Page, line: string) {
  await page.keyboard.type(line)
  await page.keyboard.press('Enter')
}

/** `slug`'s page with every terminal API request blocked (and counted), on the browser runner at its prompt. */
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
  expect(await choice.isChecked()).toBe(true)
  await page.getByRole('button', { name: 'Start terminal' }).click()
  await page.waitForFunction(() => window.__shellfolio?.state() === 'connected', null, { timeout: 60_000 })
  await expect(page.locator('.terminal-status').textContent()).resolves.toContain('runs in this tab')
  await waitForText(page, `~/projects/${slug}$`)
  await page.locator('.terminal-host .xterm').click()
  return { page, problems, blocked }
}

describe('browser runner job control', () => {
  test('Ctrl-Z stops calc in the tab, jobs lists it, fg resumes it where it was', async () => {
    const { page, problems, blocked } = await openInBrowser('calc')
    await type(page, './calc')
    await waitForText(page, "'help' for help")
    await waitForCalc(page)
    await type(page, 'r = 7')
    await waitForLines(page, /^\s*r = 7\s*$/, 1)
    await waitForCalc(page)
    await page.keyboard.press('Control+Z')
    // bash's words, then the shell's prompt again
    await waitForLines(page, /^\[1\]\+ +Stopped +\.\/calc$/, 1)
    await waitForPrompt(page)
    await type(page, 'echo between-$((40+2))')
    await waitForText(page, 'between-42')
    await waitForPrompt(page)
    await type(page, 'jobs')
    await waitForLines(page, /^\[1\]\+ +Stopped +\.\/calc$/, 2)
    await waitForPrompt(page)

    // fg shows the command and gives calc the terminal again, with its state
    await type(page, 'fg')
    await waitForLines(page, /^\.\/calc$/, 1)
    await type(page, 'r * 6')
    await waitForLines(page, /^\s*42\s*$/, 1)
    // stopped again: the same job number
    await page.keyboard.press('Control+Z')
    await waitForLines(page, /^\[1\]\+ +Stopped +\.\/calc$/, 3)
    await waitForPrompt(page)
    await type(page, 'fg %1')
    await waitForLines(page, /^\.\/calc$/, 2)
    await type(page, 'quit')
    await waitForPrompt(page)
    await type(page, 'jobs; echo after-fg')
    await waitForText(page, 'after-fg')
    // calc ended: no stopped job is left
    await waitForLines(page, /^\[1\]\+ +Stopped +\.\/calc$/, 3)
    expect((await screenLines(page)).filter((l) => /Stopped/.test(l)).length).toBe(3)
    await screenshot(page, 'browser-jobs-calc')
    expect(blocked).toEqual([])
    expect(problems.errors).toEqual([])
    expect(problems.csp).toEqual([])
    await page.close()
  })

  test('Ctrl-Z stops a program computing without any WASI call; fg and Ctrl-C end it', async () => {
    const { page, problems, blocked } = await openInBrowser('life')
    // generation 1e8 of a random field: minutes of pure computation before its only output
    await type(page, './life -n 100000000 -s 7 -w 40 -h 20')
    await Bun.sleep(300)
    await page.keyboard.press('Control+Z')
    await waitForLines(page, /^\[1\]\+ +Stopped +\.\/life -n 100000000 -s 7 -w 40 -h 20$/, 1)
    await waitForPrompt(page)
    await type(page, 'echo meanwhile-$((6*7))')
    await waitForText(page, 'meanwhile-42')
    await type(page, 'jobs')
    await waitForLines(page, /^\[1\]\+ +Stopped +\.\/life -n 100000000 -s 7 -w 40 -h 20$/, 2)
    await type(page, 'fg')
    await waitForLines(page, /^\.\/life -n 100000000 -s 7 -w 40 -h 20$/, 1)
    await page.keyboard.press('Control+C')
    await waitForPrompt(page)
    await type(page, 'jobs; echo after-$((40+2))')
    await waitForText(page, 'after-42')
    expect((await screenLines(page)).filter((l) => /Stopped/.test(l)).length).toBe(2)
    expect(blocked).toEqual([])
    expect(problems.errors).toEqual([])
    await page.close()
  })
})
