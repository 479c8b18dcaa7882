/**
 * Terminal benchmark: `bun test ./api/bench/terminal.bench.ts` (or `bun run bench`).
 * Not a *.test.ts, so normal test runs skip it; it never asserts timings (docs/conventions.md, rule 9).
 *
 * For each available runner, through the whole path (HTTP ticket → WebSocket → session manager →
 * runner), side by side with raw Docker references:
 *   - open → first prompt byte: docker cold (no pool), docker warm (pool), wasi; raw `docker run`
 *   - keystroke echo round trip: whole path vs a raw hijacked `docker attach`; also while another
 *     session runs `make`
 *   - output throughput: `./flood 20000000` (median of SAMPLES runs) through the whole path (client acks
 *     like xterm) vs raw attach; docker and raw runs alternate
 *   - memory per idle session: API process RSS/heap delta over N sessions; sandbox container memory
 *   - minirt: `make` in a fresh session, Enter → prompt (docker: gcc in the
 *     container; wasi: clang-in-WebAssembly; the first make of the process is reported apart, it
 *     loads the compiler), then `./miniRT scenes/demo.rt` at 80x24, Enter → prompt
 * The WASI runner is created without the compiler prewarm, so its first make pays the compiler load
 * in full and no background load disturbs the other figures (production prewarms on the first session).
 * Medians are printed as tables with ratios to the targets and a targets block (figures only, nothing
 * fails), and written to bench-results/terminal.json with the load average at start and end.
 */
import { test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Runner } from '@shellfolio/runner'
import { DockerRunner } from '@shellfolio/runner/docker'
import { REPO_ROOT } from '../src/config.ts'
import { importWasi } from '../src/terminal/runners.ts'
import {
  type BenchServer,
  type BenchSession,
  bootTerminal,
  endTerminal,
  flood,
  loadavg,
  median,
  openTerminal,
  PROMPT,
  round,
  SELFTEST,
  table,
  writeResults,
} from '../test/bench-kit.ts'
import { type Backend, openBackend } from '../test/harness.ts'

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 5)
/** Fresh-session makes of minirt after the first one of the process. */
const MAKE_SAMPLES = Number(process.env.BENCH_MAKE_SAMPLES ?? 5)
const FLOOD_BYTES = 20_000_000
const IDLE_SESSIONS = Number(process.env.BENCH_IDLE_SESSIONS ?? 8)
/** `flood` runs only the output throughput comparison: WASI through the whole path vs raw Docker attach. */
const ONLY = process.env.BENCH_ONLY

/** Targets the medians are compared with (printed as ratios and met / not met; never asserted). */
const TARGETS = { warmOpenMs: 50, wasiOpenMs: 15, echoMs: 1, floodPctOfRaw: 90 }

interface BenchProject {
  slug: string
  sourceDir: string
  policy: { allow: string[] }
  runners: string[]
}

/** A project folder with a project.json (its policy and runners), like the seeded database rows. */
function projectFrom(dir: string): BenchProject {
  const json = JSON.parse(readFileSync(join(dir, 'project.json'), 'utf8')) as {
    slug: string
    policy: { allow: string[] }
    runners?: string[]
  }
  return { slug: json.slug, sourceDir: dir, policy: json.policy, runners: json.runners ?? ['docker', 'wasi'] }
}

const PROJECTS: Record<string, BenchProject> = {
  selftest: { ...SELFTEST, runners: ['docker', 'wasi'] },
  minirt: projectFrom(join(REPO_ROOT, 'wasm-projects/minirt')),
}

interface Variant extends BenchServer {
  name: string
  runner: Runner
  /** Docker runner with a warm pool: wait for a pooled container before each open. */
  pooled: boolean
}

/** One server per variant: the real terminal module over one runner, projects = selftest and minirt. */
async function boot(backend: Backend, name: string, runner: Runner, pooled = false): Promise<Variant> {
  const server = await bootTerminal(backend, runner, (slug) => {
    const p = PROJECTS[slug]
    return p?.runners.includes(runner.kind)
      ? { slug: p.slug, sourceDir: p.sourceDir, policy: p.policy, runners: [runner.kind] }
      : null
  })
  return { ...server, name, runner, pooled }
}

type Session = BenchSession

