import { and, eq, isNotNull, isNull } from 'drizzle-orm'
import type { PgColumn, PgTable, PgUpdateSetSource } from 'drizzle-orm/pg-core'
import { isUniqueViolation } from './errors.ts'
import type { Db } from './index.ts'

/** A table whose rows are soft-deleted, with a slug unique among its live rows. */
export type SoftDeletable = PgTable & { id: PgColumn; slug: PgColumn; deletedAt: PgColumn; updatedAt: PgColumn }

export interface SoftDeleteOptions {
  /** The error for an id that has no row at all (deleted or not). */
  notFound: () => Error
  /** The error for a restore whose slug another live row took meanwhile. */
  slugTaken: (slug: string) => Error
  /** Runs after a row changed state, e.g. to invalidate cached reads. */
  changed: () => Promise<void>
}

/**
 * Soft delete and restore of one table's rows by id. Both are idempotent: removing a deleted row or
 * restoring a live one changes nothing (and does not call `changed`). A restore that would give two
 * live rows the same slug fails with `slugTaken` — the live-slug unique index decides, so two
 * concurrent restores cannot both win.
 */
export function softDeletes<T extends SoftDeletable>(db: Db, table: T, options: SoftDeleteOptions) {
  // The casts below: drizzle's query builders cannot infer through a generic table; SoftDeletable
  // names the columns used, and both tables give them these types.
  const current = async (id: string) => {
    const [row] = await db
      .select({ slug: table.slug, deletedAt: table.deletedAt })
      .from(table as PgTable)
      .where(eq(table.id, id))
      .limit(1)
    if (!row) throw options.notFound()
    return row as { slug: string; deletedAt: Date | null }
  }
  const mark = (deletedAt: Date | null) => ({ deletedAt, updatedAt: new Date() }) as PgUpdateSetSource<T>

  return {
    /** Hides the row from every live read; it stays restorable. */
    async remove(id: string): Promise<void> {
      if ((await current(id)).deletedAt) return
      await db
        .update(table)
        .set(mark(new Date()))
        .where(and(eq(table.id, id), isNull(table.deletedAt)))
      await options.changed()
    },

    /** Undoes `remove`. */
    async restore(id: string): Promise<void> {
      const row = await current(id)
      if (!row.deletedAt) return
      try {
        await db
          .update(table)
          .set(mark(null))
          .where(and(eq(table.id, id), isNotNull(table.deletedAt)))
      } catch (err) {
        if (isUniqueViolation(err)) throw options.slugTaken(row.slug)
        throw err
      }
      await options.changed()
    },
  }
}
