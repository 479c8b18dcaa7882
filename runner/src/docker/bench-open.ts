/**
 * Session open time of the docker runner: cold (no pool) against warm (pooled container), from
 * `open()` to the first prompt, median of N runs. A benchmark, not a test: it asserts nothing.
 *
 *   bun run runner/src/docker/bench-open.ts [runs=10]
 */
import { track } from '../contract.ts'
import { selftestProject } from '../test-fixtures.ts'
import type { DockerRunner } from './runner.ts'
import { poolReady, requireDockerRunner } from './test-fixtures.ts'

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
const warmSamples: number[] = []
for (let i = 0; i < runs; i++) {
  await poolReady(warm.pool, 2)
  warmSamples.push(await openToPrompt(warm))
}
await warm.close()

console.log(`docker session open → first prompt (image ${warm.image})`)
console.log(summary('cold', coldSamples))
console.log(summary('warm', warmSamples))
