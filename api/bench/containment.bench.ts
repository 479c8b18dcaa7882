/**
 * Containment under load (docs/budgets.md): 50 abusive WASI sessions at once, a mix of the attacks
 * of the containment suite (api/test/containment), while a normal visitor runs
 * `make && ./miniRT scenes/demo.rt`. Measured: the visitor's `make` (Enter →
 * prompt, each sample in a fresh session) unloaded and loaded, the render, and `/healthz` p50/p99 in
 * both phases. Targets: loaded make within 3× unloaded, `/healthz` p99 under 500 ms.
 *
 * A real API process (api/test/containment/kit.ts `startStack`), runners in process unless
 * BENCH_CONTAINMENT_PLACEMENT=remote. Samples: BENCH_MAKE_SAMPLES (default 3), abusers:
 * BENCH_ABUSERS (default 50), attacks: BENCH_ABUSE_KINDS (default all five, in turn). Nothing asserts a timing; the figures go to the README.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { INPUT_LIMITS } from '@shellfolio/runner/terminal-protocol'
import { loadavg, median, round, table, writeResults } from '../test/bench-kit.ts'
import {
  MiB,
  type Placement,
  type ProbeResult,
  probe,
  rss,
  type Stack,
  startStack,
  treeRss,
  Visitor,
  writeFile,
} from '../test/containment/kit.ts'

const SAMPLES = Number(process.env.BENCH_MAKE_SAMPLES ?? 3)
const ABUSERS = Number(process.env.BENCH_ABUSERS ?? 50)
/**
 * BENCH_EDITED_MAKE=1: the visitor first appends a declaration to a header every source includes, so
 * each compile misses the shared compile cache and really competes for the compile slots.
 */
const EDITED = process.env.BENCH_EDITED_MAKE === '1'
const PLACEMENT: Placement = process.env.BENCH_CONTAINMENT_PLACEMENT === 'remote' ? 'remote' : 'in-process'

const WORDS = Array.from({ length: 200 }, () => 'w').join(' ')
const MAKE_BOMB = `X := \${foreach a,${WORDS},\${foreach b,${WORDS},\${foreach c,${WORDS},\${foreach d,${WORDS},xx}}}}\nall: ;@echo expanded\n`
const INCLUDE_BOMB = '#if __INCLUDE_LEVEL__ < 22\n#include __FILE__\n#include __FILE__\n#endif\n'
/** A spinning program, built from calc's own sources with `main` redefined (kit.ts `writeFile` does the same). */
const SPIN_BUILD = `cc '-Dmain=main(void){volatile unsigned long i=0;for(;;)i++;} int replaced_main' src/main.c src/eval.c -o spin`

type Kind = 'line-editor' | 'make-bomb' | 'compile-bomb' | 'spin' | 'input-flood'
const ALL_KINDS: Kind[] = ['line-editor', 'make-bomb', 'compile-bomb', 'spin', 'input-flood']
/** BENCH_ABUSE_KINDS=spin,make-bomb… runs only those attacks (to see which one costs what). */
const KINDS: Kind[] = process.env.BENCH_ABUSE_KINDS
  ? ALL_KINDS.filter((k) => (process.env.BENCH_ABUSE_KINDS ?? '').split(',').includes(k))
  : ALL_KINDS

interface Abuser {
  kind: Kind
  v: Visitor
  /** Sends the attack again (each one is stopped by its budget after a while). */
  strike(): void
}

let stack: Stack
const started = new Date()
const loadStart = loadavg()

beforeAll(async () => {
  // BENCH_API_PROFILE=<dir>: the API process writes a CPU profile (Markdown) there when it stops
  const profile: Record<string, string> = process.env.BENCH_API_PROFILE
    ? { BUN_OPTIONS: `--cpu-prof-md --cpu-prof-dir=${process.env.BENCH_API_PROFILE}` }
    : {}
  stack = await startStack(PLACEMENT, {
    env: { TERMINAL_MAX_SESSIONS: '500', TERMINAL_MAX_PER_IP: '500', ...profile },
  })
}, 300_000)
afterAll(() => stack?.stop(), 120_000)

