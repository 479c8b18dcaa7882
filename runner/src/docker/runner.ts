import Docker from 'dockerode'
import { sandboxImageTag, toolchainImageTag } from '../../image/build.ts'
import {
  type OpenOptions,
  type ProjectRuntime,
  type ProjectSpec,
  type Runner,
  RunnerError,
  type RunnerSession,
  type WarmPool,
} from '../types.ts'
import { errorText, PreparedContainer } from './prepared.ts'
import { copyProjectIn } from './project-files.ts'
import {
  chooseRuntime,
  engineRuntimes,
  type SandboxRuntime,
  type SandboxRuntimeSetting,
  sandboxProcesses,
} from './runtime.ts'
import {
  adoptedName,
  type CreateSpec,
  DEFAULT_LIMITS,
  LABEL_EXPIRES,
  LABEL_MANAGED,
  LABEL_SESSION,
  newInstanceId,
  reapOrphans,
  type SandboxLimits,
} from './sandbox.ts'
import { DockerSession } from './session.ts'

export interface DockerRunnerOptions {
  /** The engine client; default `new Docker()` (the local socket, or DOCKER_HOST as dockerode reads it). */
  docker?: Docker
  /** Sandbox image tag (the `c` runtime); default the tag `runner/image/build.ts` builds for the current inputs. */
  image?: string
  /**
   * The image of each other toolchain (docs/projects.md); default the tags `runner/image/build.ts
   * --runtime <name>` builds. A project whose runtime's image is missing cannot open a session.
   */
  images?: Partial<Record<ProjectRuntime, string>>
  /**
   * OCI runtime of the sandboxes (SANDBOX_RUNTIME, runner/src/docker/runtime.ts): `auto` (default)
   * takes gVisor's runsc when the engine lists it, else runc; `runsc` makes the runner unavailable
   * without it (never a silent downgrade); `runc` always runs runc.
   */
  runtime?: SandboxRuntimeSetting
  /** Pre-started containers kept ready (default 2; 0 disables the pool). */
  poolSize?: number
  limits?: Partial<SandboxLimits>
  /** Session hard limit when `open` gives none (default 30 min). */
  defaultTimeLimitMs?: number
  /** How often the reaper runs (default 60 s). */
  reapIntervalMs?: number
  /** How long a pooled container may wait for a session before it is replaced (default 30 min). */
  poolMaxAgeMs?: number
  /**
   * How long a container whose owner instance died is kept for another instance to `resume`
   * before the reaper removes it (default 2 min; match the API's reconnect grace period).
   */
  orphanGraceMs?: number
}

const MINUTE = 60_000
/** Projects with a warm pool of their own (one container each with its files in, when pooling is on). */
const PROJECT_POOLS = 4
/** The expiry label is the session limit plus this, so the owner's own timer always acts first. */
const EXPIRY_SLACK_MS = 5 * MINUTE

/**
 * The Docker back end: one container per session from the sandbox image, a warm pool of started
 * containers per runner, and a reaper for containers whose owner died.
 */
export class DockerRunner implements Runner {
  readonly kind = 'docker' as const
  readonly docker: Docker
  readonly image: string
  readonly instanceId = newInstanceId()
  /** Started containers waiting for a session; `fill()` reaps orphans once and starts filling. */
  readonly pool: WarmPool
  /** What was asked for (SANDBOX_RUNTIME); `runtime` says what it resolved to. */
  readonly runtimeSetting: SandboxRuntimeSetting
  private resolvedRuntime: SandboxRuntime | null = null
  private resolving: Promise<SandboxRuntime> | null = null
  private readonly limits: SandboxLimits
  private readonly poolSize: number
  private readonly defaultTimeLimitMs: number
  private readonly poolMaxAgeMs: number
  private readonly orphanGraceMs: number
  private readonly orphanSince = new Map<string, number>()
  /** Started containers waiting for a session, per image (the `c` image's pool fills at start). */
  private readonly idle = new Map<string, PreparedContainer[]>()
  /** Pool containers being created, per image; `close` waits for them so none is left behind. */
  private readonly fills = new Map<string, Set<Promise<void>>>()
  private readonly images: Partial<Record<ProjectRuntime, string>>
  /**
   * Pools of containers that already hold one project's files (key: image, slug, folder), for the
   * projects opened most recently: their sessions skip the copy on the open path. Least recently
   * used first; at most PROJECT_POOLS.
   */
  private readonly projectPools = new Map<string, { image: string; project: ProjectSpec }>()
  /** Pooled containers whose project files are already in (see projectPools). */
  private readonly seeded = new WeakSet<PreparedContainer>()
  private readonly sessions = new Set<DockerSession>()
  private reapTimer: ReturnType<typeof setInterval> | undefined
  private started: Promise<void> | null = null
  private closed = false

