/**
 * The waiting line in a real browser against the real server (docs/terminal-protocol.md, "Waiting
 * for a slot"): with one slot on the deployment, a second visitor sees their place in line while the
 * first has the terminal, and their terminal starts by itself when the first session ends.
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

setDefaultTimeout(120_000)

let server: Server
let browser: Browser
let first: BrowserContext
let second: BrowserContext

beforeAll(async () => {
  const dist = await buildSite('e2e')
  ;({ server, browser } = await startWithBrowser(dist, { TERMINAL_MAX_SESSIONS: '1' }))
  first = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 } })
  second = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 } })
}, 180_000)

afterAll(async () => {
  await first?.close()
  await second?.close()
  await browser?.close()
  await server?.stop()
})

const connected = (page: Page, timeout = 60_000) =>
  page.waitForFunction(() => window.__shellfolio?.state() === 'connected', null, { timeout })

describe('the waiting line', () => {
  test('a second visitor sees their place, then their terminal starts when the first session ends', async () => {
    const { page: a, problems: aProblems } = await watchedPage(first)
    await a.goto('/projects/minirt?e2e')
    await startOnServer(a)
    await connected(a)
    await a.locator('.terminal-host .xterm').click()
    await a.keyboard.type('echo first-in')
    await a.keyboard.press('Enter')
    await waitForLine(a, 'first-in')

    const { page: b, problems: bProblems } = await watchedPage(second)
    await b.goto('/projects/minirt?e2e')
    await startOnServer(b)
    const place = b.locator('.terminal-queue')
    await place.waitFor()
    expect(await place.getAttribute('data-position')).toBe('1')
    expect(await place.textContent()).toContain('You are number 1 in line')
    expect(await place.textContent()).toContain('starts by itself')
    // The status bar says so, and the visitor may leave the line.
    await b.getByRole('status').filter({ hasText: 'waiting in line (#1)' }).waitFor()
    await b.getByRole('button', { name: 'Leave the line' }).waitFor()
    // Still waiting a few polls later (each poll is the place's heartbeat).
    await b.waitForTimeout(4500)
    expect(await b.evaluate(() => window.__shellfolio?.state())).toBe('starting')
    await screenshot(b, 'queue-waiting')

    // The first visitor ends their session: the second one's terminal starts by itself.
    await a.keyboard.type('exit')
    await a.keyboard.press('Enter')
    await a.waitForFunction(() => window.__shellfolio?.state() === 'exited', null, { timeout: 30_000 })
    await connected(b, 30_000)
    expect(await place.count()).toBe(0)
    await b.locator('.terminal-host .xterm').click()
    await b.keyboard.type('echo second-in')
    await b.keyboard.press('Enter')
    await waitForLine(b, 'second-in')
    await screenshot(b, 'queue-served')

    expect([...aProblems.errors, ...aProblems.csp]).toEqual([])
    expect([...bProblems.errors, ...bProblems.csp]).toEqual([])
    await a.close()
    await b.close()
  })
})