/** One make of minirt in a fresh session, Enter → prompt, then the render; both in ms. */
async function visitor(): Promise<{ make: number; render: number }> {
  const v = await Visitor.open(stack, { project: 'minirt', readyMs: 120_000 })
  try {
    if (EDITED)
      await v.run(`echo 'extern int bench_edit_${Math.random().toString(36).slice(2, 10)};' >> src/vec.h`, 60_000)
    const t0 = performance.now()
    const made = await v.run('make', 600_000)
    const make = performance.now() - t0
    if (!made.includes('miniRT')) throw new Error(`make did not build miniRT: ${made.slice(-500)}`)
    const t1 = performance.now()
    await v.run('./miniRT scenes/demo.rt', 300_000)
    return { make, render: performance.now() - t1 }
  } finally {
    v.close()
  }
}

async function measure(label: string): Promise<{ makes: number[]; renders: number[]; health: ProbeResult }> {
  const p = probe({ healthChecks: stack.healthChecks.slice(0, 1) }, 50)
  const makes: number[] = []
  const renders: number[] = []
  for (let i = 0; i < SAMPLES; i++) {
    const r = await visitor()
    makes.push(r.make)
    renders.push(r.render)
    console.log(`${label} sample ${i + 1}/${SAMPLES}: make ${round(r.make / 1000, 2)} s, render ${round(r.render)} ms`)
  }
  const [health] = await p.stop()
  return { makes, renders, health: health as ProbeResult }
}

/** Opens one abusive session of `kind` and prepares its files. */
async function abuser(kind: Kind, n: number): Promise<Abuser> {
  const v = await Visitor.open(stack, { ack: kind !== 'line-editor', keep: 4096, readyMs: 300_000 })
  if (kind === 'make-bomb') await writeFile(v, 'bomb.mk', MAKE_BOMB)
  if (kind === 'compile-bomb') await writeFile(v, 'x.c', INCLUDE_BOMB)
  if (kind === 'spin') await v.run(SPIN_BUILD, 600_000)
  const frame = new Uint8Array(INPUT_LIMITS.maxFrame).fill(0x61 + (n % 26))
  const strike: Record<Kind, () => void> = {
    'line-editor': () => {
      v.type('\x03')
      v.type(`pwd ${'x'.repeat(200_000)}`)
      v.type('\x01\x05'.repeat(1500))
    },
    'make-bomb': () => v.type('\x03make -f bomb.mk\r'),
    'compile-bomb': () => v.type('\x03cc -c x.c -o x.o\r'),
    spin: () => v.type('\x03./spin\r'),
    'input-flood': () => {
      v.type('\x03')
      // 4 MiB of keystrokes at the prompt in the largest frames, unpaced.
      for (let i = 0; i < 64; i++) v.send(frame)
    },
  }
  return { kind, v, strike: strike[kind] }
}

