/**
 * What the terminal benchmarks (terminal.bench.ts, placement.bench.ts) share: statistics, one
 * server per variant over the real terminal module, sessions opened through the whole path
 * (HTTP ticket → WebSocket → session manager → runner), tables and the JSON results file.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import type { Runner } from '@shellfolio/runner'
import { Elysia } from 'elysia'
import { REPO_ROOT } from '../src/config.ts'
import { createLogger } from '../src/logger.ts'
import { createFilesystemStorage } from '../src/media/storage.ts'
import { createTerminalService, type TerminalProject, terminalModule } from '../src/terminal/index.ts'
import { SessionManager } from '../src/terminal/manager.ts'
import { runnerRegistryOf } from '../src/terminal/runners.ts'
import { TicketStore } from '../src/terminal/tickets.ts'
import { type Backend, testConfig } from './harness.ts'
import { TermClient } from './terminal-kit.ts'

export const PROMPT = /\$ $/

export const median = (xs: number[]) => {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}
export const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d
export const loadavg = () => readFileSync('/proc/loadavg', 'utf8').trim()

/** The runner fixture project with `flood`, `utf8`, `spin` and `mark` (runner/fixtures/selftest). */
export const SELFTEST = {
  slug: 'selftest',
  sourceDir: join(REPO_ROOT, 'runner/fixtures/selftest'),
  policy: { allow: ['ls', 'cd', 'cat', 'echo', 'make', 'cc', 'gcc', './*', 'exit', 'stty', 'clear'] },
}

/** A server with the real terminal module over one runner. */
export interface BenchServer {
  url: string
  manager: SessionManager
  close(): Promise<void>
}

/**
 * Serves `runner` through the terminal module on a free port; `resolveProject` says which projects
 * it opens. Fails when the runner is not available (a bench must not measure nothing). Closing it
 * closes the runner too.
 */
export async function bootTerminal(
  backend: Backend,
  runner: Runner,
  resolveProject: (slug: string) => TerminalProject | null,
): Promise<BenchServer> {
  const config = testConfig({ TERMINAL_MAX_PER_IP: '1000', TERMINAL_MAX_SESSIONS: '1000' })
  const runners = runnerRegistryOf([runner])
  const up = await runners.refresh()
  if (!up[runner.kind]) throw new Error(`the ${runner.kind} runner is not available`)
  const logger = createLogger('silent')
  const manager = new SessionManager({
    config: config.terminal,
    runners,
    cache: backend.cache,
    db: backend.database.db,
    storage: createFilesystemStorage(`${config.dataDir}/media`),
    logger,
  })
  const terminal = createTerminalService({
    config: config.terminal,
    manager,
    tickets: new TicketStore(backend.cache, config.terminal.ticketTtlMs),
    projects: async (slug) => resolveProject(slug),
  })
  const auth = { config, logger, database: backend.database, cache: backend.cache }
  const app = new Elysia().use(terminalModule({ config, terminal, auth }))
  app.listen({ hostname: '127.0.0.1', port: 0 })
  return {
    url: `127.0.0.1:${app.server?.port}`,
    manager,
    async close() {
      await manager.close()
      await app.stop(true)
      await runners.close()
    },
  }
}

export type BenchSession = { client: TermClient; sessionId: string; ms: number }

/** Asks for a ticket and connects like the browser (acking like xterm); `ms` = connect → first prompt. */
export async function openTerminal(server: BenchServer, project: string, runner: string): Promise<BenchSession> {
  const res = await fetch(`http://${server.url}/api/v1/terminal/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ project, runner }),
  })
  if (res.status !== 201) throw new Error(`${runner} ${project}: ${res.status} ${await res.text()}`)
  const { data } = (await res.json()) as { data: { ticket: string; sessionId: string } }
  const started = performance.now()
  const client = new TermClient(`ws://${server.url}/api/v1/terminal/ws?ticket=${data.ticket}&cols=80&rows=24`, {
    autoAck: true,
    maxText: 64 * 1024,
  })
  await client.output(PROMPT, 60_000)
  return { client, sessionId: data.sessionId, ms: performance.now() - started }
}

/** Kills the session, waits until it is finished and drops the client. */
export async function endTerminal(server: BenchServer, s: { client: TermClient; sessionId: string }) {
  const live = server.manager.get(s.sessionId)
  await server.manager.kill(s.sessionId)
  await live?.finished
  s.client[Symbol.dispose]()
}

/** `./flood <bytes>` once in a session where it is built: MB/s until its trailer arrives. */
export async function flood(s: BenchSession, bytes: number): Promise<number> {
  s.client.text = ''
  const t0 = performance.now()
  s.client.type(`./flood ${bytes}\r`)
  await s.client.output(/<<flood end>>/, 300_000)
  const rate = bytes / 1e6 / ((performance.now() - t0) / 1000)
  await s.client.output(/<<flood end>>[\s\S]*\$ $/, 60_000)
  return rate
}

/** A markdown table; `–` where a row has no figure. */
export function table(rows: Record<string, number | string>[], columns: string[]): string {
  return [
    `| ${columns.join(' | ')} |`,
    `|${columns.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${columns.map((c) => String(r[c] ?? '–')).join(' | ')} |`),
  ].join('\n')
}

/**
 * Writes `bench-results/<name>.json`: when, on what machine, the load average at start and end,
 * the Bun version, then `body`.
 */
export function writeResults(
  name: string,
  run: { started: Date; loadStart: string; loadEnd: string },
  body: Record<string, unknown>,
): string {
  const dir = join(REPO_ROOT, 'bench-results')
  const out = join(dir, `${name}.json`)
  mkdirSync(dir, { recursive: true })
  const head = {
    date: run.started.toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGb: round(totalmem() / 2 ** 30) },
    loadavg: { start: run.loadStart, end: run.loadEnd },
    bun: Bun.version,
  }
  writeFileSync(out, `${JSON.stringify({ ...head, ...body }, null, 2)}\n`)
  console.log(`results written to ${out}`)
  return out
}
