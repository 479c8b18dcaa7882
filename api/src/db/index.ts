import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { sql } from 'drizzle-orm'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { REPO_ROOT } from '../config.ts'
import { claimEndpoint } from '../health/dependencies.ts'
import * as schema from './schema/index.ts'

/** The drizzle database both adapters give: services never know which one they have. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>

export interface Database {
  readonly kind: 'postgres' | 'pglite'
  readonly db: Db
  /** Applies the committed migrations in drizzle/ (idempotent). */
  migrate(): Promise<void>
  /** Throws when the database does not answer. */
  ping(): Promise<void>
  close(): Promise<void>
}

export const MIGRATIONS_FOLDER = join(REPO_ROOT, 'drizzle')

export interface DatabaseOptions {
  /** postgres:// URL; when absent the embedded PGlite is used. */
  url?: string | undefined
  /** PGlite data directory; omitted means in-memory (tests). */
  dataDir?: string | undefined
  /** Connection pool size for PostgreSQL. */
  max?: number
}

/** Opens PostgreSQL when a URL is given, PGlite otherwise (docs/architecture.md). */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.url) {
    // A bare socket error to this port is a database outage (docs/faults.md).
    claimEndpoint(options.url, 'database')
    const client = postgres(options.url, {
      max: options.max ?? 10,
      onnotice: () => {},
      connect_timeout: 5,
      // why: postgres.js waits up to 3^n/100 s (capped at 20 s) before reconnecting after the n-th
      // failed connection, counted over the whole pool, so a busy API stayed away for ~20 s after the
      // database came back. Capped at 1 s (with jitter): full service within a second (docs/faults.md).
      backoff: (retries: number) => (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** retries, 1),
    })
    const db = drizzlePostgres(client, { schema }) as unknown as Db
    return {
      kind: 'postgres',
      db,
      migrate: () => migratePostgres(drizzlePostgres(client), { migrationsFolder: MIGRATIONS_FOLDER }),
      ping: async () => {
        await db.execute(sql`select 1`)
      },
      close: () => client.end({ timeout: 5 }),
    }
  }
  let dataDir: string | undefined
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true })
    dataDir = join(options.dataDir, 'pglite')
  }
  const client = await PGlite.create(dataDir)
  const db = drizzlePglite(client, { schema }) as unknown as Db
  return {
    kind: 'pglite',
    db,
    migrate: () => migratePglite(drizzlePglite(client), { migrationsFolder: MIGRATIONS_FOLDER }),
    ping: async () => {
      if (client.closed) throw new Error('database is closed')
      await client.query('select 1')
    },
    close: async () => {
      if (!client.closed) await client.close()
    },
  }
}

export { schema }
