import { Elysia } from 'elysia'
import { authModule } from './auth/index.ts'
import type { LoginLimits } from './auth/login-guard.ts'
import type { Cache } from './cache/index.ts'
import type { Config } from './config.ts'
import type { Database } from './db/index.ts'
import { docsModule } from './docs/index.ts'
import { healthModule, type ReadinessCheck } from './health/index.ts'
import { httpPlugin, type RouteInfo } from './http/plugin.ts'
import { createReadCache } from './lib/read-cache.ts'
import type { Logger } from './logger.ts'
import { metricsModule } from './metrics/index.ts'
import { createCursorCodec } from './posts/cursor.ts'
import { postsModule } from './posts/index.ts'
import { createPostsService } from './posts/service.ts'
import { type RateRule, rateLimitPlugin } from './rate-limit/index.ts'
import { projectsFromDatabase, TicketStore, terminalModule } from './terminal/index.ts'
import type { SessionManager } from './terminal/manager.ts'
import type { RunnerRegistry } from './terminal/runners.ts'
import { type OtlpExporter, tracingPlugin, withTraceIds } from './tracing/index.ts'
import { webModule } from './web/index.ts'

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
}

/**
 * Builds the whole HTTP app synchronously (STYLE.md rule 7): tests call `createApp(deps).handle(...)`,
 * index.ts adds listening and shutdown.
 */
export function createApp(deps: AppDeps) {
  const { config, logger, database, cache } = deps
  const checks: ReadinessCheck[] = [
    { name: 'database', check: () => database.ping() },
    { name: 'cache', check: () => cache.ping() },
    ...(deps.readiness ?? []),
    // Docker is optional (DESIGN.md §3): reported, never makes the instance unready.
    ...((deps.runners ? config.runners : []).map((kind) => ({
      name: `runner.${kind}`,
      optional: kind === 'docker',
      check: async () => {
        if (!deps.runners?.availability()[kind]) throw new Error(`${kind} unavailable`)
      },
    })) satisfies ReadinessCheck[]),
  ]
  const posts = createPostsService({
    db: database.db,
    reads: createReadCache({ cache, namespace: 'posts', logger }),
    cursors: createCursorCodec(config.jwtSecret),
  })
  // The route list is read lazily (on a 404) so the plugin can be registered first.
  let routes: () => RouteInfo[] = () => []
  const app = new Elysia({ name: 'app' })
    .use(httpPlugin({ config, logger: withTraceIds(logger), routes: () => routes() }))
    .use(tracingPlugin({ exporter: deps.spanExporter }))
    .use(metricsModule({ token: config.metricsToken }))
    .use(rateLimitPlugin({ cache, config, logger, rules: deps.rateLimits }))
    .use(docsModule())
    .use(healthModule(() => checks))
    .use(authModule(deps))
    .use(postsModule({ posts, auth: deps }))
    .use(
      deps.terminal
        ? terminalModule({
            config,
            manager: deps.terminal,
            tickets: new TicketStore(cache, config.terminal.ticketTtlMs),
            resolveProject: projectsFromDatabase(database.db),
            auth: deps,
          })
        : new Elysia({ name: 'module.terminal.off' }),
    )
    .use(webModule(config.webDist))
  routes = () => app.routes.filter((r) => r.path !== '/*')
  return app
}

export type App = ReturnType<typeof createApp>