async function openSession(v: Variant, project = 'selftest'): Promise<Session> {
  if (v.pooled) await waitForPool(v.runner, 1)
  return openTerminal(v, project, v.runner.kind)
}

const endSession = endTerminal

/** Echo round trip of single keystrokes: type `x`, wait until the line shows it (then erase all). */
async function echoRtt(type: (s: string) => void, text: () => string, wait: (pred: () => boolean) => Promise<unknown>) {
  const times: number[] = []
  for (let i = 1; i <= 30; i++) {
    const expected = 'x'.repeat(i)
    const t0 = performance.now()
    type('x')
    await wait(() => text().endsWith(expected))
    times.push(performance.now() - t0)
  }
  type('\x15') // Ctrl-U: clear the line
  return median(times)
}

async function waitForPool(runner: Runner, n: number) {
  const deadline = Date.now() + 60_000
  while ((runner.pool?.ready() ?? n) < n && Date.now() < deadline) await Bun.sleep(20)
}

/** Types `line` + Enter and waits for the prompt to come back: milliseconds and everything printed. */
async function timed(s: Session, line: string, ms = 600_000): Promise<{ ms: number; text: string }> {
  s.client.text = ''
  const t0 = performance.now()
  s.client.type(`${line}\r`)
  await s.client.until(() => (s.client.text.includes('\n') && s.client.text.endsWith('$ ')) || undefined, ms, line)
  return { ms: performance.now() - t0, text: s.client.text }
}

const echoIn = (s: Session) =>
  echoRtt(
    (c) => s.client.type(c),
    () => s.client.text,
    (pred) => s.client.until(() => pred() || undefined, 10_000, 'echo'),
  )

/**
 * minirt on one runner, each sample in a fresh session: `make` (sample 0 is the
 * first make of the process), then `./miniRT scenes/demo.rt` once (first run after the build); the
 * last session renders SAMPLES more times. Then keystroke echo in one session while another makes.
 */
async function minirt(v: Variant): Promise<Record<string, number>> {
  const makes: number[] = []
  const firstRenders: number[] = []
  const repeatRenders: number[] = []
  for (let i = 0; i <= MAKE_SAMPLES; i++) {
    const s = await openSession(v, 'minirt')
    const make = await timed(s, 'make')
    if (!make.text.includes('-o miniRT'))
      throw new Error(`${v.name}: make did not link miniRT: ${make.text.slice(-500)}`)
    makes.push(make.ms)
    const render = await timed(s, './miniRT scenes/demo.rt')
    if (!render.text.includes('\x1b[') || render.text.includes('Error')) {
      throw new Error(`${v.name}: miniRT did not render: ${JSON.stringify(render.text.slice(-300))}`)
    }
    firstRenders.push(render.ms)
    if (i === MAKE_SAMPLES)
      for (let j = 0; j < SAMPLES; j++) repeatRenders.push((await timed(s, './miniRT scenes/demo.rt')).ms)
    await endSession(v, s)
    console.log(`[bench] ${v.name}: make ${round(make.ms)} ms, render ${round(render.ms)} ms`)
  }
  const idle = await openSession(v, 'minirt')
  const busy = await openSession(v, 'minirt')
  busy.client.text = ''
  busy.client.type('make\r')
  await busy.client.output(/-c -o src\//, 600_000) // the first compile has started
  const busyEcho = await echoIn(idle)
  await busy.client.until(() => busy.client.text.endsWith('$ ') || undefined, 600_000, 'make')
  await endSession(v, idle)
  await endSession(v, busy)
  return {
    'make first s': round((makes[0] as number) / 1000, 2),
    'make later s': round(median(makes.slice(1)) / 1000, 2),
    'render first ms': round(median(firstRenders)),
    'render ms': round(median(repeatRenders)),
    'echo during make ms': round(busyEcho, 2),
  }
}

/** Mean memory (usage minus inactive page cache) of this process's running sandbox containers, MB. */
async function containerMemory(docker: DockerRunner): Promise<number> {
  const list = await docker.docker.listContainers({ filters: { label: ['shellfolio.managed=1'], status: ['running'] } })
  const mine = list.filter((c) => c.Labels['shellfolio.owner']?.includes(`/${process.pid}/`))
  const used = await Promise.all(
    mine.map(async (c) => {
      const st = (await docker.docker
        .getContainer(c.Id)
        .stats({ stream: false, 'one-shot': true } as { stream: false })) as unknown as {
        memory_stats?: { usage?: number; stats?: Record<string, number> }
      }
      const m = st.memory_stats ?? {}
      return (m.usage ?? 0) - (m.stats?.inactive_file ?? m.stats?.total_inactive_file ?? 0)
    }),
  )
  return used.length ? used.reduce((a, b) => a + b, 0) / used.length / 1024 / 1024 : Number.NaN
}

/** A bare container with a TTY, attached the way the runner does it, without our stack. */
async function rawAttach(docker: DockerRunner) {
  const container = await docker.docker.createContainer({
    Image: docker.image,
    Cmd: ['bash', '--norc', '--noprofile', '-i'],
    Env: ['PS1=$ ', 'TERM=xterm-256color'],
    Tty: true,
    OpenStdin: true,
    User: '1000:1000',
    WorkingDir: '/tmp',
    HostConfig: { NetworkMode: 'none', AutoRemove: false, LogConfig: { Type: 'none', Config: {} } },
  })
  const stream = (await container.attach({
    stream: true,
    stdin: true,
    stdout: true,
    stderr: true,
    hijack: true,
  })) as NodeJS.ReadWriteStream
  let text = ''
  const waiters = new Set<() => void>()
  stream.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1')
    if (text.length > 128 * 1024) text = text.slice(-64 * 1024)
    for (const w of waiters) w()
  })
  const until = (pred: () => boolean, ms = 60_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (pred()) {
          waiters.delete(check)
          clearTimeout(timer)
          resolve()
        }
      }
      const timer = setTimeout(() => reject(new Error('raw attach timed out')), ms)
      waiters.add(check)
      check()
    })
  await container.start()
  await until(() => PROMPT.test(text))
  return {
    write: (s: string) => stream.write(s),
    text: () => text,
    reset: () => {
      text = ''
    },
    until,
    async close() {
      await container.remove({ force: true }).catch(() => {})
    },
  }
}

