/**
 * The containment suite's stage (docs/budgets.md): real API processes, and real runner service
 * processes behind them, attacked through the public protocol only — POST a session, connect the
 * WebSocket, send what an anonymous visitor can send — while a probe times `/healthz` (and the
 * runner service's own health endpoint) and RSS is read from /proc.
 *
 * Two placements: `in-process` (the API runs the sessions) and `remote` (the API holds no runner;
 * a runner service process does, docs/runners.md). The files a visitor writes for an attack are
 * written the way a visitor can: `cc -MM -MT '<text>' -MF <file>` writes one line of text, and a
 * program compiled from such a line writes anything else.
 */
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { INPUT_LIMITS } from '@shellfolio/runner/terminal-protocol'
import { eq } from 'drizzle-orm'
import { signGrant } from '../../../runner/src/remote/grant.ts'
import { type Cache, createRedisCache } from '../../src/cache/index.ts'
import { openDatabase } from '../../src/db/index.ts'
import { projects } from '../../src/db/schema/index.ts'
import { clearRedisPrefix, createScratchDatabase, requireEnv } from '../harness.ts'
import { clusterEnv, type Instance, type RunnerService, startInstance, startRunnerService } from '../scale/instances.ts'

export type Placement = 'in-process' | 'remote'
export const PLACEMENTS: Placement[] = ['in-process', 'remote']

const ADMIN = { email: 'containment-admin@example.com', password: 'containment-admin-password-1' }

/** A random client address (the API trusts one proxy hop): every visitor is someone else. */
export const randomIp = () => `10.${randomBytes(1)[0]}.${randomBytes(1)[0]}.${1 + ((randomBytes(1)[0] ?? 0) % 250)}`

/** Resident set size of a process in bytes (0 once it is gone). */
export function rss(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
  } catch {
    return 0
  }
}

/** Ids of a process and all its descendants (program hosts, compiler workers). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ')'
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      const list = children.get(ppid) ?? []
      list.push(Number(entry))
      children.set(ppid, list)
    } catch {}
  }
  const out: number[] = []
  const walk = (p: number) => {
    out.push(p)
    for (const c of children.get(p) ?? []) walk(c)
  }
  walk(pid)
  return out
}

/** RSS of a process and every descendant, in bytes. */
export const treeRss = (pid: number) => processTree(pid).reduce((sum, p) => sum + rss(p), 0)

const isCompiler = (pid: number): boolean => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('clang-host')
  } catch {
    return false
  }
}

/**
 * RSS of a process and its descendants without the shared compiler processes (clang-host: LLVM
 * loaded, ≈ 0.4–0.6 GB each, spares started and pages touched whenever any session compiles; their
 * memory is bounded on its own, docs/budgets.md): what the sessions' own processes hold.
 */
export const sessionTreeRss = (pid: number) =>
  processTree(pid)
    .filter((p) => !isCompiler(p))
    .reduce((sum, p) => sum + rss(p), 0)

export const MiB = 1024 * 1024

/** One deployment under attack: an API process, and in remote placement the runner service behind it. */
export interface Stack {
  placement: Placement
  api: Instance
  service: RunnerService | undefined
  /** The process that runs the sessions: the API in process, else the runner service. */
  workerPid: number
  /** Health endpoints whose latency is the event loop's: the API's /healthz, and the service's. */
  healthChecks: { name: string; check: () => Promise<Response> }[]
  adminToken(): Promise<string>
  /** DELETE /api/v1/terminal/sessions/:id as the admin: 202 when the session was live. */
  kill(sessionId: string): Promise<number>
  stop(): Promise<void>
}

/** Stops a process, and SIGKILLs it when a stalled event loop never handles the SIGTERM. */
async function stopHard(p: { stop(): Promise<void>; crash(): Promise<void> } | undefined): Promise<void> {
  if (!p) return
  const stopped = await Promise.race([p.stop().then(() => true), Bun.sleep(15_000).then(() => false)])
  if (!stopped) await p.crash().catch(() => {})
}

