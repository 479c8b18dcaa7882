import { Elysia } from 'elysia'
import { authModule } from './auth/index.ts'
import type { LoginLimits } from './auth/login-guard.ts'
import type { Cache } from './cache/index.ts'
import type { Config } from './config.ts'
import type { Database } from './db/index.ts'
import { docsModule } from './docs/index.ts'
import { healthModule, type ReadinessCheck } from './health/index.ts'
import { httpPlugin, type RouteInfo } from './http/plugin.ts'
import type { Logger } from './logger.ts'
import { metricsModule } from './metrics/index.ts'
import { type RateRule, rateLimitPlugin } from './rate-limit/index.ts'
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
  ]
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
    .use(webModule(config.webDist))
  routes = () => app.routes.filter((r) => r.path !== '/*')
  return app
}

export type App = ReturnType<typeof createApp>
