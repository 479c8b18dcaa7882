/**
 * Browser runner benchmark (docs/performance.md, "Browser runner"): `bun run bench browser`
 * (`bun test ./web/bench/browser.bench.ts`). Not a *.test.ts; it never asserts timings
 * (docs/conventions.md, rule 9).
 *
 * Real Chromium (the e2e harness: web/e2e/harness.ts) against the real server on loopback, with the
 * e2e build (its `?e2e` hook reads xterm's buffer; nothing else differs from production). Side by
 * side in the same run, through the same page: the browser runner (the shell in the tab) and the
 * WASI server runner.
 *   - open → prompt, cold (a fresh browser context: nothing cached) and warm (same context, a
 *     later visit): from navigation start ("load→prompt") and from the Start click ("start→prompt")
 *     until the prompt is in the buffer of a visible xterm (a panel mounted ahead of the click,
 *     hidden, does not count until the click reveals it); "start→painted" also waits for the next
 *     animation frame and its rendering (the prompt on screen)
 *   - bytes received before the first prompt (every response the page and its workers got)
 *   - keystroke echo: a key into xterm (`term.input`, as a typed key) until it is in xterm's buffer,
 *     median and p95 over ECHO_KEYS keys
 *   - `./calc < examples/session.txt` and `./life -n 100 patterns/glider.rle`: Enter → prompt
 *   - server CPU of a session: the API process's CPU time (all its threads, ns) from the Start click
 *     to the end of the session's runs (the WASI server runner's program hosts are other processes
 *     and not counted)
 *   - Ctrl-Z: Chromium's CPU (every process, DevTools `SystemInfo.getProcessInfo`) while a program
 *     computes without WASI calls, and while it is stopped
 *   - where a browser session's start-up goes: the marks the runner leaves on the page's
 *     performance timeline (`browser-runner:*`, web/src/features/terminal/browser/connection.ts)
 * Medians of SAMPLES (≥ 5), a table, and bench-results/browser.json. Bounded: every wait has a
 * timeout, and the whole run stops after BENCH_BROWSER_BUDGET_S (default 600 s).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { loadavg, median, round, table, writeResults } from '../../api/test/bench-kit.ts'
import { buildSite, launchBrowser, type Server, startServer } from '../e2e/harness.ts'

/** Medians of 5 by default (fewer only for a quick look). */
const SAMPLES = Math.max(1, Number(process.env.BENCH_SAMPLES ?? 5))
const ECHO_KEYS = Number(process.env.BENCH_ECHO_KEYS ?? 40)
const BUDGET_MS = Number(process.env.BENCH_BROWSER_BUDGET_S ?? 600) * 1000
/** Pointer over Start this long before the click (ms); 0: a click with no lead (element.click()). */
const LEAD_MS = Number(process.env.BENCH_LEAD_MS ?? 200)
const TARGETS = { warmOpenMs: 50, echoMs: 2, coldFirstPromptMs: 1500 }
type Runner = 'browser' | 'wasi'

let server: Server
let browser: Browser
const deadline = Date.now() + BUDGET_MS

beforeAll(async () => {
  server = await startServer(await buildSite('e2e'), {
    RUNNERS: 'wasi',
    TERMINAL_MAX_PER_IP: '1000',
    TERMINAL_MAX_SESSIONS: '1000',
  })
  try {
    browser = await launchBrowser()
  } catch (err) {
    await server.stop()
    throw err
  }
}, 600_000)

afterAll(async () => {
  await browser?.close()
  await server?.stop()
})

/** CPU time of every thread of `pid` so far (ns), from /proc/<pid>/task/<tid>/schedstat. */
function cpuNs(pid: number): number {
  let total = 0
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
    } catch {
      // the thread ended meanwhile
    }
  }
  return total
}

const p95 = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)] ?? Number.NaN
}

/** Bytes the page and its dedicated workers received (encoded, as on the wire), counted from now. */
async function countBytes(context: BrowserContext, page: Page): Promise<() => number> {
  const cdp = await context.newCDPSession(page)
  let bytes = 0
  cdp.on('Network.loadingFinished', (e: { encodedDataLength: number }) => {
    bytes += e.encodedDataLength
  })
  await cdp.send('Network.enable')
  return () => bytes
}

