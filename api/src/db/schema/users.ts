import { sql } from 'drizzle-orm'
import { index, integer, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core'

export const userRole = pgEnum('user_role', ['admin', 'editor'])
export const userStatus = pgEnum('user_status', ['active', 'disabled'])

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    email: text('email').notNull(),
    displayName: text('display_name').notNull().default(''),
    role: userRole('role').notNull().default('editor'),
    status: userStatus('status').notNull().default('active'),
    passwordHash: text('password_hash').notNull(),
    /** Bumped on password change: every token carrying an older `ver` is rejected. */
    tokenVersion: integer('token_version').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
  },
  (t) => [
    // Unique among live users only: a soft-deleted account frees its email.
    uniqueIndex('users_email_live_idx').on(sql`lower(${t.email})`).where(sql`${t.deletedAt} is null`),
  ],
)

export const refreshTokenStatus = pgEnum('refresh_token_status', ['active', 'used', 'revoked'])

export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** SHA-256 of the opaque token; the token itself is never stored. */
    tokenHash: text('token_hash').notNull(),
    familyId: uuid('family_id').notNull(),
    parentId: uuid('parent_id'),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    status: refreshTokenStatus('status').notNull().default('active'),
    /** Set when rotated: the child issued for it (lets a grace-window retry get the same pair). */
    replacedById: uuid('replaced_by_id'),
    usedAt: timestamp('used_at', { withTimezone: true }),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('refresh_tokens_hash_idx').on(t.tokenHash),
    index('refresh_tokens_family_idx').on(t.familyId),
    index('refresh_tokens_user_idx').on(t.userId),
  ],
)

export type User = typeof users.$inferSelect
export type RefreshToken = typeof refreshTokens.$inferSelect