/**
 * Starts a scratch database, an API process and, for `remote`, a runner service process offering
 * `runners`; projects are seeded from wasm-projects (calc, minirt…, with their own policies).
 */
export async function startStack(
  placement: Placement,
  options: { runners?: string; env?: Record<string, string>; serviceEnv?: Record<string, string> } = {},
): Promise<Stack> {
  const redisUrl = requireEnv('TEST_REDIS_URL')
  const runners = options.runners ?? 'wasi'
  if (runners.includes('docker') && process.env.DOCKER_AVAILABLE !== '1')
    throw new Error('DOCKER_AVAILABLE is not set: the Docker cases need the engine and image `make test` prepares')
  const scratch = await createScratchDatabase()
  const prefix = `sf:contain:${randomBytes(4).toString('hex')}:`
  const redis: Cache = await createRedisCache({ url: redisUrl, prefix })
  const token = randomBytes(32).toString('base64url')
  let service: RunnerService | undefined
  let api: Instance | undefined
  try {
    if (placement === 'remote') {
      service = await startRunnerService(
        'containment',
        {
          RUNNER_TOKEN: token,
          RUNNERS: runners,
          RUNNER_PORT: '0',
          DOCKER_POOL_SIZE: '0',
          REDIS_URL: redisUrl,
          REDIS_PREFIX: prefix,
          RUNNER_CAPACITY: '200',
          ...(process.env.SANDBOX_IMAGE ? { SANDBOX_IMAGE: process.env.SANDBOX_IMAGE } : {}),
          ...(process.env.SANDBOX_RUNTIME ? { SANDBOX_RUNTIME: process.env.SANDBOX_RUNTIME } : {}),
          ...options.serviceEnv,
        },
        { timeoutMs: 120_000 },
      )
    }
    const shared = { databaseUrl: scratch.url, redisUrl, prefix, admin: ADMIN }
    api = await startInstance(
      `containment-${placement}`,
      clusterEnv(shared, {
        RUNNERS: runners,
        DOCKER_POOL_SIZE: '0',
        TERMINAL_MAX_PER_IP: '100',
        TERMINAL_MAX_SESSIONS: '200',
        ...(service ? { RUNNER_URLS: service.url, RUNNER_TOKEN: token } : {}),
        ...options.env,
      }),
      { timeoutMs: 120_000 },
    )
    // why: bundled projects are imported at first start and their files then live in this API's
    // media store, which a runner service on another host cannot reach by name; the suite runs the
    // same files from wasm-projects/ in both placements, so the rows point there
    await useBundledFolders(scratch.url, ['calc', 'minirt'])
  } catch (err) {
    await stopHard(api)
    await stopHard(service)
    await scratch.drop().catch(() => {})
    await redis.close()
    throw err
  }
  const theApi = api
  let adminToken: string | undefined
  const healthChecks = [{ name: 'api /healthz', check: () => fetch(`${theApi.url}/healthz`) }]
  if (service) {
    const http = service.url.replace(/^ws/, 'http')
    healthChecks.push({
      name: 'runner service /v1/health',
      check: () =>
        fetch(`${http}/v1/health`, { headers: { authorization: `Grant ${signGrant(token, { typ: 'health' }, '*')}` } }),
    })
  }
  const stack: Stack = {
    placement,
    api: theApi,
    service,
    workerPid: service?.pid ?? theApi.pid,
    healthChecks,
    async adminToken() {
      if (adminToken) return adminToken
      const res = await theApi.fetch('/api/v1/auth/token', { method: 'POST', ip: randomIp(), json: ADMIN })
      if (res.status !== 200) throw new Error(`admin sign-in failed: ${res.status} ${await res.text()}`)
      adminToken = ((await res.json()) as { data: { accessToken: string } }).data.accessToken
      return adminToken
    },
    async kill(sessionId) {
      const res = await theApi.fetch(`/api/v1/terminal/sessions/${sessionId}`, {
        method: 'DELETE',
        token: await stack.adminToken(),
        ip: randomIp(),
      })
      return res.status
    },
    async stop() {
      await stopHard(theApi)
      await stopHard(service)
      await clearRedisPrefix(redis, prefix).catch(() => {})
      await redis.close()
      await scratch.drop().catch(() => {})
    },
  }
  return stack
}

