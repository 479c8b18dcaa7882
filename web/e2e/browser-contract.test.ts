/**
 * The runner contract (runner/src/contract.ts) against the browser runner (docs/runners.md, "The
 * browser runner", "Contract") in real Chromium: each session is a page of one shared browser
 * context (so LLVM, once downloaded, comes from its Cache Storage) running the site's own shell
 * worker (the e2e build's `shell-worker-*.js`, the file a project page starts), with its programs
 * and its clang in workers of that page. The page is a bare cross-origin isolated document (the
 * headers `/projects/<slug>` is served with) holding only a bridge: the worker's output goes to this
 * process through `page.exposeBinding`, acknowledged (the worker's 256 KiB credit window) once this
 * process has it; keys, resizes, pause and kill go to it through `page.evaluate`. The selftest
 * fixture is no site project: its tar (runner/src/remote/bundle.ts, the format the API's files
 * route answers) is served to the worker by `page.route` at `GET /api/v1/projects/<slug>/files`.
 */
import { afterAll, beforeAll } from 'bun:test'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { runRunnerContract } from '../../runner/src/contract.ts'
import { makeBundle } from '../../runner/src/remote/bundle.ts'
import { selftestProject } from '../../runner/src/test-fixtures.ts'
import type { ExitInfo, OpenOptions, Runner, RunnerSession, TerminalSize } from '../../runner/src/types.ts'
import { buildSite, launchBrowser, type Server, startServer } from './harness.ts'

let server: Server
let browser: Browser
let context: BrowserContext
/** The built shell worker's URL path (`/assets/shell-worker-<hash>.js`). */
let shellWorker: string

beforeAll(async () => {
  const dist = await buildSite('e2e')
  const name = readdirSync(join(dist, 'assets')).find((f) => /^shell-worker-[\w-]+\.js$/.test(f))
  if (!name) throw new Error(`e2e: the build in ${dist} has no assets/shell-worker-*.js`)
  shellWorker = `/assets/${name}`
  server = await startServer(dist)
  try {
    browser = await launchBrowser()
  } catch (err) {
    await server.stop()
    throw err
  }
  context = await browser.newContext({ baseURL: server.url })
}, 600_000)

afterAll(async () => {
  await context?.close()
  await browser?.close()
  await server?.stop()
})

/** The bare page a session lives in: cross-origin isolated, as a project page is (api/src/web/index.ts). */
const PAGE_PATH = '/__browser-contract'

/** The page's side of the bridge, installed by `page.evaluate` (it runs in the page, not here). */
function installBridge(args: { worker: string; init: unknown }): void {
  type Out = (b64: string) => Promise<void>
  const w = window as unknown as {
    __contractOut: Out
    __contractEnd: (end: { code: number | null; message?: string }) => Promise<void>
    __contract: unknown
  }
  const worker = new Worker(args.worker, { type: 'module', name: 'shell' })
  let paused = false
  const held: Uint8Array[] = []
  let chain = Promise.resolve()
  const b64 = (bytes: Uint8Array) => {
    let s = ''
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
    return btoa(s)
  }
  // in order, and acknowledged only once the test process has the bytes (the credit window holds the rest)
  const forward = (bytes: Uint8Array) => {
    chain = chain.then(async () => {
      await w.__contractOut(b64(bytes))
      worker.postMessage({ type: 'ack', bytes: bytes.length })
    })
  }
  worker.onmessage = (ev: MessageEvent) => {
    const m = ev.data as { type: string; bytes?: Uint8Array; code?: number; message?: string }
    if (m.type === 'out' && m.bytes) {
      if (paused) held.push(m.bytes)
      else forward(m.bytes)
    } else if (m.type === 'exit') {
      chain = chain.then(() => w.__contractEnd({ code: m.code ?? 0 }))
    } else if (m.type === 'error') {
      chain = chain.then(() => w.__contractEnd({ code: null, message: m.message }))
    }
  }
  worker.onerror = (ev) => {
    void w.__contractEnd({ code: null, message: ev.message || 'the shell worker failed' })
  }
  worker.postMessage(args.init)
  w.__contract = {
    input: (data: string | number[]) =>
      worker.postMessage({ type: 'input', data: typeof data === 'string' ? data : new Uint8Array(data) }),
    resize: (size: { cols: number; rows: number }) => worker.postMessage({ type: 'resize', size }),
    pause: () => {
      paused = true
    },
    resume: () => {
      paused = false
      for (const bytes of held.splice(0)) forward(bytes)
    },
    kill: () => worker.terminate(),
  }
}

let sessions = 0

class BrowserSession implements RunnerSession {
  readonly id = `browser-contract-${++sessions}`
  readonly kind = 'wasi' as const
  readonly exited: Promise<ExitInfo>
  #end!: (info: ExitInfo) => void
  #ended = false
  #listeners = new Set<(chunk: Uint8Array) => void>()
  #paused = false
  #held: Uint8Array[] = []
  /** page.evaluate calls, in the order the contract made them (keys must not overtake each other). */
  #queue: Promise<unknown> = Promise.resolve()

