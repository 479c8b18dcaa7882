import { INPUT_LIMITS } from '@shellfolio/runner/terminal-protocol'
import { Elysia } from 'elysia'
import { authModule } from './auth/index.ts'
import type { LoginLimits } from './auth/login-guard.ts'
import type { Cache } from './cache/index.ts'
import type { Config } from './config.ts'
import type { Database } from './db/index.ts'
import { docsModule } from './docs/index.ts'
import { embedModule } from './embed/index.ts'
import { createEmbedService } from './embed/service.ts'
import { flagsModule } from './flags/index.ts'
import { createFlagsService } from './flags/service.ts'
import { DependencyMonitor } from './health/dependencies.ts'
import { healthModule, type ReadinessCheck } from './health/index.ts'
import { httpPlugin, type RouteInfo, requestIdOf } from './http/plugin.ts'
import { createReadCache } from './lib/read-cache.ts'
import type { Logger } from './logger.ts'
import { mediaModule } from './media/index.ts'
import { openMediaStorage } from './media/open-storage.ts'
import { createMediaService } from './media/service.ts'
import type { MediaStorage } from './media/storage.ts'
import { metricsModule } from './metrics/index.ts'
import { createCursorCodec } from './posts/cursor.ts'
import { postsModule } from './posts/index.ts'
import { createPostsService } from './posts/service.ts'
import { problemsModule } from './problems/index.ts'
import { createProblemsService, type ProblemsService } from './problems/service.ts'
import { createProjectImports, type ProjectImports, projectFilesDir } from './projects/import.ts'
import { projectsModule } from './projects/index.ts'
import { createProjectsService, type RunnerAvailability } from './projects/service.ts'
import { type RateRule, rateLimitPlugin } from './rate-limit/index.ts'
import { siteModule } from './site/index.ts'
import { createSiteService } from './site/service.ts'
import { createTerminalService, TicketStore, terminalModule, terminalProjects } from './terminal/index.ts'
import type { SessionManager } from './terminal/manager.ts'
import { noneAvailable, type RunnerRegistry } from './terminal/runners.ts'
import { type OtlpExporter, traceOf, tracingPlugin, withTraceIds } from './tracing/index.ts'
import { wafModule } from './waf/index.ts'
import { webModule } from './web/index.ts'
import { createContentSource } from './web/ssr.ts'

/** Everything the app needs, opened by index.ts (or a test) before the app is built. */
export interface AppDeps {
  config: Readonly<Config>
  logger: Logger
  database: Database
  cache: Cache
  /** Extra readiness checks (runners...). */
  readiness?: ReadinessCheck[]
  /** Receives finished request spans when OTEL_EXPORTER_OTLP_ENDPOINT is set (api/src/tracing). */
  spanExporter?: Pick<OtlpExporter, 'add'> | undefined
  /** Login throttling overrides (api/src/auth/login-guard.ts); tests use small numbers. */
  auth?: { limits?: Partial<LoginLimits> }
  /** Per-IP request budgets (api/src/rate-limit); defaults to DEFAULT_RATE_RULES. */
  rateLimits?: readonly RateRule[]
  /** The runners of this instance (api/src/terminal/runners.ts); readiness reports them. */
  runners?: RunnerRegistry
  /** Terminal sessions of this instance; the terminal routes are mounted only when given. */
  terminal?: SessionManager
  /** Which runner kinds can start now (projects' availableRunners); default: the registry's, else none. */
  runnerAvailability?: RunnerAvailability
  /** Where media and recordings live; default: S3 when configured, else DATA_DIR/media. */
  mediaStorage?: MediaStorage
  /** Imports and check builds of projects; default: built here over the runners and media storage. */
  projectImports?: ProjectImports
  /** The Problems list and the outage monitor (docs/faults.md); built here when absent (see `createFaultHandling`). */
  faults?: FaultHandling
}

