/**
 * WASI runner benchmarks (not tests: nothing here asserts a timing).
 *
 *   bun runner/src/wasi/bench.ts            all figures, medians of N runs (N=10, or BENCH_RUNS)
 *   bun runner/src/wasi/bench.ts cold-make  one cold `make` of minirt in a fresh process (used by the above)
 */
import { track } from '../contract.ts'
import type { RunnerSession } from '../types.ts'
import { createWasiRunner } from './index.ts'
import { wasmProject } from './test-fixtures.ts'

const RUNS = Number(process.env.BENCH_RUNS ?? 10)
const PROMPT = /\$ $/

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

function fmt(xs: number[]): string {
  const d = median(xs) < 10 ? 3 : 1
  return `median ${median(xs).toFixed(d)} ms  (min ${Math.min(...xs).toFixed(d)}, max ${Math.max(...xs).toFixed(d)}, n=${xs.length})`
}

async function typed(s: RunnerSession, line: string, until: RegExp = PROMPT, ms = 120_000): Promise<number> {
  const t = track(s)
  const t0 = performance.now()
  s.write(`${line}\r`)
  await t.waitFor(until, ms)
  return performance.now() - t0
}

async function coldMake(): Promise<void> {
  // the first compile in the process: no background prewarm, so the load is measured in full
  const runner = createWasiRunner({ prewarmCompiler: process.env.BENCH_PREWARM === '1' })
  const s = await runner.open({ project: wasmProject('minirt'), size: { cols: 80, rows: 24 } })
  await track(s).waitFor(PROMPT)
  await typed(s, 'cd projects/minirt')
  const ms = await typed(s, 'make')
  if (!track(s).text.includes('-o miniRT')) throw new Error('make did not link miniRT')
  console.log(JSON.stringify({ coldMakeMs: ms }))
  await runner.close()
  process.exit(0)
}

async function main(): Promise<void> {
  const runner = createWasiRunner()
  const project = wasmProject('minirt')
  const size = { cols: 80, rows: 24 }

  // open → first prompt byte (the first open of a project also reads its files from disk)
  const open: number[] = []
  for (let i = 0; i < RUNS + 1; i++) {
    const t0 = performance.now()
    const s = await runner.open({ project, size })
    await new Promise<void>((resolve) => {
      const off = s.onData(() => {
        off()
        resolve()
      })
    })
    if (i > 0) open.push(performance.now() - t0)
    await s.kill()
  }
  console.log(`open → first prompt byte:          ${fmt(open)}`)

  const s = await runner.open({ project, size })
  const t = track(s)
  await t.waitFor(PROMPT)

  // keystroke echo round trip (idle process)
  const echo: number[] = []
  for (let i = 0; i < RUNS * 2; i++) {
    const t0 = performance.now()
    s.write('x')
    await t.waitFor(/x$/)
    echo.push(performance.now() - t0)
  }
  s.write('\x15')
  console.log(`keystroke echo round trip:         ${fmt(echo)}`)

  await typed(s, 'cd projects/minirt')
  // warm-up: loads LLVM in this process
  await typed(s, 'make')
  const warm: number[] = []
  for (let i = 0; i < RUNS; i++) {
    await typed(s, 'make clean')
    warm.push(await typed(s, 'make'))
  }
  console.log(`make minirt, warm (clang loaded):  ${fmt(warm)}`)

  // keystroke echo while another session compiles (clang runs in a worker thread)
  const busy = await runner.open({ project, size })
  await track(busy).waitFor(PROMPT)
  await typed(busy, 'cd projects/minirt')
  const busyEcho: number[] = []
  const build = typed(busy, 'make')
  for (let i = 0; i < RUNS * 2; i++) {
    const t0 = performance.now()
    s.write('y')
    await t.waitFor(/y$/)
    busyEcho.push(performance.now() - t0)
  }
  await build
  s.write('\x15')
  console.log(`keystroke echo during a make:      ${fmt(busyEcho)}`)

  const render: number[] = []
  await typed(s, './miniRT scenes/demo.rt')
  for (let i = 0; i < RUNS; i++) render.push(await typed(s, './miniRT scenes/demo.rt'))
  console.log(`./miniRT scenes/demo.rt at 80x24:  ${fmt(render)}`)
  await runner.close()

  const cold: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const proc = Bun.spawn([process.execPath, import.meta.path, 'cold-make'], { stdout: 'pipe', stderr: 'inherit' })
    const text = await new Response(proc.stdout).text()
    await proc.exited
    const line = text.split('\n').find((l) => l.startsWith('{'))
    if (!line) throw new Error(`cold make run failed: ${text}`)
    cold.push((JSON.parse(line) as { coldMakeMs: number }).coldMakeMs)
  }
  console.log(`make minirt, cold (fresh process): ${fmt(cold)}`)
  process.exit(0)
}

if (process.argv[2] === 'cold-make') await coldMake()
else await main()
