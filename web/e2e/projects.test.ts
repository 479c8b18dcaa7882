/**
 * The owner's own projects, end to end against the real server in Chromium (docs/projects.md):
 * - the owner signs in, imports a Python project (file picker) and a Go project (dragged onto the
 *   drop zone) from archives this test builds, watches each check build pass, publishes them;
 * - a visitor runs both in the Docker terminal;
 * - a prebuilt wasm32-wasip1 project runs on WASI. The binary is compiled here from C with
 *   @yowasp/clang: this machine's rustc has no wasm32-wasip1 target (rustup lists only
 *   x86_64-unknown-linux-gnu), and the runner cannot tell which compiler made a WASI binary.
 * Needs Docker with the python and go toolchain images (`make test` builds them); fails loudly otherwise.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { projectTgz, tgz } from '../../api/test/archives.ts'
import { compileProject } from '../../wasm-projects/build.ts'
import {
  ADMIN,
  adminSignIn,
  adminToken,
  buildSite,
  type Server,
  screenshot,
  startWithBrowser,
  waitForText,
  watchedPage,
} from './harness.ts'

setDefaultTimeout(120_000)

const PYTHON = {
  slug: 'py-hello',
  title: 'Python hello',
  runtime: 'python',
  runners: ['docker'],
  build: 'python3 -m py_compile hello.py',
  commands: ['python3 hello.py'],
  policy: { allow: ['ls', 'cd', 'cat', 'python3'] },
}
const GO = {
  slug: 'go-hello',
  title: 'Go hello',
  runtime: 'go',
  runners: ['docker'],
  build: 'go build -o hello .',
  commands: ['./hello'],
  policy: { allow: ['ls', 'cd', './*', 'go'] },
}

let server: Server
let browser: Browser
let context: BrowserContext
let token: string

beforeAll(async () => {
  if (process.env.DOCKER_AVAILABLE !== '1') {
    throw new Error('e2e projects: needs Docker (DOCKER_AVAILABLE=1) and the python and go toolchain images')
  }
  const dist = await buildSite()
  ;({ server, browser } = await startWithBrowser(dist))
  context = await browser.newContext({ baseURL: server.url })
  token = await adminToken(server)
}, 240_000)

afterAll(async () => {
  await context?.close()
  await browser?.close()
  await server?.stop()
})

async function signIn(page: Page) {
  await page.goto('/admin/projects')
  await adminSignIn(page, page.getByRole('heading', { name: 'Projects', level: 1 }))
}

/** Waits for the build panel to show a finished build and returns its status and log. */
async function finishedBuild(page: Page, title: string) {
  const panel = page.getByRole('region', { name: `Check build of ${title}` })
  await panel
    .getByTestId('build-status')
    .filter({ hasText: /passed|failed/ })
    .waitFor({ timeout: 240_000 })
  return {
    status: await panel.getByTestId('build-status').textContent(),
    log: (await panel.getByTestId('build-log').textContent()) ?? '',
    panel,
  }
}

/** A visitor opens the project's page, starts a terminal on `runner` and types `line`. */
async function runAsVisitor(slug: string, runner: 'docker' | 'wasi', line: string, expected: string) {
  const visitor = await browser.newContext({ baseURL: server.url })
  try {
    const { page, problems } = await watchedPage(visitor)
    page.setDefaultTimeout(120_000)
    await page.goto(`/projects/${slug}?e2e`)
    await page.locator('main h1').first().waitFor()
    const choice = page.getByRole('radio', { name: new RegExp(runner, 'i') })
    if ((await choice.count()) > 0) await choice.check()
    await page.getByRole('button', { name: 'Start terminal' }).click()
    await page.waitForFunction(() => window.__shellfolio?.state() === 'connected', null, { timeout: 60_000 })
    await expect(page.locator('.terminal-status').textContent()).resolves.toContain(runner)
    await page.locator('.terminal-host .xterm').click()
    await page.keyboard.type(line)
    await page.keyboard.press('Enter')
    await waitForText(page, expected, 90_000)
    await screenshot(page, `imported-${slug}-${runner}`)
    expect(problems.csp).toEqual([])
  } finally {
    await visitor.close()
  }
}

