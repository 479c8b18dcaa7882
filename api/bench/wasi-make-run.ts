/**
 * One "server start" for api/bench/wasi-make.bench.ts, in its own process so the compiler and its
 * cache start cold: creates a WASI runner as the server does (the compiler loading in the
 * background unless WASI_MAKE_PREWARM=0, the compile cache off with WASI_MAKE_CACHE=0), waits
 * WASI_MAKE_ARRIVE_MS for the first visitor, then times `make` of minirt (Enter → its end) in a
 * fresh session, twice: the first make after the start, then the make of the unmodified project
 * by a second visitor. With WASI_MAKE_VISITORS=n (n > 1), n visitors type `make` at once instead,
 * each in a fresh session (WASI_MAKE_SHARE=0: every session runs its own compiles, as before the
 * toolchain waited for a compile another session was running). Prints one JSON line.
 */
import { outputLine, track } from '@shellfolio/runner/contract'
import { createWasiRunner, Toolchain } from '@shellfolio/runner/wasi'
import { wasmProject } from '../../runner/src/test-fixtures.ts'
import { HOME } from '../../runner/src/wasi/home.ts'

const prewarm = process.env.WASI_MAKE_PREWARM !== '0'
const cache = process.env.WASI_MAKE_CACHE !== '0'
const arriveMs = Number(process.env.WASI_MAKE_ARRIVE_MS ?? 5_000)

const visitors = Number(process.env.WASI_MAKE_VISITORS ?? 1)
const share = process.env.WASI_MAKE_SHARE !== '0'

const toolchain = new Toolchain(2, true, { ...(cache ? {} : { cache: false }), shareCompiles: share })
const runner = createWasiRunner({ toolchain, prewarmCompiler: prewarm })
await Bun.sleep(arriveMs)

/** A session in minirt's folder, ready for `make`. */
async function ready(n: number) {
  const session = await runner.open({ project: wasmProject('minirt'), size: { cols: 80, rows: 24 } })
  const t = track(session)
  await t.waitFor(/\$ $/, 120_000)
  session.write(`cd ${HOME}/projects/minirt; echo in-${n}\r`)
  await t.waitFor(outputLine(`in-${n}`), 60_000)
  return { session, t }
}

async function make(n: number, opened?: Awaited<ReturnType<typeof ready>>): Promise<number> {
  const { session, t } = opened ?? (await ready(n))
  const t0 = performance.now()
  session.write(`make; echo made-${n}\r`)
  await t.waitFor(outputLine(`made-${n}`), 600_000)
  const ms = performance.now() - t0
  if (!/-o miniRT/.test(t.text)) throw new Error(`make did not link miniRT: ${t.text.slice(-400)}`)
  await session.kill()
  return ms
}

if (visitors > 1) {
  // the sessions open first; then every visitor types `make` at once: until the last is done
  const opened = await Promise.all(Array.from({ length: visitors }, (_, i) => ready(i + 1)))
  const t0 = performance.now()
  const each = await Promise.all(opened.map((o, i) => make(i + 1, o)))
  const all = performance.now() - t0
  const c = toolchain.cache
  console.log(
    JSON.stringify({ visitors, share, all, each, misses: c?.misses ?? 0, hits: c?.hits ?? 0, shared: c?.shared ?? 0 }),
  )
  await runner.close()
  toolchain.close()
  process.exit(0)
}

const first = await make(1)
const unmodified = await make(2)
console.log(JSON.stringify({ prewarm, cache, arriveMs, first, unmodified, hits: toolchain.cache?.hits ?? 0 }))
await runner.close()
toolchain.close()
process.exit(0)