/** Points the projects `slugs` at their wasm-projects/ folders (no imported version). */
async function useBundledFolders(databaseUrl: string, slugs: string[]): Promise<void> {
  const database = await openDatabase({ url: databaseUrl, max: 1 })
  try {
    for (const slug of slugs) {
      await database.db
        .update(projects)
        .set({ currentVersionId: null, sourcePath: slug })
        .where(eq(projects.slug, slug))
    }
  } finally {
    await database.close()
  }
}

/** Latency samples of the health endpoints, taken every `everyMs` while an attack runs. */
export interface Probe {
  stop(): Promise<ProbeResult[]>
}

export interface ProbeResult {
  name: string
  count: number
  p50: number
  p99: number
  max: number
  /** Requests that failed or took longer than the per-request deadline (counted at the deadline). */
  failures: number
}

const quantile = (sorted: number[], q: number) =>
  sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number)

/** Starts timing every health check of `stack` (deadline 10 s per request). */
export function probe(stack: Pick<Stack, 'healthChecks'>, everyMs = 100): Probe {
  let running = true
  const loops = stack.healthChecks.map(async ({ name, check }) => {
    const times: number[] = []
    let failures = 0
    while (running) {
      const t0 = performance.now()
      const ok = await Promise.race([
        check().then(
          (r) => r.ok,
          () => false,
        ),
        Bun.sleep(10_000).then(() => false),
      ])
      const took = performance.now() - t0
      times.push(ok ? took : Math.max(took, 10_000))
      if (!ok) failures++
      await Bun.sleep(everyMs) // why: a sampling interval, not a wait for a condition
    }
    const sorted = times.sort((a, b) => a - b)
    return {
      name,
      count: sorted.length,
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      max: sorted.at(-1) ?? Number.NaN,
      failures,
    }
  })
  return {
    async stop() {
      running = false
      return Promise.all(loops)
    },
  }
}

/** Formats probe results for a failure message. */
export const describeProbe = (results: ProbeResult[]) =>
  results
    .map(
      (r) =>
        `${r.name}: n=${r.count} p50=${r.p50.toFixed(0)}ms p99=${r.p99.toFixed(0)}ms max=${r.max.toFixed(0)}ms failures=${r.failures}`,
    )
    .join('; ')

export type Control = { type: string; [k: string]: unknown }

/**
 * A visitor's terminal over the public protocol: POST a session (from its own IP), connect, keep
 * output (the last `keep` characters) and control messages. `ack: false` never acknowledges
 * output, like a tab that stopped rendering.
 */
export class Visitor {
  readonly controls: Control[] = []
  /** Every output byte received. */
  bytes = 0
  private tail = ''
  /** Everything ever received, decoded (only kept when `record` is set: victims of a leak test). */
  all = ''
  closed: { code: number; reason: string } | undefined
  sessionId = ''
  private readonly waiters = new Set<() => void>()
  private unacked = 0
  /** Characters of output decoded so far (the tail is the last of them). */
  private chars = 0

  private constructor(
    readonly ws: WebSocket,
    private ack: boolean,
    private readonly keep: number,
    private readonly record: boolean,
  ) {
    ws.binaryType = 'arraybuffer'
    const decoder = new TextDecoder()
    ws.addEventListener('message', (ev) => {
      if (typeof ev.data === 'string') this.controls.push(JSON.parse(ev.data) as Control)
      else {
        const chunk = new Uint8Array(ev.data as ArrayBuffer)
        this.bytes += chunk.length
        const text = decoder.decode(chunk, { stream: true })
        this.chars += text.length
        this.tail += text
        if (this.tail.length > this.keep * 2) this.tail = this.tail.slice(-this.keep)
        if (this.record) this.all += text
        this.unacked += chunk.length
        if (this.ack) this.flushAck()
      }
      for (const w of this.waiters) w()
    })
    ws.addEventListener('close', (ev) => {
      this.closed = { code: ev.code, reason: ev.reason }
      for (const w of this.waiters) w()
    })
  }

