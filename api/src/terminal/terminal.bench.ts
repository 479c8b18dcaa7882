/**
 * Terminal benchmark: `bun test ./api/src/terminal/terminal.bench.ts` (or `bun run bench`).
 * Not a *.test.ts, so normal test runs skip it; it never asserts timings (STYLE.md rule 9).
 *
 * For each available runner, through the whole path (HTTP ticket → WebSocket → session manager →
 * runner), side by side with raw Docker references:
 *   - open → first prompt byte: docker cold (no pool), docker warm (pool), wasi; raw `docker run`
 *   - keystroke echo round trip: whole path vs a raw hijacked `docker attach`
 *   - output throughput: `./flood 20000000` through the whole path (client acks like xterm) vs raw attach
 *   - API process memory per idle session (RSS delta over N sessions)
 * Medians are printed as a table and written to bench-results/terminal.json.
 */
import { test } from 'bun:test'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import type { Runner } from '@shellfolio/runner'
import { DockerRunner } from '@shellfolio/runner/docker'
import { Elysia } from 'elysia'
import { REPO_ROOT } from '../config.ts'
import { createLogger } from '../logger.ts'
import { createFilesystemStorage } from '../media/storage.ts'
import { type Backend, openBackend, testConfig } from '../test/harness.ts'
import { terminalModule } from './index.ts'
import { SessionManager } from './manager.ts'
import { importWasi, runnerRegistryOf } from './runners.ts'
import { TermClient } from './test-kit.ts'
import { TicketStore } from './tickets.ts'

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 5)
const FLOOD_BYTES = 20_000_000
const IDLE_SESSIONS = Number(process.env.BENCH_IDLE_SESSIONS ?? 8)
const PROMPT = /\$ $/
const logger = createLogger('silent')

const median = (xs: number[]) => {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d

interface Variant {
  name: string
  url: string
  manager: SessionManager
  runner: Runner
  close(): Promise<void>
}

/** One server per variant: the real terminal module over one runner, projects = the selftest fixture. */
async function boot(backend: Backend, name: string, runner: Runner): Promise<Variant> {
  const config = testConfig({
    TERMINAL_MAX_PER_IP: '1000',
    TERMINAL_MAX_SESSIONS: '1000',
  })
  const runners = runnerRegistryOf([runner])
  await runners.refresh()
  const manager = new SessionManager({
    config: config.terminal,
    runners,
    cache: backend.cache,
    db: backend.database.db,
    storage: createFilesystemStorage(`${config.dataDir}/media`),
    logger,
  })
  const deps = { config, logger, database: backend.database, cache: backend.cache }
  const app = new Elysia().use(
    terminalModule({
      config,
      manager,
      tickets: new TicketStore(backend.cache, config.terminal.ticketTtlMs),
      resolveProject: async (slug) =>
        slug === 'selftest'
          ? {
              slug,
              sourceDir: join(REPO_ROOT, 'runner/fixtures/selftest'),
              policy: { allow: ['ls', 'cd', 'cat', 'echo', 'make', 'cc', 'gcc', './*', 'exit', 'stty', 'clear'] },
              runners: [runner.kind],
            }
          : null,
      auth: deps,
    }),
  )
  app.listen({ hostname: '127.0.0.1', port: 0 })
  const url = `127.0.0.1:${app.server?.port}`
  return {
    name,
    url,
    manager,
    runner,
    async close() {
      await manager.close()
      await app.stop(true)
      await runner.close()
    },
  }
}

async function openSession(v: Variant, autoAck = true): Promise<{ client: TermClient; sessionId: string; ms: number }> {
  const res = await fetch(`http://${v.url}/api/v1/terminal/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ project: 'selftest', runner: v.runner.kind }),
  })
  if (res.status !== 201) throw new Error(`${v.name}: ${res.status} ${await res.text()}`)
  const { data } = (await res.json()) as { data: { ticket: string; sessionId: string } }
  const started = performance.now()
  const client = new TermClient(`ws://${v.url}/api/v1/terminal/ws?ticket=${data.ticket}`, {
    autoAck,
    maxText: 64 * 1024,
  })
  await client.output(PROMPT, 60_000)
  return { client, sessionId: data.sessionId, ms: performance.now() - started }
}

async function endSession(v: Variant, s: { client: TermClient; sessionId: string }) {
  const live = v.manager.get(s.sessionId)
  await v.manager.kill(s.sessionId)
  await live?.finished
  s.client[Symbol.dispose]()
}

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

