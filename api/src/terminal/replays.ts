import { and, eq, isNotNull } from 'drizzle-orm'
import type { Db } from '../db/index.ts'
import { terminalSessions } from '../db/schema/index.ts'
import type { MediaStorage } from '../media/storage.ts'

/** A published recording as the public sees it (docs/api.md, "Replays"). */
export interface ReplayView {
  id: string
  project: string
  startedAt: string
  endedAt: string | null
  /** The lines the visitor submitted, in order: what "Continue live" re-runs in a fresh session. */
  commands: string[]
  /** The asciicast v2 file. */
  castUrl: string
}

/**
 * Public replays: an admin publishes a recorded session (`published_at`), which the public can then
 * play at `/replay/:id` and continue live. A recording not published stays admin-only: to the
 * public it does not exist (404).
 */
export class ReplayStore {
  constructor(private readonly options: { db: Db; storage: MediaStorage }) {}

  /** Publishes (or withdraws) the recording of an ended session; false when it has no stored recording. */
  async publish(id: string, published: boolean): Promise<boolean> {
    const rows = await this.options.db
      .update(terminalSessions)
      .set({ publishedAt: published ? new Date() : null })
      .where(and(eq(terminalSessions.id, id), isNotNull(terminalSessions.recordingKey)))
      .returning({ id: terminalSessions.id })
    return rows.length > 0
  }

  /** The published replay `id`, or null (unknown, not ended, or private). */
  async get(id: string): Promise<ReplayView | null> {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return null
    const [row] = await this.options.db
      .select()
      .from(terminalSessions)
      .where(
        and(
          eq(terminalSessions.id, id),
          isNotNull(terminalSessions.publishedAt),
          isNotNull(terminalSessions.recordingKey),
        ),
      )
    if (!row) return null
    return {
      id: row.id,
      project: row.projectSlug,
      startedAt: row.startedAt.toISOString(),
      endedAt: row.endedAt?.toISOString() ?? null,
      // The line that ended the recorded session would end the continued one too.
      commands: row.commands.filter((line) => !/^(exit|logout)(\s|$)/.test(line)),
      castUrl: `/api/v1/replays/${row.id}/cast`,
    }
  }

  /** The asciicast of a published replay, or null. */
  async cast(id: string): Promise<Uint8Array | null> {
    if (!(await this.get(id))) return null
    const [row] = await this.options.db
      .select({ key: terminalSessions.recordingKey })
      .from(terminalSessions)
      .where(eq(terminalSessions.id, id))
    if (!row?.key) return null
    return (await this.options.storage.get(row.key))?.body ?? null
  }
}
