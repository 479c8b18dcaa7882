/**
 * Sandbox runtime benchmark: runc against gVisor's runsc (SANDBOX_RUNTIME), side by side through the
 * whole path (HTTP ticket → WebSocket → session manager → Docker runner), as a visitor meets it.
 * `bun test ./api/bench/runtime.bench.ts` (or `bun run bench`); never asserts timings.
 *
 * For each runtime, medians of SAMPLES (runtimes alternate sample by sample, so load drift hits both):
 *   - open → first prompt byte: cold (no pool) and warm (pooled container); raw `docker run --runtime`
 *   - keystroke echo round trip (warm session)
 *   - `./flood 20000000` throughput (client acks like xterm)
 *   - minirt: `make` in a fresh session, Enter → prompt; then
 *     `./miniRT scenes/demo.rt` at 80x24, Enter → prompt
 * Prints a table and the runsc targets (warm open ≤ 50 ms, echo ≤ 1 ms, make ≤ 2.5× runc), and
 * writes bench-results/runtime.json. Fails when the engine lacks runsc: a comparison with one side
 * missing would measure nothing.
 */
import { test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DockerRunner, type SandboxRuntime } from '@shellfolio/runner/docker'
import { REPO_ROOT } from '../src/config.ts'
import {
  type BenchServer,
  type BenchSession,
  bootTerminal,
  endTerminal,
  flood,
  loadavg,
  median,
  openTerminal,
  round,
  SELFTEST,
  table,
  writeResults,
} from '../test/bench-kit.ts'
import { type Backend, openBackend } from '../test/harness.ts'

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 5)
const MAKE_SAMPLES = Number(process.env.BENCH_MAKE_SAMPLES ?? 5)
const FLOOD_BYTES = 20_000_000
const RUNTIMES: SandboxRuntime[] = ['runc', 'runsc']
const TARGETS = { warmOpenMs: 50, echoMs: 1, makeRatio: 2.5 }

const minirtJson = JSON.parse(readFileSync(join(REPO_ROOT, 'wasm-projects/minirt/project.json'), 'utf8')) as {
  policy: { allow: string[] }
}
const PROJECTS: Record<string, { slug: string; sourceDir: string; policy: { allow: string[] } }> = {
  selftest: SELFTEST,
  minirt: { slug: 'minirt', sourceDir: join(REPO_ROOT, 'wasm-projects/minirt'), policy: minirtJson.policy },
}

interface Variant extends BenchServer {
  runtime: SandboxRuntime
  runner: DockerRunner
  pooled: boolean
}

async function boot(backend: Backend, runtime: SandboxRuntime, poolSize: number): Promise<Variant> {
  const runner = new DockerRunner({ poolSize, runtime })
  const reason = await runner.unavailableReason()
  if (reason) {
    await runner.close()
    throw new Error(`the ${runtime} runner is not available: ${reason}`)
  }
  if (runner.runtime !== runtime) throw new Error(`asked for ${runtime}, the runner resolved ${runner.runtime}`)
  await runner.pool.fill()
  const server = await bootTerminal(backend, runner, (slug) => {
    const p = PROJECTS[slug]
    return p ? { ...p, runners: ['docker'] } : null
  })
  return { ...server, runtime, runner, pooled: poolSize > 0 }
}

async function waitForPool(runner: DockerRunner, n: number) {
  const deadline = Date.now() + 60_000
  while (runner.pool.ready() < n && Date.now() < deadline) await Bun.sleep(20) // why: polling the pool with a deadline
}

async function open(v: Variant, project = 'selftest'): Promise<BenchSession> {
  if (v.pooled) await waitForPool(v.runner, 1)
  return openTerminal(v, project, 'docker')
}

/** Echo round trip of single keystrokes: type `x`, wait until the line shows it (then erase all). */
async function echoRtt(s: BenchSession): Promise<number> {
  const times: number[] = []
  for (let i = 1; i <= 30; i++) {
    const expected = 'x'.repeat(i)
    const t0 = performance.now()
    s.client.type('x')
    await s.client.until(() => s.client.text.endsWith(expected) || undefined, 10_000, 'echo')
    times.push(performance.now() - t0)
  }
  s.client.type('\x15') // Ctrl-U: clear the line
  return median(times)
}

/** Types `line` + Enter and waits for the prompt to come back: milliseconds and everything printed. */
async function timed(s: BenchSession, line: string): Promise<{ ms: number; text: string }> {
  s.client.text = ''
  const t0 = performance.now()
  s.client.type(`${line}\r`)
  await s.client.until(() => (s.client.text.includes('\n') && s.client.text.endsWith('$ ')) || undefined, 600_000, line)
  return { ms: performance.now() - t0, text: s.client.text }
}

/** Time from spawning `docker run --runtime <r>` to its first output byte. */
async function rawDockerRun(image: string, runtime: SandboxRuntime): Promise<number> {
  const t0 = performance.now()
  const proc = Bun.spawn(
    [
      'docker',
      'run',
      '--rm',
      '--runtime',
      runtime,
      '--network',
      'none',
      '--log-driver',
      'none',
      image,
      'echo',
      'ready',
    ],
    { stdout: 'pipe', stderr: 'ignore' },
  )
  await proc.stdout.getReader().read()
  const ms = performance.now() - t0
  await proc.exited
  return ms
}