  constructor(options: DockerRunnerOptions = {}) {
    this.docker = options.docker ?? new Docker()
    this.image = options.image ?? sandboxImageTag()
    this.images = { ...options.images, c: this.image }
    this.idle.set(this.image, [])
    this.runtimeSetting = options.runtime ?? 'auto'
    this.limits = { ...DEFAULT_LIMITS, ...options.limits }
    this.poolSize = options.poolSize ?? 2
    this.pool = {
      size: this.poolSize,
      ready: () => [...this.idle.values()].reduce((n, idle) => n + idle.length, 0),
      fill: () => this.start(),
    }
    this.defaultTimeLimitMs = options.defaultTimeLimitMs ?? 30 * MINUTE
    this.poolMaxAgeMs = options.poolMaxAgeMs ?? 30 * MINUTE
    this.orphanGraceMs = options.orphanGraceMs ?? 2 * MINUTE
    const interval = options.reapIntervalMs ?? MINUTE
    this.reapTimer = setInterval(() => void this.reap().catch(() => {}), interval)
    this.reapTimer.unref?.()
  }

  /** The runtime sandboxes run under, once the engine has been asked (null before). */
  get runtime(): SandboxRuntime | null {
    return this.resolvedRuntime
  }

  /**
   * Asks the engine which runtimes it offers and picks one for `runtimeSetting`, once: every
   * container of this runner (pool included) runs under the same runtime. Rejects with
   * SANDBOX_RUNTIME_MISSING when runsc is required and absent; an unanswered engine is asked again
   * next time.
   */
  resolveRuntime(): Promise<SandboxRuntime> {
    if (this.resolvedRuntime) return Promise.resolve(this.resolvedRuntime)
    this.resolving ??= (async () => {
      try {
        const choice = chooseRuntime(this.runtimeSetting, await engineRuntimes(this.docker))
        if ('problem' in choice) throw new RunnerError('SANDBOX_RUNTIME_MISSING', choice.problem)
        this.resolvedRuntime = choice.runtime
        return choice.runtime
      } finally {
        this.resolving = null
      }
    })()
    return this.resolving
  }

  /** Why the runner cannot open sessions, or null when it can. */
  async unavailableReason(): Promise<string | null> {
    try {
      await this.docker.ping()
    } catch (err) {
      return `the Docker engine does not answer (${errorText(err)}); run: bash scripts/ensure-docker.sh`
    }
    try {
      await this.resolveRuntime()
    } catch (err) {
      return errorText(err)
    }
    try {
      await this.docker.getImage(this.image).inspect()
    } catch {
      return `the sandbox image ${this.image} is missing; run: bun run runner/image/build.ts`
    }
    return null
  }

  async available(): Promise<boolean> {
    return (await this.unavailableReason()) === null
  }

  /** Reaps orphans once and starts filling the pool; `open` calls it on first use. */
  private start(): Promise<void> {
    this.started ??= (async () => {
      await this.reap().catch(() => {})
      this.fill()
    })()
    return this.started
  }

  /** The image of a runtime: the sandbox image for `c`, a toolchain image for the others. */
  imageFor(runtime: ProjectRuntime = 'c'): string {
    const image = this.images[runtime] ?? toolchainImageTag(runtime, this.image)
    this.images[runtime] = image
    return image
  }

  /** Removes containers of dead runner instances, expired ones and stale pooled ones. */
  async reap(): Promise<string[]> {
    const now = Date.now()
    for (const idle of this.idle.values()) {
      for (const p of [...idle]) {
        if (!p.alive || now - p.createdAt > this.poolMaxAgeMs) {
          idle.splice(idle.indexOf(p), 1)
          void p.destroy().catch(() => {})
        }
      }
    }
    this.fill()
    return reapOrphans(this.docker, {
      instanceId: this.instanceId,
      now,
      orphanGraceMs: this.orphanGraceMs,
      orphanSince: this.orphanSince,
    })
  }

