/**
 * Where a warm browser-runner start goes (docs/performance.md, "Browser runner"):
 * `bun run web/bench/browser-profile.ts` opens /projects/calc twice in one Chromium context (the
 * second visit warm), records a V8 CPU profile of the page from the Start click to the prompt on
 * screen (in a visible xterm, its frame rendered) and prints the functions with the most self time.
 * A tool for looking, not a bench: nothing is written.
 */
import { buildSite, launchBrowser, startServer } from '../e2e/harness.ts'

const server = await startServer(await buildSite('e2e'), { RUNNERS: 'wasi' })
const browser = await launchBrowser()
try {
  const context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 } })
  for (const visit of ['cold', 'warm', 'warm']) {
    const page = await context.newPage()
    await page.goto('/projects/calc?e2e')
    await page.waitForFunction(() =>
      [...document.querySelectorAll('button')].some((b) => b.textContent === 'Start terminal' && !b.disabled),
    )
    await page.getByRole('button', { name: 'Start terminal' }).hover()
    await Bun.sleep(300)
    const cdp = await context.newCDPSession(page)
    await cdp.send('Profiler.enable')
    await cdp.send('Profiler.setSamplingInterval', { interval: 100 })
    await cdp.send('Profiler.start')
    const ms = await page.evaluate(
      () =>
        new Promise<number>((resolve) => {
          const t0 = performance.now()
          ;[...document.querySelectorAll('button')].find((b) => b.textContent === 'Start terminal')?.click()
          const poll = () => {
            const term = window.__shellfolio?.term
            // a panel mounted ahead of the click counts once the click has revealed it
            const b = term?.element?.checkVisibility({ visibilityProperty: true }) ? term.buffer.active : undefined
            if (
              b &&
              /\$ $/.test(
                `${b
                  .getLine(b.baseY + b.cursorY)
                  ?.translateToString(false)
                  .trimEnd()} `,
              )
            )
              // then the frame that draws it, rendered (the first task after it)
              requestAnimationFrame(() => {
                const ch = new MessageChannel()
                ch.port1.onmessage = () => resolve(performance.now() - t0)
                ch.port2.postMessage(0)
              })
            else setTimeout(poll, 1)
          }
          poll()
        }),
    )
    const { profile } = (await cdp.send('Profiler.stop')) as {
      profile: {
        nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[]
        samples: number[]
        timeDeltas: number[]
      }
    }
    const byId = new Map(profile.nodes.map((n) => [n.id, n]))
    const self = new Map<string, number>()
    profile.samples.forEach((id, i) => {
      const f = byId.get(id)!.callFrame
      const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber}`
      self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000)
    })
    console.log(`\n${visit}: Start → prompt painted ${ms.toFixed(1)} ms; self time (ms):`)
    for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 18))
      console.log(`  ${v.toFixed(1).padStart(6)}  ${k}`)
    await page.close()
  }
} finally {
  await browser.close()
  await server.stop()
}
