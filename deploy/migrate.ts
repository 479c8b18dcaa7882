/**
 * Applies the committed migrations and exits: the step a deploy runs once before new API instances
 * take traffic (docker-compose.yml `migrate` service, .github/workflows/deploy.yml). The API also
 * migrates at start, which is idempotent; running it once first keeps replicas from racing.
 *
 *   DATABASE_URL=postgres://... bun run deploy/migrate.ts
 */
import { loadConfig } from '../api/src/config.ts'
import { openDatabase } from '../api/src/db/index.ts'

const config = loadConfig()
if (!config.databaseUrl) {
  console.error('migrate: DATABASE_URL is not set (the embedded PGlite migrates itself at start)')
  process.exit(78)
}
const database = await openDatabase({ url: config.databaseUrl, max: 1 })
const started = performance.now()
try {
  await database.migrate()
  console.log(`migrate: database is up to date (${Math.round(performance.now() - started)} ms)`)
} catch (err) {
  console.error(`migrate: failed: ${err instanceof Error ? err.message : String(err)}`)
  process.exitCode = 1
} finally {
  await database.close()
}