  async open(options: OpenOptions): Promise<RunnerSession> {
    if (this.closed) throw new RunnerError('RUNNER_CLOSED', 'the docker runner is closed')
    await this.start()
    const runtime = await this.resolveRuntime()
    const timeLimitMs = options.timeLimitMs ?? this.defaultTimeLimitMs
    const image = this.imageFor(options.project.runtime)
    if (!this.idle.has(image)) {
      try {
        await this.docker.getImage(image).inspect()
      } catch {
        throw new RunnerError(
          'SANDBOX_IMAGE_MISSING',
          `the ${options.project.runtime} toolchain image ${image} is missing; run: bun run runner/image/build.ts --runtime ${options.project.runtime}`,
        )
      }
      // a runtime visitors use gets a warm pool of its own from now on
      this.idle.set(image, [])
    }
    // why: a pooled container's expiry label assumes the default limit; a longer session starts cold
    const poolable = timeLimitMs <= this.defaultTimeLimitMs
    const projectKey = this.projectPoolFor(image, options.project)
    const pooled = poolable ? (this.takePooled(projectKey) ?? this.takePooled(image)) : undefined
    this.fill()
    if (pooled) {
      try {
        return await this.startSession(pooled, options, timeLimitMs)
      } catch {
        // it died between the liveness check and the handover: fall through to a fresh one
      }
    }
    const fresh = await PreparedContainer.create(this.docker, this.spec(image, options.size, timeLimitMs, runtime))
    return this.startSession(fresh, options, timeLimitMs)
  }

  /**
   * Re-attaches to a running session another runner instance opened on this engine (see
   * `Runner.resume`): renames the container to record this instance as its owner (labels are
   * immutable), attaches, resizes and arms the remaining time limit.
   */
  async resume(sessionId: string, options: OpenOptions): Promise<DockerSession> {
    if (this.closed) throw new RunnerError('RUNNER_CLOSED', 'the docker runner is closed')
    const [info] = await this.docker.listContainers({
      filters: { label: [`${LABEL_MANAGED}=1`, `${LABEL_SESSION}=${sessionId}`], status: ['running'] },
    })
    if (!info) throw new RunnerError('SESSION_NOT_FOUND', `no running sandbox for session ${sessionId}`)
    const container = this.docker.getContainer(info.Id)
    try {
      await container.rename({ name: adoptedName(sessionId, this.instanceId) })
      // why: the container may predate this runner (another instance made it): ask the engine's record
      const runtime = (await container.inspect()).HostConfig.Runtime === 'runsc' ? 'runsc' : 'runc'
      const processes = await sandboxProcesses(container, runtime)
      // why: bash idle at its prompt is the only process besides init; otherwise a program has the TTY
      const busy = processes.map((p) => p.comm).filter((c) => c !== 'docker-init' && c !== 'bash')
      const expires = Number(info.Labels[LABEL_EXPIRES] ?? 0)
      const remaining = options.timeLimitMs ?? Math.max(1_000, expires - EXPIRY_SLACK_MS - Date.now())
      const prepared = await PreparedContainer.attachRunning(this.docker, info.Id, sessionId)
      const session = new DockerSession(prepared, {
        policy: options.project.policy,
        size: options.size,
        timeLimitMs: remaining,
        resumed: { atPrompt: busy.length === 0 },
        onEnd: () => this.sessions.delete(session),
      })
      this.sessions.add(session)
      await session.start()
      return session
    } catch (err) {
      if (err instanceof RunnerError) throw err
      throw new RunnerError('SESSION_RESUME_FAILED', `could not re-attach session ${sessionId}: ${errorText(err)}`)
    }
  }

  /**
   * The project's own pool (made, or moved to most recent): containers with its files already in.
   * The least recently opened project beyond PROJECT_POOLS loses its pool.
   */
  private projectPoolFor(image: string, project: ProjectSpec): string {
    // why: the policy is in the help copied in with the files (runner/src/help.ts)
    const key = `${image}\n${project.slug}\n${project.sourceDir}\n${project.policy.allow.join('\t')}`
    this.projectPools.delete(key)
    this.projectPools.set(key, { image, project })
    if (!this.idle.has(key)) this.idle.set(key, [])
    while (this.projectPools.size > PROJECT_POOLS) {
      const oldest = this.projectPools.keys().next().value as string
      this.projectPools.delete(oldest)
      for (const p of this.idle.get(oldest) ?? []) void p.destroy().catch(() => {})
      this.idle.delete(oldest)
    }
    return key
  }