test(
  'sandbox runtime benchmark: runc vs runsc',
  async () => {
    const loadStart = loadavg()
    const started = new Date()
    const backend = await openBackend('embedded')
    const cold: Partial<Record<SandboxRuntime, Variant>> = {}
    const warm: Partial<Record<SandboxRuntime, Variant>> = {}
    const samples: Record<SandboxRuntime, Record<string, number[]>> = { runc: {}, runsc: {} }
    const add = (rt: SandboxRuntime, key: string, value: number) => {
      samples[rt][key] ??= []
      samples[rt][key]?.push(value)
    }
    try {
      for (const rt of RUNTIMES) {
        cold[rt] = await boot(backend, rt, 0)
        warm[rt] = await boot(backend, rt, 2)
      }
      const variant = (set: typeof cold, rt: SandboxRuntime) => set[rt] as Variant

      for (let i = 0; i < SAMPLES; i++) {
        for (const rt of RUNTIMES) {
          const c = await open(variant(cold, rt))
          add(rt, 'open cold ms', c.ms)
          await endTerminal(variant(cold, rt), c)
          const w = await open(variant(warm, rt))
          add(rt, 'open warm ms', w.ms)
          add(rt, 'echo rtt ms', await echoRtt(w))
          await endTerminal(variant(warm, rt), w)
          add(rt, 'docker run ms', await rawDockerRun(variant(cold, rt).runner.image, rt))
        }
      }
      console.log('[bench] opens and echo done')

      const floods = await Promise.all(
        RUNTIMES.map(async (rt) => {
          const v = variant(warm, rt)
          const s = await open(v)
          s.client.type('make flood && echo built-ok\r')
          await s.client.output(/built-ok\r?\n[\s\S]*\$ $/, 120_000)
          return { rt, v, s }
        }),
      )
      for (let i = 0; i < SAMPLES; i++) for (const f of floods) add(f.rt, 'flood MB/s', await flood(f.s, FLOOD_BYTES))
      for (const f of floods) await endTerminal(f.v, f.s)
      console.log('[bench] floods done')

      for (let i = 0; i < MAKE_SAMPLES; i++) {
        for (const rt of RUNTIMES) {
          const v = variant(warm, rt)
          const s = await open(v, 'minirt')
          const make = await timed(s, 'make')
          if (!make.text.includes('-o miniRT'))
            throw new Error(`${rt}: make did not link miniRT: ${make.text.slice(-500)}`)
          add(rt, 'make s', make.ms / 1000)
          const render = await timed(s, './miniRT scenes/demo.rt')
          if (!render.text.includes('\x1b[') || render.text.includes('Error'))
            throw new Error(`${rt}: miniRT did not render: ${JSON.stringify(render.text.slice(-300))}`)
          add(rt, 'render ms', render.ms)
          await endTerminal(v, s)
          console.log(`[bench] ${rt}: make ${round(make.ms)} ms, render ${round(render.ms)} ms`)
        }
      }
    } finally {
      await Promise.allSettled([...Object.values(cold), ...Object.values(warm)].map((v) => v?.close()))
      await backend.close()
    }
    const loadEnd = loadavg()

    const columns = [
      'open cold ms',
      'open warm ms',
      'echo rtt ms',
      'flood MB/s',
      'make s',
      'render ms',
      'docker run ms',
    ]
    const digits: Record<string, number> = { 'echo rtt ms': 2, 'make s': 2 }
    const results: Record<string, Record<string, number>> = {}
    for (const rt of RUNTIMES) {
      results[rt] = Object.fromEntries(columns.map((c) => [c, round(median(samples[rt][c] ?? []), digits[c] ?? 1)]))
    }
    const runc = results.runc as Record<string, number>
    const runsc = results.runsc as Record<string, number>
    const ratio = Object.fromEntries(
      columns.map((c) => [c, `${round((runsc[c] as number) / (runc[c] as number), 2)}×`]),
    ) as Record<string, string>
    const makeRatio = (runsc['make s'] as number) / (runc['make s'] as number)
    const targets = [
      {
        name: 'runsc: warm open → first prompt p50',
        target: `≤ ${TARGETS.warmOpenMs} ms`,
        figure: `${runsc['open warm ms']} ms`,
        met: (runsc['open warm ms'] as number) <= TARGETS.warmOpenMs,
      },
      {
        name: 'runsc: keystroke echo p50',
        target: `≤ ${TARGETS.echoMs} ms`,
        figure: `${runsc['echo rtt ms']} ms`,
        met: (runsc['echo rtt ms'] as number) <= TARGETS.echoMs,
      },
      {
        name: 'runsc: minirt make',
        target: `≤ ${TARGETS.makeRatio}× runc`,
        figure: `${runsc['make s']} s = ${round(makeRatio, 2)}× runc (${runc['make s']} s)`,
        met: makeRatio <= TARGETS.makeRatio,
      },
    ]
    console.log(
      [
        '',
        `Sandbox runtime benchmark — ${started.toISOString()}, medians of ${SAMPLES} (make: ${MAKE_SAMPLES}); flood ${FLOOD_BYTES / 1e6} MB; minirt make and render in a fresh warm session`,
        `load average: start ${loadStart} / end ${loadEnd}`,
        '',
        table(
          [
            { runtime: 'runc', ...runc },
            { runtime: 'runsc (gVisor, ptrace)', ...runsc },
            { runtime: 'runsc ÷ runc', ...ratio },
          ],
          ['runtime', ...columns],
        ),
        '',
        'targets:',
        ...targets.map((t) => `- ${t.name} ${t.target}: ${t.figure} — ${t.met ? 'met' : 'NOT met'}`),
      ].join('\n'),
    )
    writeResults(
      'runtime',
      { started, loadStart, loadEnd },
      { samples: SAMPLES, makeSamples: MAKE_SAMPLES, floodBytes: FLOOD_BYTES, results, ratio, targets, raw: samples },
    )
  },
  60 * 60_000,
)