interface Opened {
  page: Page
  loadToPrompt: number
  startToPrompt: number
  /** Click → the animation frame after the prompt is in a visible xterm, and its rendering. */
  startToPainted: number
  bytes: number
  cpuStart: number
  /** performance.now() of this process at the click. */
  startedAt: number
  marks: Record<string, number>
}

/** Opens `slug`'s page, picks `runner`, presses Start and waits for the prompt (times in the page). */
async function open(context: BrowserContext, slug: string, runner: Runner, leadMs = LEAD_MS): Promise<Opened> {
  const page = await context.newPage()
  const bytes = await countBytes(context, page)
  await page.goto(`/projects/${slug}?e2e`)
  await page.waitForFunction(
    () => [...document.querySelectorAll('button')].some((b) => b.textContent === 'Start terminal' && !b.disabled),
    null,
    { timeout: 60_000, polling: 10 },
  )
  await page.getByRole('radio', { name: runner === 'browser' ? /in your browser/i : /wasi/i }).check()
  if (leadMs > 0) {
    // a visitor's pointer is over the button a moment before the click (what the page loads ahead)
    await page.getByRole('button', { name: 'Start terminal' }).hover()
    await Bun.sleep(leadMs)
  }
  const cpuStart = cpuNs(server.pid)
  const startedAt = performance.now()
  // The click loads the terminal's chunk (xterm.js), which then starts the session: the prompt is
  // looked for as soon as the terminal exists, then on every write xterm parses.
  const t = await page.evaluate(
    () =>
      new Promise<{ start: number; prompt: number; painted: number; marks: Record<string, number> }>(
        (resolve, reject) => {
          const button = [...document.querySelectorAll('button')].find((b) => b.textContent === 'Start terminal')
          const timer = setTimeout(() => reject(new Error('no prompt within 60 s')), 60_000)
          const start = performance.now()
          const done = () => {
            const prompt = performance.now()
            clearTimeout(timer)
            const marks: Record<string, number> = {}
            for (const m of performance.getEntriesByType('mark')) {
              const name = m.name.replace(/^browser-runner:/, '')
              if (name !== m.name || m.name.startsWith('terminal:')) marks[name] = Math.round(m.startTime - start)
            }
            // xterm draws in an animation frame: the prompt is on screen once that frame is rendered,
            // i.e. at the first task after it (a message, not a clamped timer)
            requestAnimationFrame(() => {
              const ch = new MessageChannel()
              ch.port1.onmessage = () => resolve({ start, prompt, painted: performance.now(), marks })
              ch.port2.postMessage(0)
            })
          }
          const watch = () => {
            const term = window.__shellfolio?.term
            // a panel mounted ahead of the click is invisible until the click reveals it
            if (!term?.element?.checkVisibility({ visibilityProperty: true })) {
              setTimeout(watch, 1)
              return
            }
            const atPrompt = () => {
              const b = term.buffer.active
              return /\$ $/.test(
                `${b
                  .getLine(b.baseY + b.cursorY)
                  ?.translateToString(false)
                  .trimEnd()} `,
              )
            }
            if (atPrompt()) return done()
            const sub = term.onWriteParsed(() => {
              if (!atPrompt()) return
              sub.dispose()
              done()
            })
          }
          button?.click()
          watch()
        },
      ),
  )
  return {
    page,
    loadToPrompt: t.prompt,
    startToPrompt: t.prompt - t.start,
    startToPainted: t.painted - t.start,
    bytes: bytes(),
    cpuStart,
    startedAt,
    marks: t.marks,
  }
}

/**
 * Echo latency of `n` keys at the prompt, then the line is erased (Ctrl-U): ms until the key is in
 * xterm's buffer (`parsed`), and until the animation frame that paints it has run (`screen`: xterm
 * renders in a requestAnimationFrame, so this adds the wait for the next frame).
 */
