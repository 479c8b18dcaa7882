/**
 * Placement benchmark: `bun test ./api/bench/placement.bench.ts` (or `bun run bench`).
 * Not a *.test.ts, so normal test runs skip it; it never asserts timings (docs/conventions.md, rule 9).
 *
 * What the remote runner hop (docs/runners.md) costs: for each back end (docker, wasi), the same
 * sessions through the whole path (HTTP ticket → WebSocket → session manager → runner) with the
 * runner in the API process ("in-process") and behind a runner service ("remote": `bun
 * runner/src/server.ts` started as a separate process on a free port, reached over the internal
 * WebSocket by `createRemotePool`, no Redis: the pool asks the service's /v1/health), in one run:
 *   - open → first prompt byte (a fresh session per sample)
 *   - keystroke echo round trip: p50 of ECHO_KEYS single keystrokes per sample (batches of 40 `x`,
 *     then Ctrl-U + Enter untimed, so the line never wraps)
 *   - output throughput: `./flood 20000000` with a client that acks like xterm
 * Each figure is the median of SAMPLES samples; placements alternate sample by sample (and which
 * one goes first alternates too), so load drift hits both alike.
 *
 * Docker opens are WARM in both placements: both runners keep a pool of 2 started containers, and
 * every docker open (either placement) waits DOCKER_OPEN_GAP_MS after the previous one so the pool
 * has refilled; in-process the bench also checks the pool (`waitForPool`), the service's pool size is
 * not visible over the wire (the open samples are written out, a cold one would stand out).
 * Both placements run the WASI runner with its default compiler prewarm (the service cannot be told
 * otherwise); each variant first opens a work session that builds `flood` with make (which loads the
 * compiler), so no compiler load overlaps a measurement.
 *
 * Printed: a figures table, a ratio table (remote ÷ in-process) and the targets (met / not met; never
 * asserted); written to bench-results/placement.json with the load average at start and end.
 */
import { test } from 'bun:test'
import { cpus } from 'node:os'
import type { Runner, RunnerKind, WarmPool } from '@shellfolio/runner'
import { DockerRunner } from '@shellfolio/runner/docker'
import { createRemotePool, type RemotePool } from '@shellfolio/runner/remote'
import { REPO_ROOT } from '../src/config.ts'
import { importWasi } from '../src/terminal/runners.ts'
import {
  type BenchServer,
  type BenchSession,
  bootTerminal,
  endTerminal,
  flood as floodOnce,
  loadavg,
  median,
  openTerminal,
  round,
  SELFTEST,
  table,
  writeResults,
} from '../test/bench-kit.ts'
import { type Backend, openBackend } from '../test/harness.ts'
import type { Placement } from '../test/terminal-kit.ts'

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 5)
/** Keystrokes per echo sample. */
const ECHO_KEYS = Number(process.env.BENCH_ECHO_KEYS ?? 200)
const ECHO_BATCH = 40
const FLOOD_BYTES = 20_000_000
/** Between docker opens (both placements), so the warm pool of 2 has refilled. */
const DOCKER_OPEN_GAP_MS = 1_500
const DOCKER_POOL_SIZE = 2

/** Targets for the remote hop (printed as met / not met; never asserted). */
const TARGETS = { echoOverheadMs: 0.5, floodPctOfLocal: 90 }

interface Variant extends BenchServer {
  kind: RunnerKind
  placement: Placement
  name: string
  /** In-process docker: the runner's pool, checked before each open. */
  pool?: WarmPool
}

/** One server per variant: the real terminal module over one runner, the project selftest. */
async function boot(backend: Backend, placement: Placement, runner: Runner, pool?: WarmPool): Promise<Variant> {
  const server = await bootTerminal(backend, runner, (slug) =>
    slug === SELFTEST.slug ? { ...SELFTEST, runners: [runner.kind] } : null,
  )
  return { ...server, kind: runner.kind, placement, name: `${runner.kind} ${placement}`, ...(pool ? { pool } : {}) }
}

type Session = BenchSession

/** Docker opens (either placement): when the previous one was, to keep DOCKER_OPEN_GAP_MS between them. */
let lastDockerOpen = 0
/** In-process pool waits beyond the gap (expected none: then the gap is long enough for a refill). */
const poolWaits: number[] = []

