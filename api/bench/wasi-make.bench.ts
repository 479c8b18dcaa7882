/**
 * WASI builds after a server start (issue 18, part 2; docs/budgets.md, "Compile cache"): minirt's
 * `make` (Enter → its end, a fresh session each) timed in a fresh process per sample
 * (api/bench/wasi-make-run.ts), before and after:
 * - first make after a server start: the compiler loaded by the first compile (before) or in the
 *   background as the runner is created (after); the visitor arrives BENCH_ARRIVE_MS (5 s) after
 *   the start;
 * - make of the unmodified project by a second visitor: without (before) and with (after) the
 *   compile cache shared by the process's sessions.
 * Medians of BENCH_SAMPLES (3), the two variants alternating. Nothing asserts a timing.
 * Then five visitors typing `make` at once in fresh sessions after a start (compile cache on):
 * each session running its own compiles (before) against a compile another session is running
 * being waited for (after).
 */
import { expect, test } from 'bun:test'
import { join } from 'node:path'
import { loadavg, median, round, table, writeResults } from '../test/bench-kit.ts'

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 3)
const ARRIVE_MS = Number(process.env.BENCH_ARRIVE_MS ?? 5_000)
const SCRIPT = join(import.meta.dir, 'wasi-make-run.ts')

type Run = { prewarm: boolean; cache: boolean; first: number; unmodified: number; hits: number }

async function runScript<T>(env: Record<string, string>): Promise<T> {
  const proc = Bun.spawn([process.execPath, SCRIPT], {
    env: { ...process.env, WASI_MAKE_ARRIVE_MS: String(ARRIVE_MS), ...env },
    stdout: 'pipe',
    stderr: 'inherit',
  })
  const out = await new Response(proc.stdout).text()
  if ((await proc.exited) !== 0) throw new Error(`wasi-make-run failed: ${out.slice(-400)}`)
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as T
}

const run = (after: boolean) =>
  runScript<Run>({ WASI_MAKE_PREWARM: after ? '1' : '0', WASI_MAKE_CACHE: after ? '1' : '0' })

test(
  'WASI make: first make after a server start, and make of an unmodified project, before/after',
  async () => {
    const started = new Date()
    const loadStart = loadavg()
    const before: Run[] = []
    const after: Run[] = []
    for (let i = 0; i < SAMPLES; i++) {
      for (const a of [false, true]) {
        const r = await run(a)
        ;(a ? after : before).push(r)
        console.log(
          `${a ? 'after' : 'before'} ${i + 1}/${SAMPLES}: first make ${round(r.first)} ms, unmodified ${round(r.unmodified)} ms (cache hits ${r.hits})`,
        )
      }
    }
    const row = (what: string, runs: Run[], key: 'first' | 'unmodified', target: number) => ({
      case: what,
      'median ms': round(median(runs.map((r) => r[key]))),
      samples: runs.map((r) => round(r[key])).join(', '),
      target: `≤ ${target} ms`,
    })
    const rows = [
      row('first make after start — before (compiler loaded by the first compile)', before, 'first', 2_000),
      row('first make after start — after (loaded in the background at start)', after, 'first', 2_000),
      row('make of the unmodified project — before (no cache)', before, 'unmodified', 300),
      row('make of the unmodified project — after (compile cache)', after, 'unmodified', 300),
    ]
    const loadEnd = loadavg()
    console.log(
      `\nWASI make (minirt), medians of ${SAMPLES}, visitor ${ARRIVE_MS} ms after start, load ${loadStart} → ${loadEnd}\n`,
    )
    console.log(table(rows, Object.keys(rows[0] as object)))
    writeResults(
      'wasi-make',
      { started, loadStart, loadEnd },
      { samples: SAMPLES, arriveMs: ARRIVE_MS, before, after, rows },
    )
    // Not a timing: the cached runs answered from the cache, the uncached ones could not.
    expect(after.every((r) => r.hits >= 5)).toBe(true)
    expect(before.every((r) => r.hits === 0)).toBe(true)
  },
  60 * 60_000,
)

const VISITORS = 5
type Crowd = { share: boolean; all: number; each: number[]; misses: number; hits: number; shared: number }

test(
  'WASI make: five visitors typing make at once after a start, each its own compiles or one compile each',
  async () => {
    const started = new Date()
    const loadStart = loadavg()
    const before: Crowd[] = []
    const after: Crowd[] = []
    for (let i = 0; i < SAMPLES; i++) {
      for (const share of [false, true]) {
        const r = await runScript<Crowd>({ WASI_MAKE_VISITORS: String(VISITORS), WASI_MAKE_SHARE: share ? '1' : '0' })
        ;(share ? after : before).push(r)
        console.log(
          `${share ? 'after' : 'before'} ${i + 1}/${SAMPLES}: all ${VISITORS} done in ${round(r.all)} ms; compiles run ${r.misses - r.shared}, waited for ${r.shared}`,
        )
      }
    }
    const row = (what: string, runs: Crowd[]) => ({
      case: what,
      'median ms (all done)': round(median(runs.map((r) => r.all))),
      samples: runs.map((r) => round(r.all)).join(', '),
      'compiles run (median)': median(runs.map((r) => r.misses - r.shared)),
    })
    const rows = [
      row(`${VISITORS} visitors at once — before (each session its own compiles)`, before),
      row(`${VISITORS} visitors at once — after (a compile running elsewhere is waited for)`, after),
    ]
    const ratio = median(before.map((r) => r.all)) / median(after.map((r) => r.all))
    const loadEnd = loadavg()
    console.log(
      `\nWASI make (minirt), ${VISITORS} visitors at once, medians of ${SAMPLES}, load ${loadStart} → ${loadEnd}; before/after ${ratio.toFixed(2)}×\n`,
    )
    console.log(table(rows, Object.keys(rows[0] as object)))
    writeResults(
      'wasi-make-visitors',
      { started, loadStart, loadEnd },
      { samples: SAMPLES, visitors: VISITORS, before, after, rows, ratio },
    )
    // Not a timing: without sharing no compile is waited for. (With it, whether one is depends on
    // whether a session reaches a key while another compiles it: 0 or 8–12 of minirt's here.)
    expect(before.every((r) => r.shared === 0)).toBe(true)
    expect(after.every((r) => r.misses - r.shared <= 10)).toBe(true)
  },
  60 * 60_000,
)