async function echo(page: Page, n: number): Promise<{ parsed: number[]; screen: number[] }> {
  return page.evaluate(async (n) => {
    const term = window.__shellfolio!.term
    const parsed: number[] = []
    const screen: number[] = []
    const letters = 'abcdefghijklmnopqrstuvwxyz'
    for (let i = 0; i < n; i++) {
      const ch = letters[i % letters.length]!
      const b = term.buffer.active
      const x = b.cursorX
      const y = b.baseY + b.cursorY
      const [p, s] = await new Promise<[number, number]>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no echo of ${ch} within 10 s`)), 10_000)
        const sub = term.onWriteParsed(() => {
          const line = term.buffer.active.getLine(y)?.translateToString(false) ?? ''
          if (line[x] !== ch) return
          const t1 = performance.now()
          sub.dispose()
          clearTimeout(timer)
          requestAnimationFrame(() => resolve([t1 - t0, performance.now() - t0]))
        })
        const t0 = performance.now()
        term.input(ch, true)
      })
      parsed.push(p)
      screen.push(s)
      // a pause between keys, as typing has
      await new Promise((r) => setTimeout(r, 15))
    }
    term.input('\x15', true)
    await new Promise((r) => setTimeout(r, 50))
    return { parsed, screen }
  }, n)
}

/** Types `line` and Enter; ms from Enter until the next prompt is in xterm's buffer. */
async function run(page: Page, line: string): Promise<number> {
  await page.evaluate((l) => window.__shellfolio!.term.input(l, true), line)
  return page.evaluate(
    () =>
      new Promise<number>((resolve, reject) => {
        const term = window.__shellfolio!.term
        const row = term.buffer.active.baseY + term.buffer.active.cursorY
        const timer = setTimeout(() => reject(new Error('no prompt within 60 s')), 60_000)
        const sub = term.onWriteParsed(() => {
          const b = term.buffer.active
          if (b.type !== 'normal' || b.baseY + b.cursorY <= row) return
          if (
            !/\$ $/.test(
              `${b
                .getLine(b.baseY + b.cursorY)
                ?.translateToString(false)
                .trimEnd()} `,
            )
          )
            return
          const t1 = performance.now()
          sub.dispose()
          clearTimeout(timer)
          resolve(t1 - t0)
        })
        const t0 = performance.now()
        term.input('\r', true)
      }),
  )
}

/** Ends the session as the Stop button does, then closes the page. */
async function close(o: Opened): Promise<void> {
  const stop = o.page.getByRole('button', { name: 'Stop', exact: true })
  if (await stop.isVisible().catch(() => false)) {
    await stop.click()
    await o.page
      .locator('.terminal-status')
      .getByText(/exit|ended|Start/i)
      .first()
      .waitFor({ timeout: 10_000 })
      .catch(() => {})
  }
  await o.page.close()
}

/** CPU seconds of every Chromium process so far (the tab's renderer runs its workers). */
async function browserCpuS(): Promise<number> {
  const cdp = await browser.newBrowserCDPSession()
  try {
    const { processInfo } = (await cdp.send('SystemInfo.getProcessInfo')) as { processInfo: { cpuTime: number }[] }
    return processInfo.reduce((n, p) => n + p.cpuTime, 0)
  } finally {
    await cdp.detach()
  }
}

/**
 * A program computing without WASI calls (`life -n 100000000`): Chromium's CPU use (share of one
 * core) over `ms` while it runs, then over `ms` once Ctrl-Z stopped it; then it is ended (fg, Ctrl-C).
 */
async function stoppedCpu(context: BrowserContext, ms: number): Promise<{ running: number; stopped: number }> {
  const o = await open(context, 'life', 'browser')
  const term = (data: string) => o.page.evaluate((d) => window.__shellfolio!.term.input(d, true), data)
  await term('./life -n 100000000 -s 7 -w 40 -h 20\r')
  await Bun.sleep(300)
  const a = await browserCpuS()
  await Bun.sleep(ms)
  const running = (await browserCpuS()) - a
  await term('\x1a')
  await o.page.waitForFunction(
    () => {
      const b = window.__shellfolio!.term.buffer.active
      for (let y = 0; y < b.length; y++) if (/Stopped/.test(b.getLine(y)?.translateToString(true) ?? '')) return true
      return false
    },
    null,
    { timeout: 10_000 },
  )
  await Bun.sleep(200)
  const b = await browserCpuS()
  await Bun.sleep(ms)
  const stopped = (await browserCpuS()) - b
  await term('fg\r')
  await Bun.sleep(200)
  await term('\x03')
  await close(o)
  return { running: (running * 1000) / ms, stopped: (stopped * 1000) / ms }
}

const newContext = () => browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 } })

test('browser runner bench', async () => {
  const started = new Date()
  const loadStart = loadavg()
  const runners: Runner[] = ['browser', 'wasi']
  const cold: Record<Runner, Opened[]> = { browser: [], wasi: [] }
  const warm: Record<Runner, Opened[]> = { browser: [], wasi: [] }
  const echoes: Record<Runner, number[]> = { browser: [], wasi: [] }
  const painted: Record<Runner, number[]> = { browser: [], wasi: [] }
  const calc: Record<Runner, number[]> = { browser: [], wasi: [] }
  const life: Record<Runner, number[]> = { browser: [], wasi: [] }
  const cpuMs: Record<Runner, number[]> = { browser: [], wasi: [] }
  const sessionMs: Record<Runner, number[]> = { browser: [], wasi: [] }
  const noLead: number[] = []
  const noLeadPainted: number[] = []
  const budget = () => {
    if (Date.now() > deadline) throw new Error(`the browser bench ran past its budget (${BUDGET_MS / 1000} s)`)
  }

  // the API process's own CPU with no visitor (timers, GC), to read the per-session figure against
  const idle0 = cpuNs(server.pid)
  await Bun.sleep(2000)
  const idleCpuMsPerS = round((cpuNs(server.pid) - idle0) / 1e6 / 2, 2)

  for (let i = 0; i < SAMPLES; i++) {
    for (const runner of runners) {
      budget()
      // cold: a fresh context has no HTTP cache, no compiled code cache
      const context = await newContext()
      const c = await open(context, 'calc', runner)
      cold[runner].push(c)
      await close(c)
      // warm: the same context, a later visit of the same page
      const w = await open(context, 'calc', runner)
      warm[runner].push(w)
      const e = await echo(w.page, ECHO_KEYS)
      echoes[runner].push(...e.parsed)
      painted[runner].push(...e.screen)
      calc[runner].push(await run(w.page, './calc < examples/session.txt'))
      cpuMs[runner].push((cpuNs(server.pid) - w.cpuStart) / 1e6)
      sessionMs[runner].push(performance.now() - w.startedAt)
      await close(w)
      if (runner === 'browser') {
        const n = await open(context, 'calc', runner, 0)
        noLead.push(n.startToPrompt)
        noLeadPainted.push(n.startToPainted)
        await close(n)
      }
      const l = await open(context, 'life', runner)
      life[runner].push(await run(l.page, './life -n 100 patterns/glider.rle'))
      await close(l)
      await context.close()
    }
  }
  const cpuShares: { running: number; stopped: number }[] = []
  {
    const context = await newContext()
    for (let i = 0; i < 3; i++) cpuShares.push(await stoppedCpu(context, 2000))
    await context.close()
  }
  const stoppedShare = {
    'running (cores)': round(median(cpuShares.map((c) => c.running)), 2),
    'stopped by Ctrl-Z (cores)': round(median(cpuShares.map((c) => c.stopped)), 2),
  }
  const loadEnd = loadavg()

  const rows = runners.map((r) => ({
    runner: r === 'browser' ? 'browser (tab)' : 'wasi (server)',
    'cold load→prompt ms': round(median(cold[r].map((o) => o.loadToPrompt))),
    'cold start→prompt ms': round(median(cold[r].map((o) => o.startToPrompt))),
    'warm load→prompt ms': round(median(warm[r].map((o) => o.loadToPrompt))),
    'warm start→prompt ms': round(median(warm[r].map((o) => o.startToPrompt))),
    'cold start→painted ms': round(median(cold[r].map((o) => o.startToPainted))),
    'warm start→painted ms': round(median(warm[r].map((o) => o.startToPainted))),
    'cold KiB before prompt': round(median(cold[r].map((o) => o.bytes)) / 1024),
    'warm KiB before prompt': round(median(warm[r].map((o) => o.bytes)) / 1024),
    'echo median ms': round(median(echoes[r]), 2),
    'echo p95 ms': round(p95(echoes[r]), 2),
    'echo painted median ms': round(median(painted[r]), 2),
    'calc ms': round(median(calc[r])),
    'life -n 100 ms': round(median(life[r])),
    'server CPU ms/session': round(median(cpuMs[r]), 2),
    'net of idle ms/session': round(median(cpuMs[r].map((c, i) => c - (idleCpuMsPerS * sessionMs[r][i]!) / 1000)), 2),
  }))
  const ratio = (a: number, b: number) => `${round(a / b, 2)}×`
  const b = rows[0]!
  const wv = rows[1]!
  const ratios = {
    'warm start→prompt with no pointer lead (browser)': `${round(median(noLead))} ms`,
    'warm start→painted with no pointer lead (browser)': `${round(median(noLeadPainted))} ms`,
    'warm start→prompt (browser / wasi)': ratio(b['warm start→prompt ms'], wv['warm start→prompt ms']),
    'warm start→painted (browser / wasi)': ratio(b['warm start→painted ms'], wv['warm start→painted ms']),
    'echo median (browser / wasi)': ratio(b['echo median ms'], wv['echo median ms']),
  }
  const markNames = [...new Set(warm.browser.flatMap((o) => Object.keys(o.marks)))]
  const steps = (list: Opened[]) =>
    Object.fromEntries(markNames.map((m) => [m, round(median(list.map((o) => o.marks[m] ?? Number.NaN)))]))
  const profile = [
    { visit: 'cold', ...steps(cold.browser) },
    { visit: 'warm', ...steps(warm.browser) },
  ]
  const targets = {
    [`warm start→painted (prompt on screen) ≤ ${TARGETS.warmOpenMs} ms`]:
      b['warm start→painted ms'] <= TARGETS.warmOpenMs,
    [`echo ≤ ${TARGETS.echoMs} ms`]: b['echo median ms'] <= TARGETS.echoMs,
    [`cold first prompt (load→prompt) ≤ ${TARGETS.coldFirstPromptMs} ms`]:
      b['cold load→prompt ms'] <= TARGETS.coldFirstPromptMs,
  }
  const columns = Object.keys(rows[0]!)
  console.log(
    `\nBrowser runner benchmark — ${started.toISOString()}, pointer over Start ${LEAD_MS} ms before the click, medians of ${SAMPLES} (echo: ${SAMPLES}×${ECHO_KEYS} keys), load average ${loadStart.split(' ')[0]} → ${loadEnd.split(' ')[0]}\n`,
  )
  console.log(table(rows, columns))
  console.log('\nratios:', ratios)
  console.log(`API process CPU with no session: ${idleCpuMsPerS} ms per second`)
  console.log('\nbrowser runner start-up, ms after the Start click (medians):\n')
  console.log(table(profile, ['visit', ...markNames]))
  console.log('\nChromium CPU, life -n 100000000 in the tab (medians of 3 × 2 s):', stoppedShare)
  console.log('\ntargets:', targets)
  writeResults(
    'browser',
    { started, loadStart, loadEnd },
    {
      samples: SAMPLES,
      echoKeys: ECHO_KEYS,
      rows,
      ratios,
      idleCpuMsPerS,
      stoppedShare,
      profile,
      targets,
      raw: {
        cold: Object.fromEntries(runners.map((r) => [r, cold[r].map(({ page: _, ...o }) => o)])),
        warm: Object.fromEntries(runners.map((r) => [r, warm[r].map(({ page: _, ...o }) => o)])),
        echoes,
        painted,
        calc,
        life,
        cpuMs,
        sessionMs,
        noLead,
        noLeadPainted,
      },
    },
  )
  expect(rows.length).toBe(2)
}, 900_000)