async function openSession(v: Variant): Promise<Session> {
  if (v.kind === 'docker') {
    const wait = lastDockerOpen + DOCKER_OPEN_GAP_MS - Date.now()
    if (wait > 0) await Bun.sleep(wait)
    if (v.pool) {
      const t0 = performance.now()
      const deadline = Date.now() + 60_000
      while (v.pool.ready() < 1 && Date.now() < deadline) await Bun.sleep(20)
      poolWaits.push(performance.now() - t0)
    }
  }
  const s = await openTerminal(v, SELFTEST.slug, v.kind)
  if (v.kind === 'docker') lastDockerOpen = Date.now()
  return s
}

/** Types `line` + Enter and waits for the prompt after the output matching `done`. */
async function run(s: Session, line: string, done: RegExp, ms = 120_000) {
  s.client.text = ''
  s.client.type(`${line}\r`)
  await s.client.output(done, ms)
}

/**
 * Single keystrokes, each timed from the send until its echo is on the line: batches of ECHO_BATCH
 * `x` (the line never wraps at 80 columns), then Ctrl-U and Enter, untimed, until the next prompt.
 */
async function echoKeys(s: Session, keys: number): Promise<number[]> {
  const times: number[] = []
  while (times.length < keys) {
    s.client.text = ''
    const batch = Math.min(ECHO_BATCH, keys - times.length)
    for (let i = 1; i <= batch; i++) {
      const expected = 'x'.repeat(i)
      const t0 = performance.now()
      s.client.type('x')
      await s.client.until(() => s.client.text.endsWith(expected) || undefined, 10_000, 'echo')
      times.push(performance.now() - t0)
    }
    await run(s, '\x15', /\n[\s\S]*\$ $/, 10_000)
  }
  return times
}

/** A free TCP port on 127.0.0.1 (the service gets a fixed one, so the pool knows its URL). */
function freePort(): number {
  const probe = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response() })
  const port = probe.port as number
  probe.stop(true)
  return port
}

interface Service {
  pool: RemotePool
  proc: Bun.Subprocess<'ignore', 'ignore', 'pipe'>
  stderr: () => string
  stop(): Promise<number>
}

/** `bun runner/src/server.ts` as its own process, and the API-side pool once it offers both kinds. */
async function startService(): Promise<Service> {
  const token = `placement-bench-${crypto.randomUUID()}-${crypto.randomUUID()}`
  const port = freePort()
  const proc = Bun.spawn(['bun', 'runner/src/server.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      RUNNER_TOKEN: token,
      RUNNER_PORT: String(port),
      RUNNER_HOST: '127.0.0.1',
      RUNNERS: 'wasi,docker',
      DOCKER_POOL_SIZE: String(DOCKER_POOL_SIZE),
      RUNNER_CAPACITY: '1000',
      LOG_LEVEL: 'silent',
    },
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'pipe',
  })
  let err = ''
  void (async () => {
    const decoder = new TextDecoder()
    for await (const chunk of proc.stderr) err = (err + decoder.decode(chunk, { stream: true })).slice(-8192)
  })()
  const pool = createRemotePool({ urls: [`ws://127.0.0.1:${port}`], token })
  const deadline = Date.now() + 60_000
  for (;;) {
    await pool.refresh()
    const kinds = pool.services()[0]?.info?.kinds
    if (kinds?.wasi && kinds.docker) break
    if (proc.exitCode !== null || Date.now() > deadline) {
      await pool.close()
      proc.kill('SIGTERM')
      await proc.exited
      throw new Error(
        `the runner service did not offer wasi and docker within 60 s (exit ${proc.exitCode}, kinds ${JSON.stringify(kinds ?? null)}): ${err}`,
      )
    }
    await Bun.sleep(200)
  }
  return {
    pool,
    proc,
    stderr: () => err,
    async stop() {
      await pool.close()
      proc.kill('SIGTERM')
      return proc.exited
    },
  }
}

interface Samples {
  open: number[]
  /** Per sample: p50 of its keystrokes. */
  echo: number[]
  /** Every keystroke, all samples. */
  echoAll: number[]
  flood: number[]
}

interface Target {
  name: string
  target: string
  figure: string
  met: boolean
}

const KINDS: RunnerKind[] = ['docker', 'wasi']
const PLACEMENTS: Placement[] = ['in-process', 'remote']

