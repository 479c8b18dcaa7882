/**
 * The e2e harness: builds the site, starts the REAL server (`bun run api/src/index.ts`) on a free
 * port with a temporary DATA_DIR (with E2E_WAF=1 behind deploy/nginx.conf and its WAF), and drives
 * Debian's Chromium through playwright-core. Anything
 * missing (server, Chromium, build) fails loudly with what is missing — never a skip.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core'
import { startNginx } from '../../deploy/nginx-kit.ts'

export const ROOT = join(import.meta.dir, '../..')
export const WEB = join(ROOT, 'web')
export const SCREENSHOTS = join(ROOT, 'test-artifacts/screenshots')
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const ADMIN = { email: 'admin@e2e.test', password: 'e2e-password-0123456789' }
/** The test command sets DOCKER_AVAILABLE=1 when dockerd runs; WASI needs nothing. */
export const RUNNERS = process.env.DOCKER_AVAILABLE === '1' ? (['wasi', 'docker'] as const) : (['wasi'] as const)

export interface Server {
  url: string
  dataDir: string
  /** The API process (the bench reads its CPU time). */
  pid: number
  log: () => string
  stop: () => Promise<void>
}

async function freePort(): Promise<number> {
  const probe = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response() })
  const port = probe.port
  await probe.stop(true)
  if (!port) throw new Error('could not find a free port')
  return port
}

/**
 * `vite build` of the current sources into test-artifacts/web-<mode>/, so the server serves what is
 * being tested; returns that folder. The `e2e` mode compiles in the terminal's test hooks
 * (web/src/features/terminal/e2e-hooks.ts); `production` is what `bun run build` ships. Never into
 * web/dist: `make start` serves that one, and it must not carry test hooks.
 */
export function buildSite(mode: 'e2e' | 'production' = 'e2e'): Promise<string> {
  // Once per mode and test run: the sources do not change while the suite runs.
  let build = builds.get(mode)
  if (!build) {
    build = viteBuild(mode)
    builds.set(mode, build)
  }
  return build
}

const builds = new Map<string, Promise<string>>()

async function viteBuild(mode: string): Promise<string> {
  const outDir = join(ROOT, 'test-artifacts', `web-${mode}`)
  const cmd = ['bun', 'x', 'vite', 'build', '--mode', mode, '--outDir', outDir, '--emptyOutDir']
  const proc = Bun.spawn(cmd, { cwd: WEB, stdout: 'pipe', stderr: 'pipe' })
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  if (code !== 0) throw new Error(`e2e: \`${cmd.join(' ')}\` in web/ failed (exit ${code}):\n${out}\n${err}`)
  return outDir
}

/** Starts the server on the site built into `dist` (see `buildSite`), with `env` added to its environment. */
export async function startServer(dist: string, extraEnv: Record<string, string> = {}): Promise<Server> {
  const port = await freePort()
  const dataDir = mkdtempSync(join(tmpdir(), 'shellfolio-e2e-'))
  const env: Record<string, string | undefined> = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    APP_ENV: 'test',
    LOG_LEVEL: 'warn',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    RUNNERS: RUNNERS.join(','),
    WEB_DIST: dist,
    ...extraEnv,
  }
  // Self-contained: the embedded database, cache and media store in the temp DATA_DIR.
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'S3_BUCKET', 'S3_ENDPOINT', 'RUNNER_URLS', 'PUBLIC_ORIGIN']) {
    delete env[name]
  }
  let output = ''
  const proc: Subprocess<'ignore', 'pipe', 'pipe'> = Bun.spawn(['bun', 'run', 'api/src/index.ts'], {
    cwd: ROOT,
    env,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder()
    const reader = stream.getReader()
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      output = (output + decoder.decode(r.value, { stream: true })).slice(-20_000)
    }
  }
  void collect(proc.stdout)
  void collect(proc.stderr)

  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 90_000
  let last = 'no answer yet'
  for (;;) {
    if (proc.exitCode !== null) {
      throw new Error(
        `e2e: the server exited with code ${proc.exitCode} before /readyz answered:\n${output.slice(-4000)}`,
      )
    }
    try {
      const res = await fetch(`${url}/readyz`)
      last = `${res.status} ${await res.text()}`
      if (res.ok) break
    } catch (err) {
      last = String(err)
    }
    if (Date.now() > deadline) {
      proc.kill()
      throw new Error(
        `e2e: the server did not become ready within 90 s (last /readyz: ${last}):\n${output.slice(-4000)}`,
      )
    }
    await Bun.sleep(250)
  }
  const server: Server = {
    url,
    dataDir,
    pid: proc.pid,
    log: () => output,
    stop: async () => {
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
      await proc.exited
      clearTimeout(timer)
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
  if (process.env.E2E_WAF !== '1') return server
  // E2E_WAF=1: the browser goes through the shipped proxy and web application firewall
  // (deploy/nginx.conf, ModSecurity + OWASP CRS), as in production; a block fails the test it hits.
  const proxy = await startNginx([`127.0.0.1:${port}`]).catch(async (err) => {
    await server.stop()
    throw err
  })
  return {
    ...server,
    url: proxy.url,
    log: () => `${output}\n--- nginx error log ---\n${proxy.errorLog()}\n--- WAF audit log ---\n${proxy.auditLog()}`,
    stop: async () => {
      await proxy.stop()
      await server.stop()
    },
  }
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`e2e: Chromium is missing at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`)
  }
  try {
    return await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    })
  } catch (err) {
    throw new Error(`e2e: Chromium at ${CHROMIUM} could not start: ${err instanceof Error ? err.message : err}`)
  }
}

