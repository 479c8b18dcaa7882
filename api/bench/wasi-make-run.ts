/**
 * One "server start" for api/bench/wasi-make.bench.ts, in its own process so the compiler and its
 * cache start cold: creates a WASI runner as the server does (the compiler loading in the
 * background unless WASI_MAKE_PREWARM=0, the compile cache off with WASI_MAKE_CACHE=0), waits
 * WASI_MAKE_ARRIVE_MS for the first visitor, then times `make` of minirt (Enter → its end) in a
 * fresh session, twice: the first make after the start, then the make of the unmodified project
 * by a second visitor. Prints one JSON line.
 */
import { outputLine, track } from '@shellfolio/runner/contract'
import { createWasiRunner, Toolchain } from '@shellfolio/runner/wasi'
import { wasmProject } from '../../runner/src/test-fixtures.ts'
import { HOME } from '../../runner/src/wasi/home.ts'

const prewarm = process.env.WASI_MAKE_PREWARM !== '0'
const cache = process.env.WASI_MAKE_CACHE !== '0'
const arriveMs = Number(process.env.WASI_MAKE_ARRIVE_MS ?? 5_000)

const toolchain = new Toolchain(2, true, cache ? {} : { cache: false })
const runner = createWasiRunner({ toolchain, prewarmCompiler: prewarm })
await Bun.sleep(arriveMs)

async function make(n: number): Promise<number> {
  const session = await runner.open({ project: wasmProject('minirt'), size: { cols: 80, rows: 24 } })
  const t = track(session)
  await t.waitFor(/\$ $/, 120_000)
  session.write(`cd ${HOME}/projects/minirt; echo in-${n}\r`)
  await t.waitFor(outputLine(`in-${n}`), 60_000)
  const t0 = performance.now()
  session.write(`make; echo made-${n}\r`)
  await t.waitFor(outputLine(`made-${n}`), 600_000)
  const ms = performance.now() - t0
  if (!/-o miniRT/.test(t.text)) throw new Error(`make did not link miniRT: ${t.text.slice(-400)}`)
  await session.kill()
  return ms
}

const first = await make(1)
const unmodified = await make(2)
console.log(JSON.stringify({ prewarm, cache, arriveMs, first, unmodified, hits: toolchain.cache?.hits ?? 0 }))
await runner.close()
toolchain.close()
process.exit(0)
