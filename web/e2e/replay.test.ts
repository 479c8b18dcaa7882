/**
 * Replay, then take over, in a real browser against the real server (docs/api.md, "Replays"): a
 * visitor's session is recorded; the admin publishes it; the public replay page is rendered on the
 * server, plays the recording, and "Continue live" opens a fresh session that re-runs the recorded
 * commands, reaching the same working directory. A private recording is a 404 page.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import {
  adminToken,
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
let context: BrowserContext
let token: string

beforeAll(async () => {
  const dist = await buildSite('e2e')
  ;({ server, browser } = await startWithBrowser(dist))
  context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 } })
  token = await adminToken(server)
}, 180_000)

afterAll(async () => {
  await context?.close()
  await browser?.close()
  await server?.stop()
})

/** The terminal's lines that are a bare absolute path (what `pwd` prints). */
const paths = (page: Page) =>
  page.evaluate(() => {
    const b = window.__shellfolio!.term.buffer.active
    const out: string[] = []
    for (let y = 0; y < b.length; y++) {
      const line = b.getLine(y)?.translateToString(true).trim() ?? ''
      if (/^\/\S*$/.test(line)) out.push(line)
    }
    return out
  })

async function typeLine(page: Page, line: string) {
  await page.keyboard.type(line)
  await page.keyboard.press('Enter')
}

describe('a public replay', () => {
  test('plays, then "Continue live" re-runs its commands in a fresh session: the same directory', async () => {
    // 1. A visitor's session: where it starts, then one directory up.
    const { page, problems } = await watchedPage(context)
    page.setDefaultTimeout(120_000)
    await page.goto('/projects/minirt?e2e')
    await startOnServer(page)
    await page.waitForFunction(() => window.__shellfolio?.state() === 'connected', null, { timeout: 60_000 })
    await page.locator('.terminal-host .xterm').click()
    await typeLine(page, 'pwd')
    await page.waitForFunction(() => {
      const b = window.__shellfolio!.term.buffer.active
      for (let y = 0; y < b.length; y++)
        if (/^\/\S*$/.test(b.getLine(y)?.translateToString(true).trim() ?? '')) return true
      return false
    })
    const [start] = await paths(page)
    await typeLine(page, 'cd ..')
    await typeLine(page, 'pwd')
    await page.waitForFunction(() => {
      const b = window.__shellfolio!.term.buffer.active
      let n = 0
      for (let y = 0; y < b.length; y++) if (/^\/\S*$/.test(b.getLine(y)?.translateToString(true).trim() ?? '')) n++
      return n >= 2
    })
    const recorded = (await paths(page)).at(-1)!
    expect(recorded).not.toBe(start!)
    const sessionId = (await page.evaluate(() => window.__shellfolio!.sessionId()))!
    await typeLine(page, 'exit')
    await page.waitForFunction(() => window.__shellfolio?.state() === 'exited', null, { timeout: 30_000 })
    await page.close()

    // 2. Private until the admin publishes it (the recording is stored as the session ends).
    expect((await fetch(`${server.url}/replay/${sessionId}`)).status).toBe(404)
    let published = 0
    for (let i = 0; i < 50 && published !== 200; i++) {
      const res = await fetch(`${server.url}/api/v1/terminal/sessions/${sessionId}/replay`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ public: true }),
      })
      published = res.status
      if (published !== 200) await Bun.sleep(200)
    }
    expect(published).toBe(200)
    // Rendered on the server: the project and the commands are in the HTML.
    const html = await (await fetch(`${server.url}/replay/${sessionId}`)).text()
    expect(html).toContain('Replay:')
    expect(html).toContain('cd ..')

    // 3. The replay plays; at its end, "Continue live".
    const { page: visitor, problems: visitorProblems } = await watchedPage(context)
    visitor.setDefaultTimeout(120_000)
    await visitor.goto(`/replay/${sessionId}?e2e`)
    await visitor.locator('.demo-player .ap-player, .demo-player .ap-wrapper').first().waitFor({ timeout: 30_000 })
    const go = visitor.getByRole('button', { name: 'Continue live' })
    await visitor.waitForFunction(
      () => {
        const b = [...document.querySelectorAll('button')].find((x) => x.textContent?.includes('Continue live'))
        return b instanceof HTMLButtonElement && !b.disabled
      },
      null,
      { timeout: 60_000 },
    )
    await screenshot(visitor, 'replay-ended')
    await go.click()
    await visitor.waitForFunction(() => window.__shellfolio?.state() === 'connected', null, { timeout: 60_000 })
    // The recorded commands ran (the recorded `pwd`s printed), then the visitor's own `pwd`.
    await waitForLine(visitor, recorded)
    await visitor.locator('.terminal-host .xterm').click()
    await typeLine(visitor, 'echo visitor-here')
    await typeLine(visitor, 'pwd')
    // After the visitor's own line, its `pwd` prints the directory the recording left.
    await visitor
      .waitForFunction(
        (p) => {
          const b = window.__shellfolio!.term.buffer.active
          let seen = false
          let after = false
          for (let y = 0; y < b.length; y++) {
            const line = b.getLine(y)?.translateToString(true).trim() ?? ''
            if (line === 'visitor-here') seen = true
            else if (seen && line === p) after = true
          }
          return after
        },
        recorded,
        { timeout: 60_000 },
      )
      .catch(async (err) => {
        const screen = await visitor.evaluate(() => {
          const b = window.__shellfolio!.term.buffer.active
          return Array.from({ length: b.length }, (_, y) => b.getLine(y)?.translateToString(true) ?? '').join('\n')
        })
        throw new Error(`${err}\nstate=${await visitor.evaluate(() => window.__shellfolio?.state())}\n${screen}`)
      })
    await screenshot(visitor, 'replay-continued')
    expect(problems.csp).toEqual([])
    expect(problems.errors).toEqual([])
    expect(visitorProblems.csp).toEqual([])
    expect(visitorProblems.errors).toEqual([])
    await visitor.close()

    // 4. Withdrawn: a 404 page again.
    await fetch(`${server.url}/api/v1/terminal/sessions/${sessionId}/replay`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ public: false }),
    })
    expect((await fetch(`${server.url}/replay/${sessionId}`)).status).toBe(404)
  }, 300_000)
})