async function waitForPool(runner: DockerRunner, n: number) {
  const deadline = Date.now() + 60_000
  while (runner.pooled < n && Date.now() < deadline) await Bun.sleep(20)
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

async function throughput(v: Variant): Promise<number> {
  const s = await openSession(v)
  s.client.type('cd projects/selftest && make flood && echo built-ok\r')
  await s.client.output(/built-ok\r?\n[\s\S]*\$ $/, 120_000)
  const t0 = performance.now()
  s.client.type(`./flood ${FLOOD_BYTES}\r`)
  await s.client.output(/<<flood end>>/, 300_000)
  const secs = (performance.now() - t0) / 1000
  await endSession(v, s)
  return FLOOD_BYTES / 1e6 / secs
}

async function idleMemory(v: Variant): Promise<{ rss: number; heap: number }> {
  const open = async () => {
    const sessions = []
    for (let i = 0; i < IDLE_SESSIONS; i++) sessions.push(await openSession(v))
    return sessions
  }
  // A warm-up round first, so allocator pools and lazily loaded code are not counted as sessions.
  for (const s of await open()) await endSession(v, s)
  Bun.gc(true)
  const before = process.memoryUsage()
  const sessions = await open()
  Bun.gc(true)
  const after = process.memoryUsage()
  for (const s of sessions) await endSession(v, s)
  const mb = (n: number) => n / IDLE_SESSIONS / 1024 / 1024
  return { rss: mb(after.rss - before.rss), heap: mb(after.heapUsed - before.heapUsed) }
}

test(
  'terminal benchmark',
  async () => {
    const backend = await openBackend('embedded')
    const rows: Record<string, Record<string, number | string>> = {}
    const row = (name: string) => {
      rows[name] ??= {}
      return rows[name] as Record<string, number | string>
    }
    const notes: string[] = []

    const { createWasiRunner } = await importWasi()
    const variants: Variant[] = [await boot(backend, 'wasi', createWasiRunner())]
    const probe = new DockerRunner({ poolSize: 0 })
    const dockerReason = await probe.unavailableReason()
    await probe.close()
    let cold: DockerRunner | undefined
    let warm: DockerRunner | undefined
    if (dockerReason) notes.push(`docker skipped: ${dockerReason}`)
    else {
      cold = new DockerRunner({ poolSize: 0 })
      warm = new DockerRunner({ poolSize: 2 })
      await warm.start()
      variants.push(await boot(backend, 'docker cold', cold), await boot(backend, 'docker warm pool', warm))
    }

    try {
      for (const v of variants) {
        const opens: number[] = []
        for (let i = 0; i < SAMPLES; i++) {
          if (v.runner === warm) await waitForPool(warm, 1)
          const s = await openSession(v)
          opens.push(s.ms)
          if (i === 0) {
            row(v.name)['echo rtt ms'] = round(
              await echoRtt(
                (c) => s.client.type(c),
                () => s.client.text,
                (pred) => s.client.until(() => pred() || undefined, 10_000, 'echo'),
              ),
              2,
            )
          }
          await endSession(v, s)
        }
        row(v.name)['open→prompt ms'] = round(median(opens))
        const mem = await idleMemory(v)
        row(v.name)['RSS MB/idle session'] = round(mem.rss, 2)
        row(v.name)['heap MB/idle session'] = round(mem.heap, 2)
        if (v.name !== 'docker warm pool') row(v.name)['flood MB/s'] = round(await throughput(v))
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
          const t0 = performance.now()
          raw.write(`/tmp/flood ${FLOOD_BYTES}\r`)
          await raw.until(() => raw.text().includes('<<flood end>>'), 300_000)
          row('raw docker')['flood MB/s'] = round(FLOOD_BYTES / 1e6 / ((performance.now() - t0) / 1000))
        } finally {
          await raw.close()
        }
      }
    } finally {
      await Promise.allSettled(variants.map((v) => v.close()))
      await backend.close()
    }

    const columns = ['open→prompt ms', 'echo rtt ms', 'flood MB/s', 'RSS MB/idle session', 'heap MB/idle session']
    const lines = [
      ['runner', ...columns].join(' | '),
      ...Object.entries(rows).map(([name, r]) => [name, ...columns.map((c) => String(r[c] ?? '–'))].join(' | ')),
    ]
    console.log(`\nTerminal benchmark (medians of ${SAMPLES}; flood ${FLOOD_BYTES / 1e6} MB)\n${lines.join('\n')}`)
    for (const n of notes) console.log(`note: ${n}`)
    const out = join(REPO_ROOT, 'bench-results/terminal.json')
    mkdirSync(join(REPO_ROOT, 'bench-results'), { recursive: true })
    writeFileSync(
      out,
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGb: round(totalmem() / 2 ** 30) },
          bun: Bun.version,
          samples: SAMPLES,
          floodBytes: FLOOD_BYTES,
          idleSessions: IDLE_SESSIONS,
          results: rows,
          notes,
        },
        null,
        2,
      )}\n`,
    )
    console.log(`results written to ${out}`)
  },
  30 * 60_000,
)