  /** Creates a session for `project` on `runner` and attaches; resolves once `ready` arrived. */
  static async open(
    stack: Pick<Stack, 'api'>,
    options: {
      runner?: 'wasi' | 'docker'
      project?: string
      ip?: string
      ack?: boolean
      keep?: number
      record?: boolean
      readyMs?: number
    } = {},
  ): Promise<Visitor> {
    const ip = options.ip ?? randomIp()
    const res = await stack.api.fetch('/api/v1/terminal/sessions', {
      method: 'POST',
      ip,
      json: { project: options.project ?? 'calc', runner: options.runner ?? 'wasi' },
    })
    if (res.status !== 201) throw new Error(`POST /api/v1/terminal/sessions: ${res.status} ${await res.text()}`)
    const { data } = (await res.json()) as { data: { sessionId: string; ticket: string } }
    const url = `${stack.api.url.replace(/^http/, 'ws')}/api/v1/terminal/ws?ticket=${data.ticket}&cols=120&rows=40`
    // why: the ticket is bound to the IP that asked for it; behind the proxy that is X-Forwarded-For
    const ws = new WebSocket(url, { headers: { 'x-forwarded-for': ip } } as unknown as string[])
    const visitor = new Visitor(ws, options.ack ?? true, options.keep ?? 64 * 1024, options.record ?? false)
    visitor.sessionId = data.sessionId
    await visitor.until(() => visitor.controls.some((c) => c.type === 'ready'), options.readyMs ?? 60_000, 'ready')
    return visitor
  }

  private flushAck(): void {
    if (this.unacked > 0 && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ type: 'ack', bytes: this.unacked }))
      this.unacked = 0
    }
  }

  /** Starts acknowledging (everything received so far, and from now on). */
  startAcking(): void {
    this.ack = true
    this.flushAck()
  }

  /** The last output received (about `keep` characters). */
  get text(): string {
    return this.tail
  }

  /** Types text the way the web client sends it: frames of at most `INPUT_LIMITS.pasteChunk`. */
  type(text: string | Uint8Array): void {
    const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text
    for (let at = 0; at < bytes.length; at += INPUT_LIMITS.pasteChunk)
      this.send(bytes.subarray(at, at + INPUT_LIMITS.pasteChunk))
  }

  /** Sends one binary frame as is (any size: the server decides). */
  send(bytes: Uint8Array): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(bytes)
  }

  /** Bytes this client has queued and not yet written to the network. */
  get buffered(): number {
    return this.ws.bufferedAmount
  }

  /** Resolves when `predicate` holds (re-checked on every frame and every 50 ms); rejects after `ms`. */
  until<T>(predicate: () => T | undefined | false | null, ms: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const v = predicate()
        if (v) {
          done()
          resolve(v)
        }
      }
      const poll = setInterval(check, 50)
      const timer = setTimeout(() => {
        done()
        reject(
          new Error(
            `timed out after ${ms} ms waiting for ${what}; controls=${JSON.stringify(this.controls).slice(0, 600)} closed=${JSON.stringify(this.closed)} output=${JSON.stringify(this.tail.slice(-400))}`,
          ),
        )
      }, ms)
      const done = () => {
        clearInterval(poll)
        clearTimeout(timer)
        this.waiters.delete(check)
      }
      this.waiters.add(check)
      check()
    })
  }

  /** Waits until the recent output contains `text`. */
  sees(text: string, ms = 30_000): Promise<true> {
    return this.until(() => this.tail.includes(text) || undefined, ms, `output ${JSON.stringify(text)}`)
  }

  /** A position in the output, for `seesSince`. */
  mark(): number {
    return this.chars
  }

  /** The output after `mark` (as far as the kept tail reaches). */
  since(mark: number): string {
    return this.tail.slice(Math.max(0, mark - (this.chars - this.tail.length)))
  }

  /** Waits until the output after `mark` contains `text`. */
  seesSince(mark: number, text: string, ms = 30_000): Promise<true> {
    return this.until(
      () => this.tail.slice(Math.max(0, mark - (this.chars - this.tail.length))).includes(text) || undefined,
      ms,
      `output ${JSON.stringify(text)}`,
    )
  }

  /**
   * Types `echo <marker>` and waits for its output line: the shell is at its prompt and answers.
   * Returns how long that took.
   */
  async responsive(marker: string, ms = 30_000): Promise<number> {
    const t0 = performance.now()
    // why: input typed while the session's input budget is full (after a flood), or while a
    // program is just ending, is dropped by design; the visitor types the line again (Ctrl-U first)
    this.type(`echo ${quoted(marker)}\r`)
    const again = setInterval(() => this.type(`\x15echo ${quoted(marker)}\r`), 5_000)
    try {
      await this.until(() => this.tail.includes(marker) || undefined, ms, `the shell to answer echo ${marker}`)
    } finally {
      clearInterval(again)
    }
    return performance.now() - t0
  }

  /** Runs one command line and waits for `marker` printed after it (`cmd; echo marker`). */
  async run(cmd: string, ms = 120_000): Promise<string> {
    const marker = `done-${randomBytes(4).toString('hex')}`
    const from = this.tail.length
    this.type(`${cmd}; echo ${quoted(marker)}\r`)
    await this.until(() => this.tail.includes(marker) || undefined, ms, `${cmd.slice(0, 80)} to finish`)
    return this.tail.slice(Math.max(0, from - 10))
  }

  /**
   * Keeps checking that the shell answers (`echo`) for at least `ms`: what another visitor does
   * while an attack runs. Returns the slowest answer.
   */
  async keepsAnswering(ms: number, label = 'victim'): Promise<number> {
    const end = performance.now() + ms
    let slowest = 0
    for (let i = 0; performance.now() < end; i++) {
      slowest = Math.max(slowest, await this.responsive(`${label}-${i}`, 60_000))
      await Bun.sleep(200) // why: a visitor's pace (a command every 200 ms), not a wait for a condition
    }
    return slowest
  }

  /** The `exit` control message, once the session ended. */
  exited(ms = 30_000): Promise<Control> {
    return this.until(() => this.controls.find((c) => c.type === 'exit'), ms, 'the session to end')
  }

  close(): void {
    if (this.ws.readyState <= WebSocket.OPEN) this.ws.close()
  }
}

