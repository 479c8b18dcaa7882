import { randomBytes } from 'node:crypto'
import { and, eq, isNull, sql } from 'drizzle-orm'
import type { Config } from './config.ts'
import type { Db } from './db/index.ts'
import { users } from './db/schema/index.ts'

export interface AdminBootstrapResult {
  created: boolean
  /** Only set when the password was generated here: shown once, never stored in clear. */
  generatedPassword?: string
}

/** Creates the bootstrap admin from ADMIN_EMAIL / ADMIN_PASSWORD when no live user has that email. */
export async function ensureAdmin(
  db: Db,
  config: Pick<Config, 'adminEmail' | 'adminPassword'>,
): Promise<AdminBootstrapResult> {
  const existing = await db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(sql`lower(${users.email})`, config.adminEmail.toLowerCase()), isNull(users.deletedAt)))
    .limit(1)
  if (existing.length > 0) return { created: false }
  const generated = config.adminPassword === undefined ? randomBytes(18).toString('base64url') : undefined
  const password = config.adminPassword ?? generated!
  const passwordHash = await Bun.password.hash(password, { algorithm: 'argon2id' })
  await db
    .insert(users)
    .values({ email: config.adminEmail, displayName: 'Admin', role: 'admin', passwordHash })
    .onConflictDoNothing()
  return generated === undefined ? { created: true } : { created: true, generatedPassword: generated }
}
