import type { SessionExit } from '@shellfolio/runner/terminal-protocol'
import { eq } from 'drizzle-orm'
import type { Db } from '../db/index.ts'
import { terminalSessions } from '../db/schema/index.ts'
import type { Logger } from '../logger.ts'
import type { MediaStorage } from '../media/storage.ts'
import { ASCIICAST_CONTENT_TYPE, type AsciicastRecorder } from './recording.ts'
import type { SessionRecord } from './registry.ts'

export const recordingKey = (id: string) => `recordings/${id}.cast`

export interface SessionHistoryOptions {
  db: Db
  storage: MediaStorage
  logger: Logger
  now: () => number
}

/**
 * What outlives a session: its row in `terminal_sessions` (who ran what, where, how it ended) and
 * its asciicast recording in the media store. A failed write is logged, never fails the session.
 */
export class SessionHistory {
  constructor(private readonly options: SessionHistoryOptions) {}

  /** A session started on `instanceId`. */
  async started(record: SessionRecord, instanceId: string): Promise<void> {
    const { db, logger } = this.options
    await db
      .insert(terminalSessions)
      .values({
        id: record.id,
        projectSlug: record.project,
        runner: record.runner,
        clientIp: record.ip,
        instanceId,
        status: 'running',
        startedAt: new Date(record.startedAt),
      })
      .catch((err: unknown) => logger.error({ err, sessionId: record.id }, 'terminal history insert failed'))
  }

  /** Another instance took the session over. */
  async adopted(id: string, instanceId: string): Promise<void> {
    await this.options.db
      .update(terminalSessions)
      .set({ instanceId })
      .where(eq(terminalSessions.id, id))
      .catch(() => {})
  }

  /** Stores the recording, then the end of the row (with the recording's key when it was stored). */
  async ended(id: string, exit: SessionExit, recorder: AsciicastRecorder): Promise<void> {
    const { db, storage, logger, now } = this.options
    const key = recordingKey(id)
    let stored: string | null = key
    try {
      await storage.put(key, recorder.toBytes(), ASCIICAST_CONTENT_TYPE)
    } catch (err) {
      stored = null
      logger.error({ err, sessionId: id }, 'terminal recording could not be stored')
    }
    await db
      .update(terminalSessions)
      .set({
        status: 'ended',
        exitCode: exit.code,
        exitReason: exit.reason,
        recordingKey: stored,
        bytesOut: recorder.bytesOut,
        endedAt: new Date(now()),
      })
      .where(eq(terminalSessions.id, id))
      .catch((err: unknown) => logger.error({ err, sessionId: id }, 'terminal history update failed'))
  }

  /** A stored recording; null when there is none. */
  async recording(id: string): Promise<Uint8Array | null> {
    const stored = await this.options.storage.get(recordingKey(id))
    return stored?.body ?? null
  }
}