/** `marker` as typed so that the echo of the typed line never contains it (`ab""cd` prints `abcd`). */
const quoted = (marker: string) => `${marker.slice(0, 2)}""${marker.slice(2)}`

/**
 * Writes `content` to `file` in the visitor's current directory (the calc project) the way a visitor
 * can: calc's own `src/main.c` compiled with `main` redefined on the command line
 * (`cc '-Dmain=main(void){…fputs("<content>",f)…} int replaced_main' src/main.c src/eval.c`) is a
 * program that writes it. `content` must not hold a single quote (the shell's quoting).
 */
export async function writeFile(v: Visitor, file: string, content: string): Promise<void> {
  if (content.includes("'")) throw new Error('writeFile: the content must not contain a single quote')
  // why: `$` and backquotes go in as octal escapes: the command policy refuses `$(`, `${…}` and
  // backquotes anywhere on a line, but the C string turns `\044` into `$` all the same
  const literal = content
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\n/g, '\\n')
    .replace(/\$/g, '\\044')
    .replace(/`/g, '\\140')
  const main = `main=main(void){FILE*f=fopen("${file}","w");if(!f)return 1;fputs("${literal}",f);return fclose(f);} int replaced_main`
  const out = await v.run(`cc '-D${main}' src/main.c src/eval.c -o .writer && ./.writer`, 180_000)
  // why: the typed command (echoed in `out`) holds the content; only the compiler's and the
  // policy's own words count
  if (/error:|is not allowed|expansions are allowed|No space left/.test(out))
    throw new Error(`writing ${file} failed: ${out.slice(-1500)}`)
}

/** Compiles the C program `source` (written to `<name>.c`) to `./<name>` in the calc project directory. */
export async function compileProgram(v: Visitor, name: string, source: string): Promise<void> {
  await writeFile(v, `${name}.c`, `#include <stdio.h>\n${source}\n`)
  const out = await v.run(`cc ${name}.c -o ${name}`, 180_000)
  if (/error:/.test(out)) throw new Error(`compiling ${name} failed: ${out.slice(-800)}`)
}