/**
 * Starts the API serving `dist` and Chromium; when Chromium cannot start, the server is stopped
 * before the error is thrown (a suite never leaves a server behind).
 */
export async function startWithBrowser(
  dist: string,
  extraEnv: Record<string, string> = {},
): Promise<{ server: Server; browser: Browser }> {
  const server = await startServer(dist, extraEnv)
  try {
    return { server, browser: await launchBrowser() }
  } catch (err) {
    await server.stop()
    throw err
  }
}

/** An access token of the e2e admin (`ADMIN`), signed in through the API. */
export async function adminToken(server: Pick<Server, 'url'>): Promise<string> {
  const login = await fetch(`${server.url}/api/v1/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ADMIN),
  })
  if (!login.ok) throw new Error(`e2e: the admin sign-in answered ${login.status}`)
  return ((await login.json()) as { data: { accessToken: string } }).data.accessToken
}

/**
 * Signs in on an admin page if it asks, then waits for `ready`. The admin renders in the browser:
 * the sign-in form or the section appears after the page loads, so it waits for either one first
 * (checking for the form at once would race a slow first render).
 */
export async function adminSignIn(page: Page, ready: Locator): Promise<void> {
  const email = page.getByLabel('Email')
  await email.or(ready).first().waitFor()
  if (await email.isVisible()) {
    await email.fill(ADMIN.email)
    await page.getByLabel('Password').fill(ADMIN.password)
    await page.getByRole('button', { name: 'Sign in' }).click()
  }
  await ready.first().waitFor()
}

/** Waits until a line of the page's terminal is exactly `text` (output, not the typed command). */
export async function waitForLine(page: Page, text: string, timeout = 60_000) {
  await page.waitForFunction(
    (t) => {
      const b = window.__shellfolio?.term.buffer.active
      if (!b) return false
      for (let y = 0; y < b.length; y++) if (b.getLine(y)?.translateToString(true).trim() === t) return true
      return false
    },
    text,
    { timeout, polling: 200 },
  )
}

/** Problems a page reported: console errors, uncaught exceptions and CSP violations. */
export interface PageProblems {
  errors: string[]
  csp: string[]
}

/**
 * A page that records console errors, page errors and `securitypolicyviolation` events. The
 * listener is an init script run by the DevTools protocol, outside the page's CSP.
 */
export async function watchedPage(context: BrowserContext): Promise<{ page: Page; problems: PageProblems }> {
  const page = await context.newPage()
  const problems: PageProblems = { errors: [], csp: [] }
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      const w = window as unknown as { __cspViolations?: string[] }
      w.__cspViolations ??= []
      w.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`)
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`)
    })
  })
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return
    const text = msg.text()
    if (text.startsWith('CSP violation') || text.includes('Content Security Policy')) problems.csp.push(text)
    else problems.errors.push(`${text} (${msg.location().url})`)
  })
  page.on('pageerror', (err) => problems.errors.push(`uncaught: ${err.message}`))
  return { page, problems }
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true })
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true })
}

/** Every <script> in the index.html built into `dist` has a src (no inline script under the CSP). */
export function inlineScriptsInBuild(dist: string): string[] {
  const html = readFileSync(join(dist, 'index.html'), 'utf8')
  return [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)]
    .filter((m) => !/\bsrc=/.test(m[1] ?? '') || (m[2] ?? '').trim() !== '')
    .map((m) => m[0])
}

/** Waits until a line of the terminal's buffer (the `?e2e` hook, e2e build only) contains `needle`. */
export async function waitForText(page: Page, needle: string, timeout = 60_000) {
  await page.waitForFunction(
    (n) => {
      const t = window.__shellfolio?.term
      if (!t) return false
      const b = t.buffer.active
      for (let y = 0; y < b.length; y++) if (b.getLine(y)?.translateToString(true).includes(n)) return true
      return false
    },
    needle,
    { timeout, polling: 200 },
  )
}

/**
 * Presses "Start terminal" for a session on a server runner: on a cross-origin isolated project
 * page the browser runner is offered first (docs/runners.md, "The browser runner"), so a test
 * that needs a server session (sharing, replay, the admin's list) picks the first server runner.
 */
export async function startOnServer(page: Page): Promise<void> {
  const start = page.getByRole('button', { name: 'Start terminal' })
  await start.waitFor()
  // the runner choice is final once the page is interactive (the button is enabled then)
  await page.waitForFunction(() =>
    [...document.querySelectorAll('button')].some((b) => b.textContent === 'Start terminal' && !b.disabled),
  )
  const server = page.getByRole('radio', { name: /docker|wasi/i }).first()
  if ((await server.count()) > 0) await server.check()
  await start.click()
}