test(
  `containment under load: ${ABUSERS} abusive WASI sessions while a visitor builds and renders minirt`,
  async () => {
    // The first make of a process loads the compiler: done once before anything is measured.
    await visitor()
    const unloaded = await measure('unloaded')

    console.log(`opening ${ABUSERS} abusive sessions…`)
    const tOpen = performance.now()
    const abusers: Abuser[] = []
    // Opened in small batches: preparing them compiles (bounded by the runner's compile permits).
    for (let i = 0; i < ABUSERS; i += 10) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(10, ABUSERS - i) }, (_, j) =>
          abuser(KINDS[(i + j) % KINDS.length] as Kind, i + j),
        ),
      )
      abusers.push(...batch)
    }
    const openSeconds = (performance.now() - tOpen) / 1000
    const apiBefore = rss(stack.api.pid)
    const treeBefore = treeRss(stack.workerPid)
    for (const a of abusers) a.strike()
    // Each attack is ended by its budget after a while; every 5 s they all strike again.
    const again = setInterval(() => {
      for (const a of abusers) a.strike()
    }, 5_000)
    let apiPeak = apiBefore
    let treePeak = treeBefore
    const sampler = setInterval(() => {
      apiPeak = Math.max(apiPeak, rss(stack.api.pid))
      treePeak = Math.max(treePeak, treeRss(stack.workerPid))
    }, 500)
    let loaded: Awaited<ReturnType<typeof measure>>
    try {
      await Bun.sleep(3_000) // why: let every attack get going before the visitor starts
      loaded = await measure('loaded')
    } finally {
      clearInterval(again)
      clearInterval(sampler)
    }
    const alive = abusers.filter((a) => !a.v.closed).length
    // Sessions their budgets ended (e.g. a session host over its memory limit), by attack and reason.
    const ended: Record<string, number> = {}
    for (const a of abusers) {
      const exit = a.v.controls.find((c) => c.type === 'exit')
      if (exit) {
        const key = `${a.kind}: ${String(exit.reason)}${exit.message ? ` (${String(exit.message).slice(0, 80)})` : ''}`
        ended[key] = (ended[key] ?? 0) + 1
      }
    }
    for (const a of abusers) a.v.close()

    const makeUnloaded = median(unloaded.makes) / 1000
    const makeLoaded = median(loaded.makes) / 1000
    const ratio = makeLoaded / makeUnloaded
    const rows = [
      {
        phase: 'unloaded',
        'make s (median)': round(makeUnloaded, 2),
        'render ms': round(median(unloaded.renders)),
        'healthz p50 ms': round(unloaded.health.p50, 1),
        'healthz p99 ms': round(unloaded.health.p99, 1),
        'healthz max ms': round(unloaded.health.max, 1),
        'healthz n': unloaded.health.count,
      },
      {
        phase: `${ABUSERS} abusive sessions`,
        'make s (median)': round(makeLoaded, 2),
        'render ms': round(median(loaded.renders)),
        'healthz p50 ms': round(loaded.health.p50, 1),
        'healthz p99 ms': round(loaded.health.p99, 1),
        'healthz max ms': round(loaded.health.max, 1),
        'healthz n': loaded.health.count,
      },
    ]
    const columns = Object.keys(rows[0] as object)
    console.log(
      `\nContainment under load (${PLACEMENT}, ${SAMPLES} samples, load average ${loadStart} → ${loadavg()})\n`,
    )
    console.log(table(rows, columns))
    const targets = [
      `loaded make within 3× unloaded: ${round(ratio, 2)}× — ${ratio <= 3 ? 'met' : 'not met'}`,
      `/healthz p99 under 500 ms while loaded: ${round(loaded.health.p99, 1)} ms — ${loaded.health.p99 < 500 ? 'met' : 'not met'}`,
    ]
    console.log(`\nTargets:\n${targets.map((t) => `- ${t}`).join('\n')}`)
    console.log(
      `\nAbusers: ${ABUSERS} (${KINDS.join(', ')}; ${alive} sessions still open at the end), opened and prepared in ${round(openSeconds, 1)} s; API RSS ${round(apiBefore / MiB)} → peak ${round(apiPeak / MiB)} MiB; process tree RSS ${round(treeBefore / MiB)} → peak ${round(treePeak / MiB)} MiB`,
    )
    if (Object.keys(ended).length > 0) console.log(`Attack sessions ended by a budget: ${JSON.stringify(ended)}`)
    writeResults(
      `${process.env.BENCH_ABUSE_KINDS ? `containment-${KINDS.join('+')}` : 'containment'}${EDITED ? '-edited' : ''}`,
      { started, loadStart, loadEnd: loadavg() },
      {
        placement: PLACEMENT,
        samples: SAMPLES,
        abusers: ABUSERS,
        kinds: KINDS,
        unloaded: { makesMs: unloaded.makes, rendersMs: unloaded.renders, healthz: unloaded.health },
        loaded: { makesMs: loaded.makes, rendersMs: loaded.renders, healthz: loaded.health },
        makeRatio: ratio,
        ended,
        memory: {
          apiRssBeforeMiB: apiBefore / MiB,
          apiRssPeakMiB: apiPeak / MiB,
          treeRssBeforeMiB: treeBefore / MiB,
          treeRssPeakMiB: treePeak / MiB,
        },
        targets,
      },
    )
    // Not a timing: the run measured what it meant to (every loaded sample built miniRT).
    expect(loaded.makes).toHaveLength(SAMPLES)
  },
  60 * 60_000,
)