/** Time from spawning `docker run` to its first output byte. */
async function rawDockerRun(image: string): Promise<number> {
  const t0 = performance.now()
  const proc = Bun.spawn(
    ['docker', 'run', '--rm', '--network', 'none', '--log-driver', 'none', image, 'echo', 'ready'],
    {
      stdout: 'pipe',
      stderr: 'ignore',
    },
  )
  const reader = proc.stdout.getReader()
  await reader.read()
  const ms = performance.now() - t0
  await proc.exited
  return ms
}

/** A session with `./flood` built: `run()` floods FLOOD_BYTES once and returns MB/s. */
async function floodSession(v: Variant): Promise<{ run(): Promise<number>; close(): Promise<void> }> {
  const s = await openSession(v)
  s.client.type('make flood && echo built-ok\r')
  await s.client.output(/built-ok\r?\n[\s\S]*\$ $/, 600_000)
  return { run: () => flood(s, FLOOD_BYTES), close: () => endSession(v, s) }
}

/** Lets ended sessions finish (recordings stored, sockets closed), then collects garbage twice. */
async function settle() {
  await Bun.sleep(500)
  Bun.gc(true)
  await Bun.sleep(50)
  Bun.gc(true)
}

async function idleMemory(v: Variant): Promise<{ rss: number; heap: number; container?: number }> {
  const open = async () => {
    const sessions = []
    for (let i = 0; i < IDLE_SESSIONS; i++) sessions.push(await openSession(v))
    return sessions
  }
  // A warm-up round first, so allocator pools and lazily loaded code are not counted as sessions.
  for (const s of await open()) await endSession(v, s)
  await settle()
  const before = process.memoryUsage()
  const sessions = await open()
  await settle()
  const after = process.memoryUsage()
  const container = v.runner instanceof DockerRunner ? await containerMemory(v.runner) : undefined
  for (const s of sessions) await endSession(v, s)
  const mb = (n: number) => n / IDLE_SESSIONS / 1024 / 1024
  return { rss: mb(after.rss - before.rss), heap: mb(after.heapUsed - before.heapUsed), container }
}