  constructor(readonly page: Page) {
    this.exited = new Promise((resolve) => {
      this.#end = resolve
    })
  }

  /** Output from the page: held while paused, as the WASI runner holds it (contract: pausedOutputBytes 0). */
  deliver(chunk: Uint8Array): void {
    if (this.#paused) this.#held.push(chunk)
    else for (const l of this.#listeners) l(chunk)
  }

  end(info: ExitInfo): void {
    if (this.#ended) return
    this.#ended = true
    this.#end(info)
    void this.page.close().catch(() => {})
  }

  #call(fn: (a: unknown) => void, arg?: unknown): Promise<void> {
    const next = this.#queue.then(() =>
      this.#ended ? undefined : this.page.evaluate(fn, arg).catch(() => {}),
    ) as Promise<void>
    this.#queue = next
    return next
  }

  write(data: Uint8Array | string): void {
    const arg = typeof data === 'string' ? data : [...data]
    void this.#call((d) => {
      ;(window as unknown as { __contract: { input: (d: unknown) => void } }).__contract.input(d)
    }, arg)
  }

  resize(size: TerminalSize): Promise<void> {
    return this.#call((s) => {
      ;(window as unknown as { __contract: { resize: (s: unknown) => void } }).__contract.resize(s)
    }, size)
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  pause(): void {
    this.#paused = true
    void this.#call(() => {
      ;(window as unknown as { __contract: { pause: () => void } }).__contract.pause()
    })
  }

  resume(): void {
    this.#paused = false
    for (const chunk of this.#held.splice(0)) for (const l of this.#listeners) l(chunk)
    void this.#call(() => {
      ;(window as unknown as { __contract: { resume: () => void } }).__contract.resume()
    })
  }

  async kill(): Promise<void> {
    if (this.#ended) return
    await this.#call(() => {
      ;(window as unknown as { __contract: { kill: () => void } }).__contract.kill()
    })
    this.end({ code: null, reason: 'killed' })
  }

  putFiles(): never {
    throw new Error('the browser runner has no file transfer (skipped in this suite)')
  }

  getFile(): never {
    throw new Error('the browser runner has no file transfer (skipped in this suite)')
  }
}

const browserRunner = (): Runner => ({
  kind: 'wasi',
  available: async () => context !== undefined,
  async open(options: OpenOptions): Promise<RunnerSession> {
    const { project, size } = options
    const tar = (await makeBundle(project.sourceDir)).body
    const page = await context.newPage()
    const session = new BrowserSession(page)
    page.on('pageerror', (err) => session.end({ code: null, reason: 'error', message: err.message }))
    await page.exposeBinding('__contractOut', (_source, b64: string) => {
      session.deliver(new Uint8Array(Buffer.from(b64, 'base64')))
    })
    await page.exposeBinding('__contractEnd', (_source, end: { code: number | null; message?: string }) => {
      session.end(
        end.code === null ? { code: null, reason: 'error', message: end.message } : { code: end.code, reason: 'exit' },
      )
    })
    await page.route(`**${PAGE_PATH}`, (route) =>
      route.fulfill({
        status: 200,
        headers: {
          'content-type': 'text/html; charset=utf-8',
          'cross-origin-opener-policy': 'same-origin',
          'cross-origin-embedder-policy': 'require-corp',
        },
        body: '<!doctype html><title>browser runner contract</title>',
      }),
    )
    await page.route(`**/api/v1/projects/${project.slug}/files`, (route) =>
      route.fulfill({ status: 200, headers: { 'content-type': 'application/x-tar' }, body: Buffer.from(tar) }),
    )
    await page.goto(PAGE_PATH)
    if (!(await page.evaluate(() => window.crossOriginIsolated))) {
      throw new Error(
        'e2e: the contract page is not cross-origin isolated (no SharedArrayBuffer for the browser runner)',
      )
    }
    await page.evaluate(installBridge, {
      worker: shellWorker,
      init: {
        type: 'init',
        slug: project.slug,
        policy: project.policy,
        size,
        filesUrl: `/api/v1/projects/${encodeURIComponent(project.slug)}/files`,
      },
    })
    return session
  },
  close: async () => {
    for (const page of context?.pages() ?? []) await page.close().catch(() => {})
  },
})

runRunnerContract({
  name: 'browser (in Chromium)',
  create: async () => browserRunner(),
  project: selftestProject(),
  timeoutMs: 120_000,
  // isolation: three tabs, each loading LLVM and compiling the fixture at once (five took 28–47 s on
  // the 2-core test machine, 90 s beside the other lane of make test; three are as far apart)
  isolationSessions: 3,
  buildTimeoutMs: 150_000,
  skip: {
    'time limit':
      'the browser runner has no session time limit to pass: the session lives as long as the tab (the status bar says "no limit (your browser)"); only each program has its 30 s (docs/runners.md, "The browser runner")',
    'file upload':
      'the browser runner has no files in yet: its shell worker protocol (ToBrowserShell) carries no file message, and the Upload control posts to a server session',
    'file download':
      'the browser runner has no files out yet: its shell worker protocol (ToBrowserShell) carries no file message, so there is no getFile to check the announced path against',
  },
})
