/**
 * `bun run runner`: a runner service, so API instances need no Docker access (docs/runners.md). This
 * is the runner package's own entry point, so it reads its environment here:
 *   RUNNER_TOKEN (required, ≥ 32 chars: grants are signed with it)
 *   RUNNER_HOST (127.0.0.1)   RUNNER_PORT (4100)   RUNNERS (wasi,docker)
 *   RUNNER_ID (<hostname>:<port>)   RUNNER_ADVERTISE_URL (ws://<host>:<port>: what API instances list in RUNNER_URLS)
 *   RUNNER_CAPACITY (64 sessions)   RUNNER_DETACH_GRACE_MS (120000)
 *   REDIS_URL, REDIS_PREFIX (shellfolio:): where capacity and health are registered
 *   SANDBOX_IMAGE   DOCKER_POOL_SIZE (2)   LOG_LEVEL (info; `silent` for none)
 *   RUNNER_PROJECT_CACHE (a folder of this process under the system's temporary folder): where the
 *     imported projects API instances send are kept, by hash (remote/bundle.ts)
 *   SANDBOX_RUNTIME (auto: gVisor's runsc when the engine lists it, else runc; `runsc` refuses to
 *     start on an engine without it; `runc`) — see docs/threat-model.md
 * Logs are JSON lines on stderr; the token and grants never appear in them.
 */

import { parseSandboxRuntime } from './docker/runtime.ts'
import { createRedisRegistration } from './remote/registration.ts'
import { createRunnerServer } from './remote/server.ts'
import { RUNNER_KINDS, type Runner, RunnerError } from './types.ts'

const env = process.env
const problems: string[] = []
const int = (name: string, fallback: number, min: number, max: number): number => {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min || n > max)
    problems.push(`${name}: expected a whole number from ${min} to ${max}`)
  return n
}
const token = env.RUNNER_TOKEN ?? ''
if (token.length < 32) problems.push('RUNNER_TOKEN: required (at least 32 characters)')
const port = int('RUNNER_PORT', 4100, 0, 65535)
const poolSize = int('DOCKER_POOL_SIZE', 2, 0, 64)
const capacity = int('RUNNER_CAPACITY', 64, 1, 10_000)
const detachGraceMs = int('RUNNER_DETACH_GRACE_MS', 120_000, 1_000, 3_600_000)
const programCpuMs = int('WASI_PROGRAM_CPU_MS', 30_000, 1_000, 3_600_000)
const kinds = (env.RUNNERS ?? 'wasi,docker').split(',').map((k) => k.trim())
for (const k of kinds)
  if (!(RUNNER_KINDS as readonly string[]).includes(k)) problems.push(`RUNNERS: unknown runner ${JSON.stringify(k)}`)
const advertiseUrl = env.RUNNER_ADVERTISE_URL || undefined
if (advertiseUrl && !/^wss?:\/\/\S+$/.test(advertiseUrl))
  problems.push('RUNNER_ADVERTISE_URL: expected a ws:// or wss:// URL')
const sandboxRuntime = parseSandboxRuntime(env.SANDBOX_RUNTIME)
if (!sandboxRuntime)
  problems.push(`SANDBOX_RUNTIME=${JSON.stringify(env.SANDBOX_RUNTIME)}: expected auto, runsc or runc`)
const redisUrl = env.REDIS_URL || undefined
if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) problems.push('REDIS_URL: expected a redis:// or rediss:// URL')
if (problems.length > 0) {
  for (const p of problems) console.error(`shellfolio runner: ${p}`)
  process.exit(78)
}

const quiet = env.LOG_LEVEL === 'silent'
const log = (event: string, fields: Record<string, unknown> = {}) => {
  if (!quiet)
    console.error(JSON.stringify({ time: new Date().toISOString(), service: 'runner', msg: event, ...fields }))
}

const runners: Runner[] = []
if (kinds.includes('wasi'))
  runners.push((await import('./wasi/index.ts')).createWasiRunner({ programTimeLimitMs: programCpuMs }))
if (kinds.includes('docker')) {
  const { DockerRunner } = await import('./docker/index.ts')
  // Sessions never outlive this service, so containers of a dead owner (our previous start, after
  // a crash) are reaped at once rather than kept for adoption.
  const docker = new DockerRunner({
    poolSize,
    orphanGraceMs: 0,
    runtime: sandboxRuntime ?? 'auto',
    ...(env.SANDBOX_IMAGE ? { image: env.SANDBOX_IMAGE } : {}),
  })
  // An engine that answers without the runtime SANDBOX_RUNTIME=runsc asks for is a configuration
  // error, not an outage to wait out: refuse to start, naming what is missing.
  const missing = await docker.resolveRuntime().then(
    () => null,
    (err) => (err instanceof RunnerError && err.code === 'SANDBOX_RUNTIME_MISSING' ? err.message : null),
  )
  if (missing) {
    console.error(`shellfolio runner: ${missing}`)
    process.exit(78)
  }
  const reason = await docker.unavailableReason()
  if (reason) log('docker is not available yet', { reason, sandboxRuntime: docker.runtimeSetting })
  else {
    log('sandbox runtime', { sandboxRuntime: docker.runtime, requested: docker.runtimeSetting })
    const reaped = await docker.reap().catch(() => [])
    if (reaped.length > 0) log('reaped orphaned containers', { count: reaped.length })
    void docker.pool.fill()
  }
  runners.push(docker)
}

const server = createRunnerServer({
  runners,
  token,
  hostname: env.RUNNER_HOST ?? '127.0.0.1',
  port,
  capacity,
  detachGraceMs,
  ...(env.RUNNER_ID ? { id: env.RUNNER_ID } : {}),
  ...(env.RUNNER_PROJECT_CACHE ? { projectCache: env.RUNNER_PROJECT_CACHE } : {}),
  ...(advertiseUrl ? { advertiseUrl } : {}),
  ...(redisUrl ? { registration: createRedisRegistration(redisUrl, env.REDIS_PREFIX ?? 'shellfolio:') } : {}),
  log,
})
log('serving', { id: server.id, url: server.url, kinds, capacity, registered: redisUrl !== undefined })

let stopping = false
const stop = async () => {
  if (stopping) return
  stopping = true
  log('stopping', { sessions: server.sessions })
  await server.close()
  process.exit(0)
}
process.on('SIGTERM', () => void stop())
process.on('SIGINT', () => void stop())
