import { join } from 'node:path'
import { RUNNER_KINDS, type Runner, type RunnerKind } from '@shellfolio/runner'
import type { DockerRunner } from '@shellfolio/runner/docker'
import type { SandboxRuntime, SandboxRuntimeSetting } from '@shellfolio/runner/docker/runtime'
import type { RegistryReader, ServiceState } from '@shellfolio/runner/remote'
import { type Config, ConfigError } from '../config.ts'
import type { Logger } from '../logger.ts'

/**
 * The runners this instance can use, built from `config.runners` (docs/architecture.md: WASI always,
 * Docker when an engine answers). Availability is probed in the background and cached, so a
 * session request never waits on a slow Docker ping.
 */
export interface RunnerRegistry {
  /** The configured runner of a kind (whether or not it is available right now). */
  get(kind: RunnerKind): Runner | undefined
  /** Cached availability of every configured kind. */
  availability(): Record<RunnerKind, boolean>
  /** Probes every runner now and updates the cache. */
  refresh(): Promise<Record<RunnerKind, boolean>>
  close(): Promise<void>
  /** Remote placement only: what this instance knows about each runner service. */
  services?: () => ServiceState[]
  /** In-process Docker only: the sandbox runtime asked for and the one in use (null until the engine answered). */
  sandbox?: () => { requested: SandboxRuntimeSetting; runtime: SandboxRuntime | null }
}

export interface RunnerRegistryOptions {
  /** How often `available()` is probed (default 15 s). */
  probeIntervalMs?: number
  logger?: Logger
}

/** Every runner kind, none available. */
export const noneAvailable = () =>
  Object.fromEntries(RUNNER_KINDS.map((kind) => [kind, false])) as Record<RunnerKind, boolean>

/** A registry over runners that already exist (tests, or runners built elsewhere). */
export function runnerRegistryOf(runners: Runner[], options: RunnerRegistryOptions = {}): RunnerRegistry {
  const byKind = new Map<RunnerKind, Runner>(runners.map((r) => [r.kind, r]))
  const state = noneAvailable()
  const probe = async (r: Runner) => {
    const before = state[r.kind]
    state[r.kind] = await Promise.race([
      r.available().catch(() => false),
      new Promise<boolean>((resolve) => setTimeout(resolve, 5000, false)),
    ])
    if (before !== state[r.kind])
      options.logger?.info({ runner: r.kind, available: state[r.kind] }, 'runner availability')
  }
  const refresh = async () => {
    await Promise.all(runners.map(probe))
    return { ...state }
  }
  const timer = setInterval(() => void refresh(), options.probeIntervalMs ?? 15_000)
  timer.unref?.()
  return {
    get: (kind) => byKind.get(kind),
    availability: () => ({ ...state }),
    refresh,
    async close() {
      clearInterval(timer)
      await Promise.allSettled(runners.map((r) => r.close()))
    },
  }
}

interface WasiModule {
  createWasiRunner(options?: Record<string, unknown>): Runner
}

/**
 * Loads the WASI back end. why: on import, @wasmer/sdk (dist/node-compat.js) probes
 * `Error.prepareStackTrace` and restores it with `Object.defineProperty`; in Bun that replaces the
 * engine's special property with a plain one, after which `util.getCallSites()` stops working and
 * every pino logger created later throws. During the import, that one restore is done by
 * assignment instead, which keeps the engine's property.
 */
export async function importWasi(): Promise<WasiModule> {
  const define = Object.defineProperty
  Object.defineProperty = ((target: object, key: PropertyKey, descriptor: PropertyDescriptor) => {
    if (target === Error && key === 'prepareStackTrace' && 'value' in descriptor) {
      ;(Error as { prepareStackTrace?: unknown }).prepareStackTrace = descriptor.value
      return target
    }
    return define(target, key, descriptor)
  }) as typeof Object.defineProperty
  try {
    const specifier = '@shellfolio/runner/wasi'
    return (await import(specifier)) as WasiModule
  } finally {
    Object.defineProperty = define
  }
}

