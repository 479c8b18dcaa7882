/**
 * Watching a live terminal in a real browser against the real server (docs/terminal-protocol.md,
 * "Watching"): the owner shares the session, a spectator tab on the watch link sees what the owner
 * types and cannot type itself; the owner's status bar counts the spectator; stopping sharing
 * disconnects it. Pages log no console error and no CSP violation.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import {
  buildSite,
  type Server,
  screenshot,
  startOnServer,
  startWithBrowser,
  waitForLine,
  watchedPage,
} from './harness.ts'

setDefaultTimeout(60_000)

let server: Server
let browser: Browser
let owner: BrowserContext

beforeAll(async () => {
  const dist = await buildSite('e2e')
  ;({ server, browser } = await startWithBrowser(dist))
  owner = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 } })
}, 180_000)

afterAll(async () => {
  await owner?.close()
  await browser?.close()
  await server?.stop()
})

/** What the spectator's terminal shows (xterm's DOM rows). */
async function waitForWatched(page: Page, needle: string, timeout = 60_000) {
  await page.waitForFunction(
    (n) => (document.querySelector('.terminal-host .xterm-rows')?.textContent ?? '').includes(n),
    needle,
    { timeout, polling: 200 },
  )
}

describe('a spectator tab', () => {
  test('sees what the owner types, cannot type, is counted, and is cut off when sharing stops', async () => {
    const { page, problems } = await watchedPage(owner)
    page.setDefaultTimeout(120_000)
    await page.goto('/projects/minirt?e2e')
    await startOnServer(page)
    await page.waitForFunction(() => window.__shellfolio?.state() === 'connected', null, { timeout: 60_000 })
    await page.locator('.terminal-host .xterm').click()
    await page.keyboard.type('echo before-watch')
    await page.keyboard.press('Enter')
    await waitForLine(page, 'before-watch')

    await page.getByRole('button', { name: 'Share (read-only)' }).click()
    const link = page.locator('.terminal-share input')
    await link.waitFor()
    const watchUrl = await link.inputValue()
    expect(watchUrl).toMatch(/\/watch\/[A-Za-z0-9_-]{43}$/)

    const { page: watcher, problems: watcherProblems } = await watchedPage(owner)
    await watcher.goto(new URL(watchUrl).pathname)
    await expect(watcher.locator('main h1').textContent()).resolves.toBe('Watching a live terminal')
    // The screen as it was before the spectator came.
    await waitForWatched(watcher, 'before-watch')
    await watcher.locator('.terminal-status [data-state="watching"]').waitFor()
    // The owner's status bar counts the spectator.
    await page.locator('.terminal-watchers strong', { hasText: '1' }).waitFor({ timeout: 30_000 })

    // What the owner types appears in the spectator's tab.
    await page.locator('.terminal-host .xterm').click()
    await page.keyboard.type('echo live-line')
    await page.keyboard.press('Enter')
    await waitForLine(page, 'live-line')
    await waitForWatched(watcher, 'live-line')

    // The spectator types: nothing reaches the session.
    await watcher.locator('.terminal-host .xterm').click()
    await watcher.keyboard.type('echo from-spectator')
    await watcher.keyboard.press('Enter')
    await page.keyboard.type('echo owner-again')
    await page.keyboard.press('Enter')
    await waitForWatched(watcher, 'owner-again')
    expect(
      await page.evaluate(() => document.querySelector('.terminal-host .xterm-rows')?.textContent ?? ''),
    ).not.toContain('from-spectator')
    await screenshot(watcher, 'watch-spectator')

    // Stop sharing: the spectator is told and disconnected; the count drops.
    await page.getByRole('button', { name: 'Stop sharing' }).click()
    await watcher.locator('.terminal-status [data-state="failed"]').waitFor({ timeout: 30_000 })
    await expect(watcher.locator('[role="alert"]').textContent()).resolves.toContain('stopped sharing')
    await page
      .locator('.terminal-watchers strong', { hasText: '0' })
      .waitFor({ timeout: 30_000 })
      .catch(async () => {
        // Without a link and without spectators the count is hidden altogether.
        expect(await page.locator('.terminal-watchers').count()).toBe(0)
      })
    expect(problems.csp).toEqual([])
    expect(problems.errors).toEqual([])
    expect(watcherProblems.csp).toEqual([])
    expect(watcherProblems.errors).toEqual([])
    await watcher.close()
    await page.close()
  }, 240_000)
})
