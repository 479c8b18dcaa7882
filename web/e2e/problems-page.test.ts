/**
 * The admin's Problems page in a real browser (docs/faults.md): the server runs on a PostgreSQL
 * cluster of its own, which the test kills and starts again while a request is refused; the page
 * then lists that outage once, with its count, and "Resolve" moves it to the resolved list. The
 * page must log no console error and no CSP violation.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { Browser } from 'playwright-core'
import { type ApiProcess, type PgCluster, startApi, startPgCluster } from '../../api/test/faults/services.ts'
import { ADMIN, buildSite, launchBrowser, screenshot, watchedPage } from './harness.ts'

setDefaultTimeout(60_000)

let pg: PgCluster
let api: ApiProcess
let browser: Browser

beforeAll(async () => {
  const dist = await buildSite('e2e')
  pg = await startPgCluster()
  api = await startApi({
    APP_ENV: 'test',
    LOG_LEVEL: 'warn',
    DATABASE_URL: pg.url,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    RUNNERS: 'wasi',
    WEB_DIST: dist,
  })
  try {
    browser = await launchBrowser()
  } catch (err) {
    await api.stop()
    await pg[Symbol.asyncDispose]()
    throw err
  }
}, 240_000)

afterAll(async () => {
  await browser?.close()
  await api?.stop()
  await pg?.[Symbol.asyncDispose]()
})

describe('the Problems page', () => {
  test('an injected database outage appears once with its count, and can be resolved', async () => {
    // The fault: PostgreSQL goes away while a visitor asks for a post.
    await pg.kill()
    const refused = await api.fetch('/api/v1/posts/not-cached-anywhere')
    expect(refused.status).toBe(503)
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('DATABASE_UNAVAILABLE')
    // A server-rendered page whose content is not cached: 503 with the page shell and a Retry-After.
    const page503 = await api.fetch('/blog/not-cached-anywhere')
    expect(page503.status).toBe(503)
    expect(page503.headers.get('retry-after')).toBe('5')
    expect(page503.headers.get('content-type')).toContain('text/html')
    await pg.start()
    const deadline = Date.now() + 30_000
    while ((await api.fetch('/readyz')).status !== 200 && Date.now() < deadline) await Bun.sleep(200)

    const context = await browser.newContext({ baseURL: api.url, viewport: { width: 1280, height: 900 } })
    const { page, problems } = await watchedPage(context)
    await page.goto('/admin/problems')
    await page.getByLabel('Email').fill(ADMIN.email)
    await page.getByLabel('Password').fill(ADMIN.password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Problems', level: 1 }).waitFor()
    // The outage was reported while the database was down: buffered, then written.
    const row = page.getByRole('row').filter({ hasText: 'DATABASE_UNAVAILABLE' })
    await row.waitFor({ timeout: 20_000 })
    expect(await row.count()).toBe(1)
    expect(await row.getByRole('cell').nth(1).textContent()).toContain('dependency:database')
    expect((await row.getByRole('cell').nth(2).textContent())?.trim()).toBe('1')
    await screenshot(page, 'admin-problems')

    await row.getByRole('button', { name: /Resolve/ }).click()
    await page.getByText(/Marked DATABASE_UNAVAILABLE on dependency:database resolved/).waitFor()
    expect(await page.getByRole('row').filter({ hasText: 'DATABASE_UNAVAILABLE' }).count()).toBe(0)
    await page.getByRole('button', { name: 'Resolved' }).click()
    await page.getByRole('row').filter({ hasText: 'DATABASE_UNAVAILABLE' }).getByText('resolved').waitFor()

    expect(problems.csp).toEqual([])
    expect(problems.errors).toEqual([])
    await context.close()
  }, 120_000)
})
