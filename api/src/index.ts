import { createApp, createFaultHandling } from './app.ts'
import { ensureAdmin } from './bootstrap.ts'
import { openCache } from './cache/index.ts'
import { ConfigError, loadConfig, withDevSecret } from './config.ts'
import { openDatabase } from './db/index.ts'
import { createLogger } from './logger.ts'
import { openMediaStorage } from './media/open-storage.ts'
import { metrics } from './metrics/index.ts'
import { projectFilesDir } from './projects/import.ts'
import { seedContent } from './seed.ts'
import { MAX_UPLOAD_REQUEST } from './terminal/files.ts'
import { SessionManager } from './terminal/manager.ts'
import { createRunnerRegistry } from './terminal/runners.ts'
import { exporterFromConfig } from './tracing/index.ts'

/** The only async entry point: opens pools, migrates, seeds, listens, and shuts down cleanly. */
async function main() {
  let config: ReturnType<typeof loadConfig>
  try {
    config = withDevSecret(loadConfig())
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`shellfolio: ${err.message}`)
      process.exit(78)
    }
    throw err
  }
  const logger = createLogger(config.logLevel)
  const step = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
    const started = performance.now()
    process.stderr.write(`• ${label}…`)
    const result = await fn()
    process.stderr.write(` done (${Math.round(performance.now() - started)} ms)\n`)
    return result
  }

  const database = await step(
    config.databaseUrl ? 'connecting to PostgreSQL' : `opening the embedded database in ${config.dataDir}`,
    () => openDatabase({ url: config.databaseUrl, dataDir: config.dataDir }),
  )
  await step('applying migrations', () => database.migrate())
  const cache = await step(config.redisUrl ? 'connecting to Redis' : 'starting the in-process cache', () =>
    openCache({ url: config.redisUrl, prefix: config.redisPrefix }),
  )
  const admin = await step('checking the admin account', () => ensureAdmin(database.db, config))
  if (admin.generatedPassword) {
    process.stderr.write(
      `\n  Admin account created: ${config.adminEmail}\n  Password (shown once, store it now): ${admin.generatedPassword}\n\n`,
    )
  }

  const mediaStorage = openMediaStorage(config)
  const seeded = await step('seeding flags, projects and sample posts', () =>
    seedContent({
      db: database.db,
      cache,
      config,
      logger,
      projectFiles: { storage: mediaStorage, filesDir: projectFilesDir(config.dataDir) },
    }),
  )
  logger.info(seeded, 'seeded content (only what was missing)')

  const spanExporter = exporterFromConfig(config, logger)
  const runners = await step(`starting runners (${config.runners.join(', ')})`, () =>
    createRunnerRegistry(config, { logger, redis: cache.redis }),
  )
  logger.info({ runners: runners.availability() }, 'runner availability')
  // Runners with a warm pool (Docker): sample what is ready at each scrape.
  metrics.sample(() => {
    const pool = runners.get('docker')?.pool
    if (pool) metrics.warmPoolSize.set({ runner: 'docker' }, pool.ready())
  })
  // The Problems list and the outage monitor outlive the app's routes: sessions report into them until they end.
  const faults = createFaultHandling({ config, logger, database, cache, storage: mediaStorage })
  const terminal = new SessionManager({
    config: config.terminal,
    runners,
    cache,
    db: database.db,
    storage: mediaStorage,
    logger,
    problems: faults.problems,
  })
  if (config.appEnv === 'production' && !config.metricsToken)
    logger.warn('METRICS_TOKEN is not set: GET /metrics answers 404 in production (docs/configuration.md)')
  const app = createApp({ config, logger, database, cache, spanExporter, runners, terminal, mediaStorage, faults })
  app.listen({
    hostname: config.host,
    port: config.port,
    maxRequestBodySize: Math.max(config.uploadLimit, config.projectUploadLimit, MAX_UPLOAD_REQUEST) + 1024 * 1024,
  })
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${app.server?.port}`
  logger.info({ url, database: database.kind, cache: cache.kind }, 'listening')
  process.stderr.write(`\nShellfolio is running at ${url}\n`)

  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down: no new connections, draining')
    const timer = setTimeout(() => process.exit(1), 15_000)
    timer.unref()
    await app.stop(false) // stop accepting; let in-flight requests finish
    // Sessions end with an exit message and their recordings are stored before the pools close.
    await terminal.close().catch(() => {})
    await runners.close().catch(() => {})
    await faults.close().catch(() => {})
    await Promise.allSettled([database.close(), cache.close(), spanExporter?.close()])
    logger.info('stopped')
    process.exit(0)
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
}

await main().catch((err) => {
  // A configuration problem found while starting (e.g. SANDBOX_RUNTIME=runsc on an engine without runsc).
  if (err instanceof ConfigError) {
    console.error(`shellfolio: ${err.message}`)
    process.exit(78)
  }
  throw err
})