/** A markdown table (printed, and pasted into README.md as is). */
/** One row per runner that has a figure in `columns`. */
function runnerTable(rows: Record<string, Record<string, number | string>>, columns: string[]): string {
  const used = Object.entries(rows).filter(([, r]) => columns.some((c) => r[c] !== undefined))
  return table(
    used.map(([runner, r]) => ({ runner, ...r })),
    ['runner', ...columns],
  )
}

interface Target {
  name: string
  target: string
  value: number
  unit: string
  figure: string
  met: boolean
}

test.if(ONLY !== 'flood')(
  'terminal benchmark',
  async () => {
    const loadStart = loadavg()
    const started = new Date()
    const backend = await openBackend('embedded')
    const rows: Record<string, Record<string, number | string>> = {}
    const row = (name: string) => {
      rows[name] ??= {}
      return rows[name] as Record<string, number | string>
    }
    const notes: string[] = []

    const { createWasiRunner } = await importWasi()
    const variants: Variant[] = [await boot(backend, 'wasi', createWasiRunner({ prewarmCompiler: false }))]
    const probe = new DockerRunner({ poolSize: 0 })
    const dockerReason = await probe.unavailableReason()
    await probe.close()
    let cold: DockerRunner | undefined
    let warm: DockerRunner | undefined
    if (dockerReason) notes.push(`docker skipped: ${dockerReason}`)
    else {
      cold = new DockerRunner({ poolSize: 0 })
      warm = new DockerRunner({ poolSize: 2 })
      await warm.pool.fill()
      variants.push(await boot(backend, 'docker cold', cold), await boot(backend, 'docker warm pool', warm, true))
    }

    try {
      for (const v of variants) {
        const opens: number[] = []
        for (let i = 0; i < SAMPLES; i++) {
          const s = await openSession(v)
          opens.push(s.ms)
          if (i === 0) row(v.name)['echo rtt ms'] = round(await echoIn(s), 2)
          await endSession(v, s)
        }
        row(v.name)['open→prompt ms'] = round(median(opens))
        const mem = await idleMemory(v)
        row(v.name)['API RSS MB/idle session'] = round(mem.rss, 2)
        row(v.name)['API heap MB/idle session'] = round(mem.heap, 2)
        if (mem.container !== undefined) row(v.name)['container MB/idle session'] = round(mem.container, 2)
        // minirt before the flood: the flood's `make flood` would load the WASI compiler first.
        // Docker builds once, on the warm pool (cold differs only in the open, measured above).
        if (v.name !== 'docker cold') Object.assign(row(v.name), await minirt(v))
        if (v.name === 'wasi') {
          const flood = await floodSession(v)
          const rates: number[] = []
          for (let i = 0; i < SAMPLES; i++) rates.push(await flood.run())
          await flood.close()
          row(v.name)['flood MB/s'] = round(median(rates))
        }
        console.log(`[bench] ${v.name}: ${JSON.stringify(rows[v.name])}`)
      }

      if (cold) {
        const runs: number[] = []
        for (let i = 0; i < SAMPLES; i++) runs.push(await rawDockerRun(cold.image))
        row('raw docker')['open→prompt ms'] = `${round(median(runs))} (docker run → first byte)`
        const raw = await rawAttach(cold)
        try {
          row('raw docker')['echo rtt ms'] = round(
            await echoRtt(
              (c) => raw.write(c),
              raw.text,
              (pred) => raw.until(pred),
            ),
            2,
          )
          raw.write('cc -O2 -o /tmp/flood /opt/shellfolio/projects/selftest/flood.c && echo built-ok\r')
          await raw.until(() => /built-ok\r?\n[\s\S]*\$ $/.test(raw.text()), 120_000)
          const rawRun = async () => {
            raw.reset()
            const t0 = performance.now()
            raw.write(`/tmp/flood ${FLOOD_BYTES}\r`)
            await raw.until(() => raw.text().includes('<<flood end>>'), 300_000)
            const rate = FLOOD_BYTES / 1e6 / ((performance.now() - t0) / 1000)
            await raw.until(() => /<<flood end>>[\s\S]*\$ $/.test(raw.text()), 60_000)
            return rate
          }
          // Docker through the whole path and raw attach alternate, so load drift hits both alike.
          const docker = variants.find((v) => v.name === 'docker cold') as Variant
          const flood = await floodSession(docker)
          const rates: number[] = []
          const whole: number[] = []
          try {
            for (let i = 0; i < SAMPLES; i++) {
              whole.push(await flood.run())
              rates.push(await rawRun())
            }
          } finally {
            await flood.close()
          }
          row('docker cold')['flood MB/s'] = round(median(whole))
          row('raw docker')['flood MB/s'] = round(median(rates))
        } finally {
          await raw.close()
        }
      }
    } finally {
      await Promise.allSettled(variants.map((v) => v.close()))
      await backend.close()
    }
    const loadEnd = loadavg()

    // Ratios: open and echo as a multiple of their target (≤ 1× meets it), throughput as % of raw attach.
    const num = (r: Record<string, number | string> | undefined, c: string) =>
      typeof r?.[c] === 'number' ? (r[c] as number) : Number.NaN
    const rawFlood = num(rows['raw docker'], 'flood MB/s')
    const rawEcho = num(rows['raw docker'], 'echo rtt ms')
    const openTarget: Record<string, number> = { 'docker warm pool': TARGETS.warmOpenMs, wasi: TARGETS.wasiOpenMs }
    for (const [name, r] of Object.entries(rows)) {
      const open = num(r, 'open→prompt ms')
      if (openTarget[name] && Number.isFinite(open))
        r['open ÷ target'] = `${round(open / (openTarget[name] as number), 2)}×`
      const echo = num(r, 'echo rtt ms')
      if (Number.isFinite(echo)) {
        r['echo ÷ target'] = `${round(echo / TARGETS.echoMs, 2)}×`
        if (name !== 'raw docker' && Number.isFinite(rawEcho)) r['echo vs raw'] = `${round(echo / rawEcho, 2)}×`
      }
      const flood = num(r, 'flood MB/s')
      if (Number.isFinite(flood) && Number.isFinite(rawFlood))
        r['flood % of raw'] = `${Math.round((flood / rawFlood) * 100)}% of raw`
    }

    const targets: Target[] = []
    const lower = (name: string, target: string, value: number, limit: number) => {
      if (Number.isFinite(value)) {
        targets.push({ name, target, value, unit: 'ms', figure: `${value} ms`, met: value <= limit })
      }
    }
    lower(
      'docker warm pool: WS open → first prompt p50',
      `≤ ${TARGETS.warmOpenMs} ms`,
      num(rows['docker warm pool'], 'open→prompt ms'),
      TARGETS.warmOpenMs,
    )
    lower(
      'wasi: WS open → first prompt p50',
      `≤ ${TARGETS.wasiOpenMs} ms`,
      num(rows.wasi, 'open→prompt ms'),
      TARGETS.wasiOpenMs,
    )
    for (const name of ['docker warm pool', 'docker cold', 'wasi']) {
      lower(`${name}: keystroke echo p50`, `≤ ${TARGETS.echoMs} ms`, num(rows[name], 'echo rtt ms'), TARGETS.echoMs)
    }
    for (const name of ['docker cold', 'wasi']) {
      const flood = num(rows[name], 'flood MB/s')
      if (Number.isFinite(flood) && Number.isFinite(rawFlood)) {
        const pct = Math.round((flood / rawFlood) * 100)
        targets.push({
          name: `${name === 'docker cold' ? 'docker' : name}: output throughput vs raw docker attach`,
          target: `≥ ${TARGETS.floodPctOfRaw}% of raw`,
          value: pct,
          unit: '% of raw',
          figure: `${flood} MB/s = ${pct}% of raw (${rawFlood} MB/s)`,
          met: pct >= TARGETS.floodPctOfRaw,
        })
      }
    }

    const sessionColumns = [
      'open→prompt ms',
      'open ÷ target',
      'echo rtt ms',
      'echo ÷ target',
      'echo vs raw',
      'echo during make ms',
      'flood MB/s',
      'flood % of raw',
      'API RSS MB/idle session',
      'API heap MB/idle session',
      'container MB/idle session',
    ]
    const buildColumns = ['make first s', 'make later s', 'render first ms', 'render ms']
    const targetLines = targets.map((t) => `- ${t.name} ${t.target}: ${t.figure} — ${t.met ? 'met' : 'NOT met'}`)
    console.log(
      [
        '',
        `Terminal benchmark — ${started.toISOString()}, medians of ${SAMPLES} (make: first of the process, then median of ${MAKE_SAMPLES}); flood ${FLOOD_BYTES / 1e6} MB; ${IDLE_SESSIONS} idle sessions`,
        `load average: start ${loadStart} / end ${loadEnd}`,
        '',
        runnerTable(rows, sessionColumns),
        '',
        'minirt (fresh session: `make`, Enter → prompt; `./miniRT scenes/demo.rt` at 80x24 after make)',
        '',
        runnerTable(rows, buildColumns),
        '',
        'targets:',
        ...targetLines,
      ].join('\n'),
    )
    for (const n of notes) console.log(`note: ${n}`)
    writeResults(
      'terminal',
      { started, loadStart, loadEnd },
      {
        samples: SAMPLES,
        makeSamples: MAKE_SAMPLES,
        floodBytes: FLOOD_BYTES,
        idleSessions: IDLE_SESSIONS,
        wasiCompilerPrewarm: false,
        results: rows,
        targets,
        notes,
      },
    )
  },
  60 * 60_000,
)

