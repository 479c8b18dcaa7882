/**
 * Session open time of the docker runner: cold (no pool) against warm (pooled container), from
 * `open()` to the first prompt, median of N runs. A benchmark, not a test: it asserts nothing.
 *
 *   bun run runner/src/docker/bench-open.ts [runs=10]
 */
import { track } from '../contract.ts'
import { requireDockerRunner, selftestProject } from './fixture.ts'
import type { DockerRunner } from './runner.ts'

const runs = Number(process.argv[2] ?? 10)
const size = { cols: 80, rows: 24 }

async function openToPrompt(runner: DockerRunner): Promise<number> {
  const t0 = performance.now()
  const s = await runner.open({ project: selftestProject(), size })
  await track(s).waitFor(/\$ $/, 20_000)
  const ms = performance.now() - t0
  await s.kill()
  return ms
}

async function poolReady(runner: DockerRunner, want: number): Promise<void> {
  const deadline = Date.now() + 30_000
  while (runner.pooled < want) {
    if (Date.now() > deadline) throw new Error('the pool did not refill within 30 s')
    await Bun.sleep(25)
  }
}

function summary(label: string, samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
  const median = sorted.length % 2 ? at(0.5) : ((sorted[sorted.length / 2 - 1] as number) + at(0.5)) / 2
  return `${label.padEnd(6)} median ${median.toFixed(0).padStart(5)} ms   min ${at(0).toFixed(0).padStart(5)} ms   max ${at(1).toFixed(0).padStart(5)} ms   (n=${samples.length})`
}

const cold = await requireDockerRunner({ poolSize: 0 })
const coldSamples: number[] = []
await openToPrompt(cold) // first use also reaps; not counted
for (let i = 0; i < runs; i++) coldSamples.push(await openToPrompt(cold))
await cold.close()

const warm = await requireDockerRunner({ poolSize: 2 })
await warm.start()
const warmSamples: number[] = []
for (let i = 0; i < runs; i++) {
  await poolReady(warm, 2)
  warmSamples.push(await openToPrompt(warm))
}
await warm.close()

console.log(`docker session open → first prompt (image ${warm.image})`)
console.log(summary('cold', coldSamples))
console.log(summary('warm', warmSamples))