/** Event-loop bound during an attack: the health endpoints answer under this at the median. */
export const HEALTH_P50_MS = 200
/**
 * What one attack may add to the RSS of the API process (and of the runner service running the
 * sessions): docs/budgets.md, "API memory per session".
 */
export const API_RSS_BUDGET = 64 * MiB

export interface AttackMeasure<T> {
  result: T
  health: ProbeResult[]
  /** Peak RSS growth of the API process and of the process running the sessions, in bytes. */
  growth: { api: number; worker: number }
  /** RSS growth 3 s after the attack (what stays: the session's own memory), in bytes. */
  settled: { api: number; worker: number }
}

/**
 * Runs `attack` while probing the health endpoints and sampling RSS every 100 ms; growth is the
 * peak above the RSS before the attack started.
 */
export async function underAttack<T>(stack: Stack, attack: () => Promise<T>): Promise<AttackMeasure<T>> {
  // why: a freshly started process grows by tens of MiB as its first requests are compiled and
  // its heap settles; the same probe traffic runs for a while first so the baseline is the
  // settled process, and the growth measured is what the attack added.
  const warm = probe(stack)
  await Bun.sleep(3_000)
  await warm.stop()
  const base = { api: rss(stack.api.pid), worker: rss(stack.workerPid) }
  const peak = { ...base }
  const sampler = setInterval(() => {
    peak.api = Math.max(peak.api, rss(stack.api.pid))
    peak.worker = Math.max(peak.worker, rss(stack.workerPid))
  }, 100)
  const health = probe(stack)
  try {
    const result = await attack()
    await Bun.sleep(3_000) // why: what an attack leaves behind is read once the collector had time to run
    const measure = {
      result,
      health: await health.stop(),
      growth: { api: peak.api - base.api, worker: peak.worker - base.worker },
      settled: { api: rss(stack.api.pid) - base.api, worker: rss(stack.workerPid) - base.worker },
    }
    // One line per attack: the figures docs/budgets.md quotes.
    console.info(
      `[containment ${stack.placement}] ${describeProbe(measure.health)}; RSS growth peak api=${(measure.growth.api / MiB).toFixed(1)} MiB worker=${(measure.growth.worker / MiB).toFixed(1)} MiB, settled api=${(measure.settled.api / MiB).toFixed(1)} MiB worker=${(measure.settled.worker / MiB).toFixed(1)} MiB`,
    )
    return measure
  } finally {
    clearInterval(sampler)
    await health.stop()
  }
}

/**
 * The attack stayed inside the bounds: health answered fast; what the attack left in the API (and
 * runner service) process is under the budget, and its peak — which includes the garbage of the
 * frames received, not yet collected — under twice the budget (docs/budgets.md).
 */
export function expectContained(m: AttackMeasure<unknown>, budget = API_RSS_BUDGET): void {
  const summary = describeProbe(m.health)
  for (const h of m.health) {
    if (!(h.count > 0 && h.p50 < HEALTH_P50_MS))
      throw new Error(`${h.name} answered at p50 ${h.p50.toFixed(0)} ms (bound ${HEALTH_P50_MS} ms): ${summary}`)
  }
  const mb = (n: number) => `${(n / MiB).toFixed(1)} MiB`
  if (m.settled.api >= budget) throw new Error(`API RSS stayed ${mb(m.settled.api)} higher (budget ${mb(budget)})`)
  if (m.settled.worker >= budget)
    throw new Error(`the runner process's RSS stayed ${mb(m.settled.worker)} higher (budget ${mb(budget)})`)
  if (m.growth.api >= 2 * budget) throw new Error(`API RSS peaked ${mb(m.growth.api)} higher (bound ${mb(2 * budget)})`)
  if (m.growth.worker >= 2 * budget)
    throw new Error(`the runner process's RSS peaked ${mb(m.growth.worker)} higher (bound ${mb(2 * budget)})`)
}