/** The admin's Problems list and the dependency monitor that reports outages to it. */
export interface FaultHandling {
  problems: ProblemsService
  dependencies: DependencyMonitor
  close(): Promise<void>
}

/**
 * Builds the Problems list (api/src/problems) and the dependency monitor (api/src/health/dependencies.ts):
 * each outage is logged once, counted in `shellfolio_dependency_up`, and listed as a problem.
 */
export function createFaultHandling(deps: {
  config: Pick<Config, 'alertWebhookUrl'>
  logger: Logger
  database: Database
  cache: Cache
  storage?: MediaStorage | undefined
}): FaultHandling {
  const problems = createProblemsService({
    db: deps.database.db,
    logger: deps.logger,
    cache: deps.cache,
    webhookUrl: deps.config.alertWebhookUrl,
  })
  const storage = deps.storage
  const dependencies = new DependencyMonitor({
    logger: deps.logger,
    probes: {
      database: () => deps.database.ping(),
      cache: () => deps.cache.ping(),
      ...(storage ? { storage: () => storage.ping() } : {}),
    },
    onOutage: (o) =>
      problems.report({
        code: o.code,
        route: `dependency:${o.dependency}`,
        frame: '',
        message: o.message,
        requestId: o.requestId,
        traceId: o.traceId,
      }),
  })
  return {
    problems,
    dependencies,
    async close() {
      dependencies.close()
      await problems.close()
    },
  }
}

/**
 * Builds the whole HTTP app synchronously (docs/conventions.md, rule 7): tests call `createApp(deps).handle(...)`,
 * index.ts adds listening and shutdown.
 */