test(
  'placement benchmark: remote runner hop vs in-process',
  async () => {
    const loadStart = loadavg()
    const started = new Date()
    const t0 = performance.now()
    const backend = await openBackend('embedded')
    const probe = new DockerRunner({ poolSize: 0 })
    const dockerReason = await probe.unavailableReason()
    await probe.close()
    if (dockerReason) throw new Error(`docker is needed for this benchmark: ${dockerReason}`)

    const service = await startService()
    const variants: Variant[] = []
    const work = new Map<Variant, Session>()
    const samples = new Map<Variant, Samples>()
    const at = (kind: RunnerKind, placement: Placement) =>
      variants.find((v) => v.kind === kind && v.placement === placement) as Variant
    /** Sample i: both placements of each back end, in-process first on even samples, remote first on odd. */
    const alternate = async (i: number, measure: (v: Variant) => Promise<void>) => {
      for (const kind of KINDS) {
        const order = i % 2 === 0 ? PLACEMENTS : [...PLACEMENTS].reverse()
        for (const placement of order) await measure(at(kind, placement))
      }
    }
    try {
      const docker = new DockerRunner({ poolSize: DOCKER_POOL_SIZE })
      await docker.pool.fill()
      const { createWasiRunner } = await importWasi()
      variants.push(
        await boot(backend, 'in-process', docker, docker.pool),
        await boot(backend, 'remote', service.pool.runner('docker')),
        await boot(backend, 'in-process', createWasiRunner()),
        await boot(backend, 'remote', service.pool.runner('wasi')),
      )
      for (const v of variants) samples.set(v, { open: [], echo: [], echoAll: [], flood: [] })

      // Warm-up, unmeasured: a work session per variant that builds flood (the WASI make loads the
      // compiler), then one batch of keystrokes and a small flood through it.
      for (const v of variants) {
        const s = await openSession(v)
        work.set(v, s)
        await run(s, 'make flood && echo built-ok', /built-ok\r?\n[\s\S]*\$ $/, 300_000)
        await echoKeys(s, ECHO_BATCH)
        await floodOnce(s, 2_000_000)
        console.log(`[bench] ${v.name}: ready (${round((performance.now() - t0) / 1000)} s)`)
      }

      poolWaits.length = 0 // the warm-up's first opens may find the pools still filling
      for (let i = 0; i < SAMPLES; i++) {
        await alternate(i, async (v) => {
          const s = await openSession(v)
          samples.get(v)?.open.push(s.ms)
          await endTerminal(v, s)
        })
      }
      console.log(`[bench] opens done (${round((performance.now() - t0) / 1000)} s)`)
      for (let i = 0; i < SAMPLES; i++) {
        await alternate(i, async (v) => {
          const times = await echoKeys(work.get(v) as Session, ECHO_KEYS)
          const r = samples.get(v) as Samples
          r.echo.push(median(times))
          r.echoAll.push(...times)
        })
      }
      console.log(`[bench] echo done (${round((performance.now() - t0) / 1000)} s)`)
      for (let i = 0; i < SAMPLES; i++) {
        await alternate(i, async (v) => {
          samples.get(v)?.flood.push(await floodOnce(work.get(v) as Session, FLOOD_BYTES))
        })
      }
      console.log(`[bench] flood done (${round((performance.now() - t0) / 1000)} s)`)
    } finally {
      for (const [v, s] of work) await endTerminal(v, s).catch(() => {})
      await Promise.allSettled(variants.map((v) => v.close()))
      const code = await service.stop()
      if (code !== 0) console.log(`note: the runner service exited with ${code}: ${service.stderr()}`)
      await backend.close()
    }
    const loadEnd = loadavg()

    const rows: Record<string, number | string>[] = []
    const medians: Record<string, Record<string, number>> = {}
    for (const v of variants) {
      const r = samples.get(v) as Samples
      const m = {
        openMs: round(median(r.open)),
        echoP50Ms: round(median(r.echo), 3),
        echoP90Ms: round([...r.echoAll].sort((a, b) => a - b)[Math.floor(r.echoAll.length * 0.9)] ?? Number.NaN, 3),
        floodMBps: round(median(r.flood)),
      }
      medians[v.name] = m
      rows.push({
        runner: v.kind,
        placement: v.placement,
        'open→prompt ms': m.openMs,
        'echo p50 ms': m.echoP50Ms,
        'flood MB/s': m.floodMBps,
      })
    }

    const ratioRows: Record<string, number | string>[] = []
    const ratios: Record<string, Record<string, number>> = {}
    const targets: Target[] = []
    for (const kind of KINDS) {
      const local = medians[`${kind} in-process`] as Record<string, number>
      const remote = medians[`${kind} remote`] as Record<string, number>
      const openRatio = round((remote.openMs as number) / (local.openMs as number), 2)
      const echoOverhead = round((remote.echoP50Ms as number) - (local.echoP50Ms as number), 3)
      const floodPct = Math.round(((remote.floodMBps as number) / (local.floodMBps as number)) * 100)
      const echoMet = echoOverhead <= TARGETS.echoOverheadMs
      const floodMet = floodPct >= TARGETS.floodPctOfLocal
      ratios[kind] = {
        openRemoteOverLocal: openRatio,
        echoRemoteOverLocal: round((remote.echoP50Ms as number) / (local.echoP50Ms as number), 2),
        echoOverheadMs: echoOverhead,
        floodPctOfLocal: floodPct,
      }
      ratioRows.push({
        runner: kind,
        'open remote÷local': `${openRatio}×`,
        'echo remote÷local': `${ratios[kind].echoRemoteOverLocal}×`,
        'echo overhead ms': echoOverhead,
        'echo target ≤0.5': echoMet ? 'met' : 'NOT met',
        'flood % of local': `${floodPct}%`,
        'flood target ≥90%': floodMet ? 'met' : 'NOT met',
      })
      targets.push(
        {
          name: `${kind}: remote keystroke echo p50 overhead`,
          target: `≤ ${TARGETS.echoOverheadMs} ms`,
          figure: `${echoOverhead} ms (${remote.echoP50Ms} vs ${local.echoP50Ms} ms)`,
          met: echoMet,
        },
        {
          name: `${kind}: remote output throughput`,
          target: `≥ ${TARGETS.floodPctOfLocal}% of in-process`,
          figure: `${floodPct}% (${remote.floodMBps} vs ${local.floodMBps} MB/s)`,
          met: floodMet,
        },
      )
    }

    const notes: string[] = []
    const longPoolWaits = poolWaits.filter((ms) => ms > 50)
    if (longPoolWaits.length > 0)
      notes.push(
        `in-process docker: ${longPoolWaits.length} of ${poolWaits.length} opens waited for the pool after the ${DOCKER_OPEN_GAP_MS} ms gap (max ${round(Math.max(...longPoolWaits))} ms): the remote service's pool may not always have refilled`,
      )

    console.log(
      [
        '',
        `Placement benchmark — ${started.toISOString()}, medians of ${SAMPLES} alternating samples; echo: p50 of ${ECHO_KEYS} keystrokes per sample; flood ${FLOOD_BYTES / 1e6} MB; docker opens warm (pool ${DOCKER_POOL_SIZE}, ${DOCKER_OPEN_GAP_MS} ms apart)`,
        `load average: start ${loadStart} / end ${loadEnd}; ${cpus().length} CPUs; ${round((performance.now() - t0) / 1000)} s`,
        '',
        table(rows, ['runner', 'placement', 'open→prompt ms', 'echo p50 ms', 'flood MB/s']),
        '',
        table(ratioRows, [
          'runner',
          'open remote÷local',
          'echo remote÷local',
          'echo overhead ms',
          'echo target ≤0.5',
          'flood % of local',
          'flood target ≥90%',
        ]),
        '',
        'targets:',
        ...targets.map((t) => `- ${t.name} ${t.target}: ${t.figure} — ${t.met ? 'met' : 'NOT met'}`),
      ].join('\n'),
    )
    for (const n of notes) console.log(`note: ${n}`)

    const round3 = (xs: number[]) => xs.map((x) => round(x, 3))
    writeResults(
      'placement',
      { started, loadStart, loadEnd },
      {
        samples: SAMPLES,
        echoKeysPerSample: ECHO_KEYS,
        floodBytes: FLOOD_BYTES,
        dockerOpens: `warm: pool of ${DOCKER_POOL_SIZE} in both placements, ${DOCKER_OPEN_GAP_MS} ms between docker opens`,
        medians,
        ratios,
        targets,
        samplesByVariant: Object.fromEntries(
          variants.map((v) => {
            const r = samples.get(v) as Samples
            return [v.name, { openMs: round3(r.open), echoP50Ms: round3(r.echo), floodMBps: round3(r.flood) }]
          }),
        ),
        inProcessPoolWaitsMs: round3(poolWaits),
        notes,
      },
    )
  },
  60 * 60_000,
)
