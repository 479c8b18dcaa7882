import { and, eq, isNull, ne, sql } from 'drizzle-orm'
import type { Db } from '../db/index.ts'
import { refreshTokens, type User, users } from '../db/schema/index.ts'
import { ConflictError, NotFoundError } from '../http/errors.ts'

/**
 * Account management on the database only (the CLI and the bootstrap use it without a cache):
 * every change that must end sessions bumps token_version and revokes the refresh tokens, and
 * access tokens are checked against the user row on every request, so nothing else is needed.
 */

export type Role = 'admin' | 'editor'
export const ROLES: readonly Role[] = ['admin', 'editor']
export const MIN_PASSWORD_LENGTH = 12
export const MAX_PASSWORD_LENGTH = 1024

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase()
}

export function hashPassword(password: string): Promise<string> {
  return Bun.password.hash(password, { algorithm: 'argon2id' })
}

/** Checks a password against a stored hash; a corrupt hash is a mismatch, never a crash. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  try {
    return await Bun.password.verify(password, hash, 'argon2id')
  } catch {
    return false
  }
}

let dummy: Promise<string> | undefined
/** A real argon2id hash of a random secret: unknown users are checked against it (same timing). */
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(crypto.randomUUID())
  return dummy
}

/** The live (not soft-deleted) user with that email, whatever their status. */
export async function findLiveUserByEmail(db: Db, email: string): Promise<User | undefined> {
  const [row] = await db
    .select()
    .from(users)
    .where(and(eq(sql`lower(${users.email})`, normalizeEmail(email)), isNull(users.deletedAt)))
    .limit(1)
  return row
}

async function requireUser(db: Db, email: string): Promise<User> {
  const user = await findLiveUserByEmail(db, email)
  if (!user) throw new NotFoundError(`no account for ${normalizeEmail(email)}`, 'USER_NOT_FOUND')
  return user
}

export async function createUser(
  db: Db,
  input: { email: string; password: string; role: Role; displayName?: string },
): Promise<User> {
  if (await findLiveUserByEmail(db, input.email)) {
    throw new ConflictError(`an account for ${normalizeEmail(input.email)} already exists`, 'USER_EXISTS')
  }
  const passwordHash = await hashPassword(input.password)
  const [row] = await db
    .insert(users)
    .values({
      email: normalizeEmail(input.email),
      displayName: input.displayName ?? '',
      role: input.role,
      passwordHash,
    })
    .returning()
  return row!
}

/** Ends every session of a user: bumps token_version and revokes all refresh tokens (in `tx`). */
export async function revokeAllSessions(tx: Db, userId: string): Promise<string[]> {
  const rows = await tx
    .update(refreshTokens)
    .set({ status: 'revoked' })
    .where(and(eq(refreshTokens.userId, userId), ne(refreshTokens.status, 'revoked')))
    .returning({ familyId: refreshTokens.familyId })
  return [...new Set(rows.map((r) => r.familyId))]
}

/** Sets a new password and ends every existing session, in one transaction. */
export async function setPassword(db: Db, userId: string, password: string): Promise<string[]> {
  const passwordHash = await hashPassword(password)
  return db.transaction(async (tx) => {
    await tx
      .update(users)
      .set({ passwordHash, tokenVersion: sql`${users.tokenVersion} + 1`, updatedAt: new Date() })
      .where(eq(users.id, userId))
    return revokeAllSessions(tx as unknown as Db, userId)
  })
}

export async function resetPasswordByEmail(db: Db, email: string, password: string): Promise<User> {
  const user = await requireUser(db, email)
  await setPassword(db, user.id, password)
  return user
}

/** Disables or re-enables an account; disabling ends its sessions at once. */
export async function setStatusByEmail(db: Db, email: string, status: 'active' | 'disabled'): Promise<User> {
  const user = await requireUser(db, email)
  await db.transaction(async (tx) => {
    await tx
      .update(users)
      .set({ status, tokenVersion: sql`${users.tokenVersion} + 1`, updatedAt: new Date() })
      .where(eq(users.id, user.id))
    if (status === 'disabled') await revokeAllSessions(tx as unknown as Db, user.id)
  })
  return { ...user, status }
}

/** Soft delete: the row stays (authorship), the email is freed, every session ends. */
export async function softDeleteUser(db: Db, userId: string): Promise<void> {
  await db.transaction(async (tx) => {
    await tx
      .update(users)
      .set({ deletedAt: new Date(), tokenVersion: sql`${users.tokenVersion} + 1`, updatedAt: new Date() })
      .where(eq(users.id, userId))
    await revokeAllSessions(tx as unknown as Db, userId)
  })
}