export function createApp(deps: AppDeps) {
  const { config, logger, database, cache } = deps
  const mediaStorage = deps.mediaStorage ?? openMediaStorage(config)
  const faults = deps.faults ?? createFaultHandling({ config, logger, database, cache, storage: mediaStorage })
  const { problems, dependencies } = faults
  // A failed readiness probe starts an outage even when no request has hit it yet.
  const watched = (dependency: 'database' | 'cache', ping: () => Promise<void>) => () =>
    ping().catch((err: unknown) => {
      dependencies.failed(dependency, err)
      throw err
    })
  const checks: ReadinessCheck[] = [
    { name: 'database', check: watched('database', () => database.ping()) },
    { name: 'cache', check: watched('cache', () => cache.ping()) },
    ...(deps.readiness ?? []),
    // Docker is optional (docs/architecture.md): reported, never makes the instance unready.
    ...((deps.runners ? config.runners : []).map((kind) => ({
      name: `runner.${kind}`,
      optional: kind === 'docker',
      check: async () => {
        if (!deps.runners?.availability()[kind]) throw new Error(`${kind} unavailable`)
      },
    })) satisfies ReadinessCheck[]),
    // Remote placement: reported down while any runner service is unhealthy (the others still serve).
    ...(deps.runners?.services
      ? [
          {
            name: 'runner-services',
            optional: true,
            check: async () => {
              const all = deps.runners?.services?.() ?? []
              const down = all.filter((s) => s.down || !s.info).length
              if (down > 0) throw new Error(`${down} of ${all.length} runner services unavailable`)
            },
          } satisfies ReadinessCheck,
        ]
      : []),
  ]
  const flags = createFlagsService({ db: database.db, cache, environment: config.appEnv, logger })
  const registry = deps.runners
  const runnerAvailability: RunnerAvailability =
    deps.runnerAvailability ?? (async () => registry?.availability() ?? noneAvailable())
  const projectReads = createReadCache({ cache, namespace: 'projects', logger })
  const projects = createProjectsService({ db: database.db, reads: projectReads, flags, runnerAvailability, logger })
  const imports =
    deps.projectImports ??
    createProjectImports({
      db: database.db,
      storage: mediaStorage,
      reads: projectReads,
      filesDir: projectFilesDir(config.dataDir),
      runner: (kind) => registry?.get(kind),
      uploadLimit: config.projectUploadLimit,
      buildTimeoutMs: config.projectBuildTimeoutMs,
      logger,
      problems,
    })
  const media = createMediaService({
    db: database.db,
    storage: mediaStorage,
    uploadLimit: config.uploadLimit,
    publicOrigin: config.publicOrigin,
    logger,
  })
  const postReads = createReadCache({ cache, namespace: 'posts', logger })
  const posts = createPostsService({
    db: database.db,
    reads: postReads,
    cursors: createCursorCodec(config.jwtSecret),
    projectSlugs: async () => new Set((await projects.listPublic()).map((p) => p.slug)),
  })
  const siteReads = createReadCache({ cache, namespace: 'site', logger })
  const site = createSiteService({ db: database.db, reads: siteReads, storage: mediaStorage, posts, projects })
  const terminal =
    deps.terminal &&
    createTerminalService({
      config: config.terminal,
      manager: deps.terminal,
      tickets: new TicketStore(cache, config.terminal.ticketTtlMs),
      projects: terminalProjects(projects, imports),
      flags,
    })
  // The route list is read lazily (on a 404) so the plugin can be registered first.
  let routes: () => RouteInfo[] = () => []
  // why: Bun takes WebSocket limits per server, not per route: a terminal frame above the bound is
  // refused by Bun itself, with close 1009, before it is buffered (docs/terminal-protocol.md)
  const app = new Elysia({ name: 'app', websocket: { maxPayloadLength: INPUT_LIMITS.maxFrame } })
    .use(
      httpPlugin({
        config,
        logger: withTraceIds(logger),
        routes: () => routes(),
        dependencies,
        traceIdOf: (request) => traceOf(request)?.traceId,
        onUnexpected: ({ error, request, route, code }) =>
          problems.report({
            code,
            route,
            error,
            requestId: requestIdOf(request),
            traceId: traceOf(request)?.traceId,
          }),
      }),
    )
    .use(tracingPlugin({ exporter: deps.spanExporter }))
    .use(metricsModule({ token: config.metricsToken, requireToken: config.appEnv === 'production' }))
    .use(rateLimitPlugin({ cache, config, logger, rules: deps.rateLimits }))
    .use(docsModule())
    .use(
      healthModule(
        () => checks,
        () => (registry?.sandbox ? { sandbox: registry.sandbox() } : {}),
      ),
    )
    .use(wafModule())
    .use(authModule(deps))
    .use(postsModule({ posts, auth: deps }))
    .use(projectsModule({ projects, imports, auth: deps }))
    .use(mediaModule({ media, auth: deps }))
    .use(flagsModule({ flags, auth: deps }))
    .use(problemsModule({ problems, dependencies, auth: deps }))
    .use(siteModule({ site, auth: deps, publicOrigin: config.publicOrigin }))
    .use(terminal ? terminalModule({ config, terminal, auth: deps }) : new Elysia({ name: 'module.terminal.off' }))
    .use(embedModule({ embed: createEmbedService({ projects, site }), publicOrigin: config.publicOrigin }))
    .use(
      webModule({
        distDir: config.webDist,
        content: createContentSource({ site, projects, posts, replays: deps.terminal?.replays }),
        publicOrigin: config.publicOrigin,
        embedOrigins: config.embedOrigins,
        logger,
        dependencies,
        onRenderError: (error) => problems.report({ code: 'RENDER_FAILED', route: 'web:render', error }),
      }),
    )
    // Unsubscribe the content caches' invalidation listeners when the server stops.
    .onStop(() =>
      Promise.allSettled([
        flags.close(),
        projectReads.close(),
        postReads.close(),
        siteReads.close(),
        // Built here: closed here (index.ts closes the one it passed, after the sessions ended).
        deps.faults ? undefined : faults.close(),
      ]).then(() => {}),
    )
  routes = () => app.routes.filter((r) => r.path !== '/*')
  return app
}

export type App = ReturnType<typeof createApp>
