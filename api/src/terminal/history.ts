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
  /** How often writes that failed (database or storage down) are tried again (default 2 s). */
  retryMs?: number
}

type Row = typeof terminalSessions.$inferInsert

/** Writes a database or storage outage held back, tried again until they land (docs/faults.md). */
interface Behind {
  /** The row was never inserted: insert it (with everything known since). */
  insert: boolean
  row: Partial<Row>
  /** A recording still to store, then `row.recordingKey` is set. */
  recording?: Uint8Array
}

/** Bounds of what is held while an outage lasts: rows, and recording bytes (beyond: logged and dropped). */
const MAX_BEHIND = 10_000
const MAX_BEHIND_BYTES = 64 * 1024 * 1024

/**
 * What outlives a session: its row in `terminal_sessions` (who ran what, where, how it ended) and
 * its asciicast recording in the media store. A failed write is logged, never fails the session.
 */
export class SessionHistory {
  /** Sessions whose row or recording could not be written yet (docs/faults.md: records catch up). */
  private readonly behind = new Map<string, Behind>()
  private behindBytes = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  private catchingUp = false

  constructor(private readonly options: SessionHistoryOptions) {}

  /** Rows and recordings still waiting for the database or storage to come back. */
  get pending(): number {
    return this.behind.size
  }

  /** A session started on `instanceId`. */
  async started(record: SessionRecord, instanceId: string): Promise<void> {
    const { db, logger } = this.options
    const row: Row = {
      id: record.id,
      projectSlug: record.project,
      runner: record.runner,
      clientIp: record.ip,
      instanceId,
      status: 'running',
      startedAt: new Date(record.startedAt),
    }
    await db
      .insert(terminalSessions)
      .values(row)
      .catch((err: unknown) => {
        logger.warn(
          { err: String(err), sessionId: record.id },
          'terminal history insert held back until the database answers',
        )
        this.holdBack(record.id, { insert: true, row })
      })
  }

  /** Another instance took the session over. */
  async adopted(id: string, instanceId: string): Promise<void> {
    await this.options.db
      .update(terminalSessions)
      .set({ instanceId })
      .where(eq(terminalSessions.id, id))
      .catch(() => this.holdBack(id, { insert: false, row: { instanceId } }))
  }

  /** Stores the recording, then the end of the row (with the recording's key when it was stored). */
  async ended(id: string, exit: SessionExit, recorder: AsciicastRecorder): Promise<void> {
    const { db, storage, logger, now } = this.options
    const key = recordingKey(id)
    const bytes = recorder.toBytes()
    let stored: string | null = key
    try {
      await storage.put(key, bytes, ASCIICAST_CONTENT_TYPE)
    } catch (err) {
      stored = null
      logger.warn({ err: String(err), sessionId: id }, 'terminal recording held back until storage answers')
    }
    const end: Partial<Row> = {
      status: 'ended',
      exitCode: exit.code,
      exitReason: exit.reason,
      recordingKey: stored,
      bytesOut: recorder.bytesOut,
      commands: recorder.commands.lines,
      endedAt: new Date(now()),
    }
    const waiting = this.behind.get(id)
    if (waiting?.insert || stored === null) {
      // The row or the recording is still behind: the end joins them and lands with them.
      this.holdBack(id, { insert: false, row: end, ...(stored === null ? { recording: bytes } : {}) })
      return
    }
    await db
      .update(terminalSessions)
      .set(end)
      .where(eq(terminalSessions.id, id))
      .catch((err: unknown) => {
        logger.warn({ err: String(err), sessionId: id }, 'terminal history update held back until the database answers')
        this.holdBack(id, { insert: false, row: end })
      })
  }

  /** Stops trying again; what is still behind is tried once more first. */
  async close(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    await this.catchUp()
    clearTimeout(this.timer)
    this.timer = undefined
  }

  private holdBack(id: string, next: Behind): void {
    const had = this.behind.get(id)
    if (!had && this.behind.size >= MAX_BEHIND) {
      this.options.logger.error({ sessionId: id }, 'terminal history: too many records behind; this one is dropped')
      return
    }
    const merged: Behind = had
      ? {
          insert: had.insert || next.insert,
          row: { ...had.row, ...next.row },
          recording: next.recording ?? had.recording,
        }
      : next
    if (next.recording && !had?.recording) {
      if (this.behindBytes + next.recording.length > MAX_BEHIND_BYTES) {
        this.options.logger.error({ sessionId: id }, 'terminal history: recording dropped (too much held back)')
        merged.recording = had?.recording
      } else this.behindBytes += next.recording.length
    }
    // The key is set only once the recording is stored.
    if (merged.recording) merged.row.recordingKey = null
    this.behind.set(id, merged)
    this.schedule()
  }

  private schedule(): void {
    if (this.timer) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.catchUp()
    }, this.options.retryMs ?? 2000)
    this.timer.unref?.()
  }

  /** Writes what an outage held back, oldest first; stops at the first failure and tries again later. */
  private async catchUp(): Promise<void> {
    if (this.catchingUp) return
    this.catchingUp = true
    const { db, storage } = this.options
    const was = this.behind.size
    try {
      for (const [id, b] of this.behind) {
        if (b.recording) {
          await storage.put(recordingKey(id), b.recording, ASCIICAST_CONTENT_TYPE)
          this.behindBytes -= b.recording.length
          b.recording = undefined
          b.row.recordingKey = recordingKey(id)
        }
        if (b.insert) {
          const row = b.row as Row
          await db.insert(terminalSessions).values(row).onConflictDoUpdate({ target: terminalSessions.id, set: b.row })
          b.insert = false
        } else if (Object.keys(b.row).length > 0) {
          await db.update(terminalSessions).set(b.row).where(eq(terminalSessions.id, id))
        }
        this.behind.delete(id)
      }
      if (was > 0 && this.behind.size === 0) this.options.logger.warn({ records: was }, 'terminal history caught up')
    } catch {
      // Still down: the rest waits for the next try.
    } finally {
      this.catchingUp = false
      if (this.behind.size > 0) this.schedule()
    }
  }

  /** A stored recording; null when there is none. */
  async recording(id: string): Promise<Uint8Array | null> {
    const stored = await this.options.storage.get(recordingKey(id))
    return stored?.body ?? null
  }
}
