/**
 * What a real terminal does, in real Chromium against the real server, on every available runner:
 * - on a phone (390×844, touch): the key bar is there (and only there: not with a mouse), the page
 *   never scrolls sideways, the terminal fits the screen, and the bar's sticky Ctrl followed by `c`
 *   from the phone's keyboard stops `life`, a full-screen animation;
 * - pictures: `./miniRT -i sixel` draws a real image (sixel, through @xterm/addon-image).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { buildSite, RUNNERS, type Server, screenshot, startWithBrowser, waitForLine, watchedPage } from './harness.ts'

setDefaultTimeout(60_000)

let server: Server
let browser: Browser
let phone: BrowserContext
let desktop: BrowserContext

beforeAll(async () => {
  ;({ server, browser } = await startWithBrowser(await buildSite('e2e')))
  phone = await browser.newContext({
    baseURL: server.url,
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 3,
    isMobile: true,
    hasTouch: true,
  })
  desktop = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 } })
}, 180_000)

afterAll(async () => {
  await phone?.close()
  await desktop?.close()
  await browser?.close()
  await server?.stop()
})

const screenType = (page: Page) => page.evaluate(() => window.__shellfolio?.term.buffer.active.type)

/**
 * Ends the session with the panel's Stop button: a client holds at most TERMINAL_MAX_PER_IP (3) live
 * sessions, and this file opens more than that from one address.
 */
async function stop(page: Page) {
  await page.getByRole('button', { name: 'Stop', exact: true }).click()
  await page.waitForFunction(() => window.__shellfolio?.state() === 'exited', undefined, { timeout: 30_000 })
}

describe('phone (390×844, touch)', () => {
  test('a desktop pointer gets no key bar', async () => {
    const page = await desktop.newPage()
    await page.goto('/projects/life')
    await page.locator('main h1').waitFor()
    await expect(page.getByRole('toolbar', { name: 'Terminal keys' }).isVisible()).resolves.toBe(false)
    await page.close()
  })

  for (const runner of RUNNERS) {
    test(`${runner}: the key bar's Ctrl then c stops life, and the prompt is back`, async () => {
      const { page, problems } = await watchedPage(phone)
      await page.goto('/projects/life?e2e')
      await page.locator('main h1').waitFor()
      const choice = page.getByRole('radio', { name: new RegExp(runner, 'i') })
      if ((await choice.count()) > 0) await choice.check()
      await page.getByRole('button', { name: 'Start terminal' }).tap()
      await page.waitForFunction(() => window.__shellfolio?.state() === 'connected', undefined, { timeout: 60_000 })

      const bar = page.getByRole('toolbar', { name: 'Terminal keys' })
      expect(await bar.isVisible()).toBe(true)
      // Nothing scrolls sideways, and the terminal and its key bar fit the phone's width.
      expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0)
      const frame = await page.locator('.terminal-frame').boundingBox()
      expect(frame!.width).toBeLessThanOrEqual(390)
      expect(frame!.height).toBeLessThanOrEqual(844)
      expect(await page.evaluate(() => window.__shellfolio!.term.cols)).toBeGreaterThanOrEqual(20)

      await page.locator('.terminal-host .xterm').tap()
      await page.keyboard.type('make && ./life -d 60')
      await page.keyboard.press('Enter')
      await page.waitForFunction(() => window.__shellfolio?.term.buffer.active.type === 'alternate', undefined, {
        timeout: 120_000,
        polling: 100,
      })
      await screenshot(page, `phone-life-${runner}`)

      const ctrl = bar.getByRole('button', { name: 'Control' })
      await ctrl.tap()
      expect(await ctrl.getAttribute('aria-pressed')).toBe('true')
      await page.keyboard.type('c') // from the phone's keyboard: the armed Ctrl makes it ^C
      await page.waitForFunction(() => window.__shellfolio?.term.buffer.active.type === 'normal', undefined, {
        timeout: 15_000,
        polling: 100,
      })
      expect(await ctrl.getAttribute('aria-pressed')).toBe('false')
      expect(await screenType(page)).toBe('normal')

      // The shell has the keyboard again: a typed line runs.
      await page.keyboard.type('echo stopped-by-keybar')
      await page.keyboard.press('Enter')
      await waitForLine(page, 'stopped-by-keybar')
      expect(problems.errors).toEqual([])
      expect(problems.csp).toEqual([])
      await stop(page)
      await page.close()
    }, 240_000)
  }
})

/** Pixels drawn (alpha > 0) on the image addon's layer: 0 until an image is shown. */
function imagePixels(): number {
  let count = 0
  for (const canvas of document.querySelectorAll<HTMLCanvasElement>('canvas.xterm-image-layer')) {
    const ctx = canvas.getContext('2d')
    if (!ctx || canvas.width === 0 || canvas.height === 0) continue
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data
    for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) count++
  }
  return count
}

describe('pictures at full resolution', () => {
  for (const runner of RUNNERS) {
    test(`${runner}: ./miniRT -i sixel scenes/demo.rt draws a real image`, async () => {
      const { page, problems } = await watchedPage(desktop)
      await page.goto('/projects/minirt?e2e')
      await page.locator('main h1').waitFor()
      const choice = page.getByRole('radio', { name: new RegExp(runner, 'i') })
      if ((await choice.count()) > 0) await choice.check()
      await page.getByRole('button', { name: 'Start terminal' }).click()
      await page.waitForFunction(() => window.__shellfolio?.state() === 'connected', undefined, { timeout: 60_000 })
      expect(await page.evaluate(imagePixels)).toBe(0)

      await page.locator('.terminal-host .xterm').click()
      await page.keyboard.type('make && ./miniRT -i sixel scenes/demo.rt && echo drawn')
      await page.keyboard.press('Enter')
      await waitForLine(page, 'drawn', 120_000)
      // 320×240 pixels drawn (the canvas may be scaled to the device); no sixel bytes left as text.
      await page.waitForFunction(imagePixels, undefined, { timeout: 10_000, polling: 200 })
      expect(await page.evaluate(imagePixels)).toBeGreaterThan(320 * 240 * 0.9)
      const text = await page.evaluate(() => {
        const b = window.__shellfolio!.term.buffer.active
        let all = ''
        for (let y = 0; y < b.length; y++) all += `${b.getLine(y)?.translateToString(true)}\n`
        return all
      })
      expect(text).not.toContain('"1;1;320;240')
      await screenshot(page, `sixel-${runner}`)
      expect(problems.errors).toEqual([])
      expect(problems.csp).toEqual([])
      await stop(page)
      await page.close()
    }, 240_000)
  }
})
