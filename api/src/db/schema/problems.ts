import { index, integer, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core'

/**
 * Unexpected errors grouped for the admin's Problems page (api/src/problems, docs/faults.md): one row
 * per (code, route, first stack frame), counted, with the first and last time it happened and a
 * sample request and trace to find it in the logs. A resolved group reopens when it happens again.
 */
export const problems = pgTable(
  'problems',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** SHA-256 (hex, 32 chars) of code, route and frame: what groups occurrences. */
    fingerprint: text('fingerprint').notNull(),
    /** `INTERNAL`, `DATABASE_UNAVAILABLE`, `SESSION_START_FAILED`... */
    code: text('code').notNull(),
    /** The route template, or where a background failure happened (`dependency:database`, `terminal:open`). */
    route: text('route').notNull(),
    /** The first stack frame inside our code (`api/src/posts/service.ts:42`), empty when none. */
    frame: text('frame').notNull().default(''),
    /** The latest error message (first line, bounded). */
    message: text('message').notNull(),
    status: text('status', { enum: ['open', 'resolved'] })
      .notNull()
      .default('open'),
    count: integer('count').notNull().default(0),
    firstSeen: timestamp('first_seen', { withTimezone: true }).notNull(),
    lastSeen: timestamp('last_seen', { withTimezone: true }).notNull(),
    sampleRequestId: text('sample_request_id'),
    sampleTraceId: text('sample_trace_id'),
    resolvedAt: timestamp('resolved_at', { withTimezone: true }),
  },
  (t) => [uniqueIndex('problems_fingerprint_idx').on(t.fingerprint), index('problems_last_seen_idx').on(t.lastSeen)],
)

export type Problem = typeof problems.$inferSelect
