import { Elysia } from 'elysia'
import { authModule } from './auth/index.ts'
import type { LoginLimits } from './auth/login-guard.ts'
import type { Cache } from './cache/index.ts'
import type { Config } from './config.ts'
import type { Database } from './db/index.ts'
import { docsModule } from './docs/index.ts'
import { flagsModule } from './flags/index.ts'
import { createFlagsService } from './flags/service.ts'
import { healthModule, type ReadinessCheck } from './health/index.ts'
import { httpPlugin, type RouteInfo } from './http/plugin.ts'
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
import { projectsModule } from './projects/index.ts'
import { createProjectsService, type RunnerAvailability } from './projects/service.ts'
import { type RateRule, rateLimitPlugin } from './rate-limit/index.ts'
import { siteModule } from './site/index.ts'
import { createSiteService } from './site/service.ts'
import { createTerminalService, TicketStore, terminalModule, terminalProjects } from './terminal/index.ts'
import type { SessionManager } from './terminal/manager.ts'
import { noneAvailable, type RunnerRegistry } from './terminal/runners.ts'
import { type OtlpExporter, tracingPlugin, withTraceIds } from './tracing/index.ts'
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
}

/**
 * Builds the whole HTTP app synchronously (docs/conventions.md, rule 7): tests call `createApp(deps).handle(...)`,
 * index.ts adds listening and shutdown.
 */
export function createApp(deps: AppDeps) {
  const { config, logger, database, cache } = deps
  const checks: ReadinessCheck[] = [
    { name: 'database', check: () => database.ping() },
    { name: 'cache', check: () => cache.ping() },
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
  const mediaStorage = deps.mediaStorage ?? openMediaStorage(config)
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
  })
  const siteReads = createReadCache({ cache, namespace: 'site', logger })
  const site = createSiteService({ db: database.db, reads: siteReads, storage: mediaStorage, posts, projects })
  const terminal =
    deps.terminal &&
    createTerminalService({
      config: config.terminal,
      manager: deps.terminal,
      tickets: new TicketStore(cache, config.terminal.ticketTtlMs),
      projects: terminalProjects(projects),
      flags,
    })
  // The route list is read lazily (on a 404) so the plugin can be registered first.
  let routes: () => RouteInfo[] = () => []
  const app = new Elysia({ name: 'app' })
    .use(httpPlugin({ config, logger: withTraceIds(logger), routes: () => routes() }))
    .use(tracingPlugin({ exporter: deps.spanExporter }))
    .use(metricsModule({ token: config.metricsToken }))
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
    .use(projectsModule({ projects, auth: deps }))
    .use(mediaModule({ media, auth: deps }))
    .use(flagsModule({ flags, auth: deps }))
    .use(siteModule({ site, auth: deps, publicOrigin: config.publicOrigin }))
    .use(terminal ? terminalModule({ config, terminal, auth: deps }) : new Elysia({ name: 'module.terminal.off' }))
    .use(
      webModule({
        distDir: config.webDist,
        content: createContentSource({ site, projects, posts }),
        publicOrigin: config.publicOrigin,
        logger,
      }),
    )
    // Unsubscribe the content caches' invalidation listeners when the server stops.
    .onStop(() =>
      Promise.allSettled([flags.close(), projectReads.close(), postReads.close(), siteReads.close()]).then(() => {}),
    )
  routes = () => app.routes.filter((r) => r.path !== '/*')
  return app
}

export type App = ReturnType<typeof createApp>