  private takePooled(key: string): PreparedContainer | undefined {
    const idle = this.idle.get(key) ?? []
    while (idle.length > 0) {
      const candidate = idle.shift() as PreparedContainer
      if (candidate.alive) return candidate
      void candidate.destroy().catch(() => {})
    }
    return undefined
  }

  private async startSession(
    prepared: PreparedContainer,
    options: OpenOptions,
    timeLimitMs: number,
  ): Promise<DockerSession> {
    const session = new DockerSession(prepared, {
      policy: options.project.policy,
      size: options.size,
      timeLimitMs,
      ...(options.env ? { env: options.env } : {}),
      project: options.project.slug,
      onEnd: () => this.sessions.delete(session),
    })
    this.sessions.add(session)
    try {
      // The project's own files only (docs/runners.md, "Project files"), before the shell's first
      // prompt; a container from the project's own pool has them already.
      if (!this.seeded.has(prepared)) await copyProjectIn(prepared.container, options.project)
      await session.start()
    } catch (err) {
      await session.kill('error')
      if (err instanceof RunnerError) throw err
      throw new RunnerError('SANDBOX_START_FAILED', `could not start the session: ${errorText(err)}`)
    }
    if (this.closed) await session.kill()
    return session
  }

  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.reapTimer)
    const pooled = [...this.idle.values()].flatMap((idle) => idle.splice(0))
    await Promise.all([
      ...[...this.sessions].map((s) => s.kill()),
      ...pooled.map((p) => p.destroy().catch(() => {})),
      // in-flight pool fills see `closed` and destroy what they created
      ...[...this.fills.values()].flatMap((fills) => [...fills]),
    ])
  }

  /** Sessions currently open on this runner. */
  get liveSessions(): number {
    return this.sessions.size
  }

  private spec(
    image: string,
    size: { cols: number; rows: number },
    timeLimitMs: number,
    runtime: SandboxRuntime,
  ): CreateSpec {
    return {
      runtime,
      image,
      sessionId: crypto.randomUUID(),
      ownerId: this.instanceId,
      // why: after this, any reaper (another instance's too) may remove it
      expiresAt: Date.now() + timeLimitMs + EXPIRY_SLACK_MS,
      limits: this.limits,
      size,
    }
  }

  /**
   * Tops every pool up in the background, one container at a time per missing slot: each image's
   * (empty workspace) and each recent project's (its files copied in before it waits).
   */
  private fill(): void {
    if (this.closed) return
    for (const [key, idle] of this.idle) {
      const forProject = this.projectPools.get(key)
      const image = forProject?.image ?? key
      let fills = this.fills.get(key)
      if (!fills) {
        fills = new Set()
        this.fills.set(key, fills)
      }
      const pending = fills
      // why: one container per recent project is enough to skip the copy and bounds the idle cost
      // (an idle gVisor sandbox is tens of MB, docs/threat-model.md)
      const target = forProject ? Math.min(this.poolSize, 1) : this.poolSize
      while (idle.length + pending.size < target) {
        const fill: Promise<void> = this.resolveRuntime()
          .then((runtime) =>
            PreparedContainer.create(
              this.docker,
              this.spec(image, { cols: 80, rows: 24 }, this.poolMaxAgeMs + this.defaultTimeLimitMs, runtime),
            ),
          )
          .then(async (p) => {
            if (forProject) {
              try {
                await copyProjectIn(p.container, forProject.project)
                this.seeded.add(p)
              } catch {
                await p.destroy().catch(() => {})
                return
              }
            }
            // a project pool dropped meanwhile (or the runner closed) gets nothing more
            if (this.closed || this.idle.get(key) !== idle) await p.destroy().catch(() => {})
            else idle.push(p)
          })
          .catch(() => {
            // The engine is down, the image or runsc is missing: `open` reports it; do not spin here.
          })
          .finally(() => {
            pending.delete(fill)
          })
        pending.add(fill)
      }
    }
  }
}