/**
 * Builds the configured runners: remote ones when RUNNER_URLS is set (this instance then loads no
 * Docker client at all), else local ones. The WASI back end is loaded lazily so the API still
 * starts (with WASI reported unavailable) if that module fails to load; Docker is optional by design.
 */
export async function createRunnerRegistry(
  config: Pick<Config, 'runners' | 'sandboxImage' | 'sandboxRuntime' | 'terminal' | 'runnerUrls' | 'runnerToken'> &
    Partial<Pick<Config, 'dataDir'>>,
  options: RunnerRegistryOptions & {
    /** The cache's Redis client (same key prefix as the runner services' REDIS_PREFIX): their registrations. */
    redis?: RegistryReader | null
  } = {},
): Promise<RunnerRegistry> {
  const runners: Runner[] = []
  if (config.runnerUrls.length > 0) {
    const { createRemotePool } = await import('@shellfolio/runner/remote')
    const logger = options.logger
    const pool = createRemotePool({
      urls: config.runnerUrls,
      token: config.runnerToken ?? '',
      ...(options.redis ? { redis: options.redis } : {}),
      // why: the versions this instance lays out (DATA_DIR/project-files, docs/projects.md) exist only
      // on this host; their files travel to the runner service with the session
      ...(config.dataDir ? { shipRoots: [join(config.dataDir, 'project-files')] } : {}),
      log: (event, fields) => logger?.info(fields ?? {}, event),
    })
    for (const kind of config.runners) runners.push(pool.runner(kind))
    // Cheap (the pool reads Redis or its own cached probes), so availability follows a dead service fast.
    const registry = runnerRegistryOf(runners, { probeIntervalMs: 2_000, ...options })
    await registry.refresh()
    return Object.assign(registry, { services: () => pool.services() })
  }
  if (config.runners.includes('wasi')) {
    try {
      runners.push((await importWasi()).createWasiRunner({ programTimeLimitMs: config.terminal.wasiProgramCpuMs }))
    } catch (err) {
      options.logger?.error({ err }, 'the WASI runner could not be loaded')
    }
  }
  let docker: DockerRunner | undefined
  if (config.runners.includes('docker')) {
    const { DockerRunner } = await import('@shellfolio/runner/docker')
    // dockerode reads DOCKER_HOST itself; the image defaults to the tag the build script produces.
    docker = new DockerRunner({
      ...(config.sandboxImage ? { image: config.sandboxImage } : {}),
      runtime: config.sandboxRuntime,
      poolSize: config.terminal.dockerPoolSize,
      defaultTimeLimitMs: config.terminal.timeLimitMs,
      // A dead instance's containers wait this long for another instance to adopt them.
      orphanGraceMs: config.terminal.graceMs + 60_000,
    })
    runners.push(docker)
  }
  const registry = runnerRegistryOf(runners, options)
  const state = await registry.refresh()
  if (!docker) return registry
  const sandbox = docker
  // SANDBOX_RUNTIME=runsc on an engine that answers without runsc is a configuration error, not an
  // outage to wait out: refuse to start, naming what is missing (an engine that does not answer yet
  // leaves Docker unavailable, as always, and runsc is still required once it does).
  const missing = await sandbox.resolveRuntime().then(
    () => null,
    (err: { code?: string; message?: string }) => (err.code === 'SANDBOX_RUNTIME_MISSING' ? String(err.message) : null),
  )
  if (missing) {
    await registry.close()
    throw new ConfigError([missing])
  }
  options.logger?.info({ sandboxRuntime: sandbox.runtime, requested: sandbox.runtimeSetting }, 'sandbox runtime')
  // Fill the Docker warm pool now so the first visitor does not pay for a cold container.
  if (state.docker) void sandbox.pool.fill().catch(() => {})
  return Object.assign(registry, {
    sandbox: () => ({ requested: sandbox.runtimeSetting, runtime: sandbox.runtime }),
  })
}