/**
 * BENCH_ONLY=flood: `./flood 20000000` in a WASI session through the whole path and in a raw
 * Docker attach, alternating sample by sample (SAMPLES each), so the ratio compares neighbours on a
 * shared machine. Writes bench-results/terminal-flood.json with every sample and its load average.
 */
test.if(ONLY === 'flood')(
  'terminal flood: WASI through the whole path vs raw Docker attach',
  async () => {
    const loadStart = loadavg()
    const started = new Date()
    const backend = await openBackend('embedded')
    const { createWasiRunner } = await importWasi()
    const wasi = await boot(backend, 'wasi', createWasiRunner({ prewarmCompiler: false }))
    const docker = new DockerRunner({ poolSize: 0 })
    const reason = await docker.unavailableReason()
    if (reason) throw new Error(`docker is needed for the raw reference: ${reason}`)
    const samples: { wasi: number; raw: number; loadavg: string }[] = []
    try {
      const session = await floodSession(wasi)
      const raw = await rawAttach(docker)
      try {
        raw.write('cc -O2 -o /tmp/flood /opt/shellfolio/projects/selftest/flood.c && echo built-ok\r')
        await raw.until(() => /built-ok\r?\n[\s\S]*\$ $/.test(raw.text()), 120_000)
        for (let i = 0; i < SAMPLES; i++) {
          const load = loadavg()
          const w = await session.run()
          raw.reset()
          const t0 = performance.now()
          raw.write(`/tmp/flood ${FLOOD_BYTES}\r`)
          await raw.until(() => raw.text().includes('<<flood end>>'), 300_000)
          const r = FLOOD_BYTES / 1e6 / ((performance.now() - t0) / 1000)
          await raw.until(() => /<<flood end>>[\s\S]*\$ $/.test(raw.text()), 60_000)
          samples.push({ wasi: w, raw: r, loadavg: load })
          console.log(
            `[bench] flood sample ${i + 1}: wasi ${round(w, 2)} MB/s, raw ${round(r, 2)} MB/s, load ${load.split(' ')[0]}`,
          )
        }
      } finally {
        await session.close()
        await raw.close()
      }
    } finally {
      await wasi.close()
      await docker.close()
      await backend.close()
    }
    const loadEnd = loadavg()
    const rows: Record<string, string | number>[] = [
      {
        runner: 'wasi (whole path)',
        'flood MB/s': round(median(samples.map((x) => x.wasi)), 2),
        '% of raw (median of per-sample ratios)': `${Math.round(median(samples.map((x) => (100 * x.wasi) / x.raw)))}%`,
      },
      { runner: 'raw docker attach', 'flood MB/s': round(median(samples.map((x) => x.raw)), 2) },
    ]
    console.log(
      `\nFlood ${FLOOD_BYTES / 1e6} MB, medians of ${SAMPLES}, load average ${loadStart.split(' ')[0]} → ${loadEnd.split(' ')[0]}:\n`,
    )
    console.log(table(rows, ['runner', 'flood MB/s', '% of raw (median of per-sample ratios)']))
    writeResults('terminal-flood', { started, loadStart, loadEnd }, { floodBytes: FLOOD_BYTES, samples, rows })
  },
  60 * 60_000,
)