describe('the owner imports projects', () => {
  test('Python by the file picker, Go by drag and drop: builds pass, both are published', async () => {
    const { page } = await watchedPage(context)
    // why: image pulls of nothing, but builds and container starts on a loaded 2-core machine
    page.setDefaultTimeout(120_000)
    await signIn(page)
    // Python: chosen with the file picker.
    await page.locator('#import-archive').setInputFiles({
      name: 'py-hello.tgz',
      mimeType: 'application/gzip',
      buffer: Buffer.from(
        projectTgz(PYTHON, { 'hello.py': 'import sys\nprint("hello from python", sys.version_info[0])\n' }),
      ),
    })
    const py = await finishedBuild(page, 'Python hello')
    expect(py.status).toBe('passed')
    expect(py.log).toContain('python3 -m py_compile hello.py')
    await screenshot(page, 'import-python-build')
    await py.panel.getByRole('button', { name: 'Publish Python hello' }).click()
    await page.getByText('Published: visitors can open Python hello now.').waitFor()

    // Go: dragged onto the drop zone.
    const go = Buffer.from(
      projectTgz(GO, {
        'go.mod': 'module example.com/hello\n\ngo 1.19\n',
        'main.go': 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello from go") }\n',
      }),
    )
    const dataTransfer = await page.evaluateHandle(
      (bytes) => {
        const dt = new DataTransfer()
        dt.items.add(new File([new Uint8Array(bytes)], 'go-hello.tgz', { type: 'application/gzip' }))
        return dt
      },
      [...go],
    )
    await page.getByTestId('import-drop-zone').dispatchEvent('drop', { dataTransfer })
    const built = await finishedBuild(page, 'Go hello')
    expect(built.status).toBe('passed')
    expect(built.log).toContain('go build -o hello .')
    await built.panel.getByRole('button', { name: 'Publish Go hello' }).click()
    await page.getByText('Published: visitors can open Go hello now.').waitFor()

    // Both are listed for visitors now, with their versions in the admin.
    const listed = (await (await fetch(`${server.url}/api/v1/projects`)).json()) as { data: { slug: string }[] }
    expect(listed.data.map((p) => p.slug)).toEqual(expect.arrayContaining(['py-hello', 'go-hello']))
    await page.getByRole('button', { name: 'Versions of Go hello' }).click()
    await page.getByRole('region', { name: 'Versions of Go hello' }).getByText('(current)').waitFor()
  }, 600_000)

  test('a visitor runs the Python project in the Docker terminal', async () => {
    await runAsVisitor('py-hello', 'docker', 'python3 hello.py', 'hello from python 3')
  })

  test('a visitor runs the Go project in the Docker terminal', async () => {
    await runAsVisitor('go-hello', 'docker', 'go build -o hello . && ./hello', 'hello from go')
  })

  test('a prebuilt wasm32-wasip1 project runs on WASI', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sf-e2e-wasm-'))
    try {
      mkdirSync(join(dir, 'src'))
      writeFileSync(
        join(dir, 'src/main.c'),
        '#include <stdio.h>\nint main(void) { puts("hello from wasm"); return 0; }\n',
      )
      const wasm = await compileProject({ slug: 'wasi-hello', binary: 'hello', dir })
      const manifest = {
        slug: 'wasi-hello',
        title: 'WASI hello',
        runtime: 'rust',
        runners: ['wasi'],
        binary: 'hello',
        // prebuilt/ is not in the workspace (the shell runs it as ./hello); the check lists the files
        build: 'ls',
        commands: ['./hello'],
        policy: { allow: ['ls', 'cd', './*'] },
      }
      const archive = tgz([
        { name: 'project.json', body: JSON.stringify(manifest) },
        { name: 'prebuilt/hello.wasm', body: wasm },
        { name: 'README.md', body: 'A prebuilt wasm32-wasip1 binary.\n' },
      ])
      const form = new FormData()
      form.append('archive', new Blob([archive as Uint8Array<ArrayBuffer>]), 'wasi-hello.tgz')
      const auth = { authorization: `Bearer ${token}` }
      const res = await fetch(`${server.url}/api/v1/projects/import`, { method: 'POST', headers: auth, body: form })
      expect(res.status).toBe(201)
      const id = ((await res.json()) as { data: { project: { id: string } } }).data.project.id
      const deadline = Date.now() + 120_000
      let build = { status: 'queued', log: '' }
      while (!['passed', 'failed'].includes(build.status) && Date.now() < deadline) {
        await Bun.sleep(500) // why: polling the build as the admin page does
        const b = await fetch(`${server.url}/api/v1/projects/${id}/build`, { headers: auth })
        build = ((await b.json()) as { data: typeof build }).data
      }
      expect(build).toMatchObject({ status: 'passed' })
      expect(build.log).toContain('README.md')
      const published = await fetch(`${server.url}/api/v1/projects/${id}/publish`, { method: 'POST', headers: auth })
      expect(published.status).toBe(200)
      await runAsVisitor('wasi-hello', 'wasi', './hello', 'hello from wasm')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('the owner deletes a project (off the site at once) and restores it', async () => {
    const page = await context.newPage()
    await signIn(page)
    const publicSlugs = async () =>
      ((await (await fetch(`${server.url}/api/v1/projects`)).json()) as { data: { slug: string }[] }).data.map(
        (p) => p.slug,
      )
    expect(await publicSlugs()).toContain('py-hello')
    await page.getByRole('button', { name: 'Delete Python hello' }).click()
    await page.getByText('“Python hello” was deleted. You can restore it.').waitFor()
    expect(await publicSlugs()).not.toContain('py-hello')
    expect((await fetch(`${server.url}/projects/py-hello`)).status).toBe(404)
    await page.getByRole('button', { name: 'Restore Python hello' }).click()
    await page.getByText('“Python hello” was restored.').waitFor()
    expect(await publicSlugs()).toContain('py-hello')
    await page.close()
  })
})
