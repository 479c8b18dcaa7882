/**
 * Files in and out of a live terminal, in real Chromium against the real server, on every available
 * runner (docs/api.md, "Terminal files"): a file chosen with the Upload button and a file dropped
 * on the terminal land in the project's folder (the shell `cat`s them), and `download FILE` typed in
 * the shell hands the file to the browser as a download with its bytes.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { buildSite, RUNNERS, type Server, startWithBrowser, waitForText, watchedPage } from './harness.ts'

setDefaultTimeout(60_000)

let server: Server
let browser: Browser
let desktop: BrowserContext

beforeAll(async () => {
  ;({ server, browser } = await startWithBrowser(await buildSite('e2e')))
  desktop = await browser.newContext({
    baseURL: server.url,
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
  })
}, 180_000)

afterAll(async () => {
  await desktop?.close()
  await browser?.close()
  await server?.stop()
})

/** Types a line into the terminal and presses Enter. */
async function run(page: Page, line: string) {
  await page.locator('.terminal-host .xterm').click()
  await page.keyboard.type(line)
  await page.keyboard.press('Enter')
}

describe('files in and out of the terminal', () => {
  for (const runner of RUNNERS) {
    test(`${runner}: upload by button and by drop, then download FILE hands the file to the browser`, async () => {
      const { page, problems } = await watchedPage(desktop)
      await page.goto('/projects/life?e2e')
      await page.locator('main h1').waitFor()
      const choice = page.getByRole('radio', { name: new RegExp(runner, 'i') })
      if ((await choice.count()) > 0) await choice.check()
      await page.getByRole('button', { name: 'Start terminal' }).click()
      await page.waitForFunction(() => window.__shellfolio?.state() === 'connected', undefined, { timeout: 60_000 })
      const status = page.getByTestId('terminal-files-status')

      // The Upload button (its file input).
      await page.getByTestId('terminal-upload-input').setInputFiles({
        name: 'by-button.txt',
        mimeType: 'text/plain',
        buffer: Buffer.from(`uploaded-by-button-${runner}\n`),
      })
      await page.waitForFunction(
        () => document.querySelector('[data-testid=terminal-files-status]')?.textContent?.startsWith('uploaded '),
        undefined,
        { timeout: 30_000 },
      )
      expect(await status.textContent()).toBe('uploaded by-button.txt to ~/projects/life')
      await run(page, 'cd && cat projects/life/by-button.txt')
      await waitForText(page, `uploaded-by-button-${runner}`, 30_000)

      // A file dropped on the terminal.
      const dropped = await page.evaluateHandle((text) => {
        const dt = new DataTransfer()
        dt.items.add(new File([text], 'dropped.txt', { type: 'text/plain' }))
        return dt
      }, `dropped-on-the-terminal-${runner}\n`)
      await page.dispatchEvent('.terminal-frame', 'dragover', { dataTransfer: dropped })
      await page.dispatchEvent('.terminal-frame', 'drop', { dataTransfer: dropped })
      await page.waitForFunction(
        () =>
          document
            .querySelector('[data-testid=terminal-files-status]')
            ?.textContent?.startsWith('uploaded dropped.txt'),
        undefined,
        { timeout: 30_000 },
      )
      expect(await status.textContent()).toBe('uploaded dropped.txt to ~/projects/life')

      // `download FILE` in the shell: a real browser download with the file's bytes.
      const download = page.waitForEvent('download', { timeout: 30_000 })
      await run(page, 'cd projects/life && download dropped.txt')
      const file = await download
      expect(file.suggestedFilename()).toBe('dropped.txt')
      expect(readFileSync(await file.path(), 'utf8')).toBe(`dropped-on-the-terminal-${runner}\n`)
      await waitForText(page, 'download: sending ~/projects/life/dropped.txt to your browser')

      // A refused download is said in the status bar, not silently dropped.
      await run(page, 'download no-such-file')
      await waitForText(page, 'download: no-such-file: No such file or directory')
      expect(problems.errors).toEqual([])
      expect(problems.csp).toEqual([])
      await page.getByRole('button', { name: 'Stop', exact: true }).click()
      await page.waitForFunction(() => window.__shellfolio?.state() === 'exited', undefined, { timeout: 30_000 })
      await page.close()
    }, 240_000)
  }
})
