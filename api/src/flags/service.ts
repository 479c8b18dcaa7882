import { createHash } from 'node:crypto'
import { and, desc, eq } from 'drizzle-orm'
import type { Cache } from '../cache/index.ts'
import type { AppEnv } from '../config.ts'
import type { Db } from '../db/index.ts'
import { type FeatureFlag, featureFlags, flagAudit } from '../db/schema/index.ts'
import type { Logger } from '../logger.ts'

/** The editable part of a flag (what PUT sends and what the audit records). */
export interface FlagSettings {
  description: string
  enabled: boolean
  rolloutPercent: number
  killSwitch: boolean
  defaultValue: boolean
}

export interface FlagView extends FlagSettings {
  key: string
  environment: string
  updatedAt: string
  updatedBy: string | null
}

export interface FlagAuditEntry {
  id: string
  key: string
  environment: string
  actorId: string | null
  before: FlagSettings | null
  after: FlagSettings
  createdAt: string
}

/** Flags every environment starts with (inserted when absent, never overwritten). */
export const DEFAULT_FLAGS: Record<string, FlagSettings> = {
  'terminal.enabled': {
    description: 'Visitors can open project terminals',
    enabled: true,
    rolloutPercent: 100,
    killSwitch: false,
    defaultValue: true,
  },
  'terminal.docker': {
    description: 'The Docker runner is offered',
    enabled: true,
    rolloutPercent: 100,
    killSwitch: false,
    defaultValue: true,
  },
  'terminal.wasi': {
    description: 'The WASI runner is offered',
    enabled: true,
    rolloutPercent: 100,
    killSwitch: false,
    defaultValue: true,
  },
}

export class FlagNotFoundError extends Error {}

/**
 * The rollout bucket of a subject for a flag, 0–99: the first 4 bytes of sha256(key:subject).
 * Deterministic, so a subject keeps its answer, and raising the percentage only adds subjects.
 */
export function rolloutBucket(key: string, subject: string): number {
  return createHash('sha256').update(`${key}:${subject}`).digest().readUInt32BE(0) % 100
}

/** Pure evaluation of one flag row for a subject (no subject: only a 100 % rollout is on). */
export function evaluateFlag(flag: FlagSettings & { key: string }, subject?: string): boolean {
  if (flag.killSwitch || !flag.enabled) return false
  if (flag.rolloutPercent >= 100) return true
  if (flag.rolloutPercent <= 0 || subject === undefined || subject === '') return false
  return rolloutBucket(flag.key, subject) < flag.rolloutPercent
}

export interface FlagsService {
  /**
   * Whether `key` is on for `subject` in this environment. Never throws: on any error (database
   * down, unknown flag) it answers the flag's default — the stored one when known, else `fallback`
   * (else DEFAULT_FLAGS, else false).
   */
  isEnabled(key: string, subject?: string, fallback?: boolean): Promise<boolean>
  /** Every flag of this environment evaluated for `subject` (never throws). */
  evaluateAll(subject?: string): Promise<Record<string, boolean>>
  list(): Promise<FlagView[]>
  /** Creates or updates a flag and appends an audit row in the same transaction. */
  put(key: string, changes: Partial<FlagSettings>, actorId: string | null): Promise<FlagView>
  audit(key: string, limit?: number): Promise<FlagAuditEntry[]>
  /** Inserts DEFAULT_FLAGS missing from this environment (audited with no actor). */
  ensureDefaults(): Promise<string[]>
  /** Resolves once cross-instance invalidation is listening. */
  readonly ready: Promise<void>
  close(): Promise<void>
}

export interface FlagsServiceOptions {
  db: Db
  cache: Cache
  environment: AppEnv | string
  logger?: Logger
  /** How long the in-process copy of the flags is trusted without an invalidation. */
  ttlMs?: number
}

const settingsOf = (row: FeatureFlag): FlagSettings => ({
  description: row.description,
  enabled: row.enabled,
  rolloutPercent: row.rolloutPercent,
  killSwitch: row.killSwitch,
  defaultValue: row.defaultValue,
})

const viewOf = (row: FeatureFlag): FlagView => ({
  key: row.key,
  environment: row.environment,
  ...settingsOf(row),
  updatedAt: row.updatedAt.toISOString(),
  updatedBy: row.updatedBy,
})

const CHANNEL = 'flags:changed'

export function createFlagsService(options: FlagsServiceOptions): FlagsService {
  const { db, cache, environment, logger } = options
  const ttlMs = options.ttlMs ?? 30_000
  let snapshot: { flags: Map<string, FeatureFlag>; expiresAt: number } | undefined
  let loading: Promise<Map<string, FeatureFlag>> | undefined
  /** Bumped on every invalidation: a load started before it must not repopulate the snapshot. */
  let epoch = 0

  const invalidateLocal = () => {
    epoch++
    snapshot = undefined
    loading = undefined
  }
  let unsubscribe: (() => Promise<void>) | undefined
  const ready = cache
    .subscribe(CHANNEL, (message) => {
      if (message === environment) invalidateLocal()
    })
    .then((u) => {
      unsubscribe = u
    })
    .catch((err) => logger?.warn({ err }, 'flags: subscribe failed; relying on the TTL'))

  const load = async (): Promise<Map<string, FeatureFlag>> => {
    if (snapshot && snapshot.expiresAt > Date.now()) return snapshot.flags
    if (!loading) {
      const started = epoch
      const pending = db
        .select()
        .from(featureFlags)
        .where(eq(featureFlags.environment, environment))
        .then((rows) => {
          const flags = new Map(rows.map((r) => [r.key, r]))
          if (started === epoch) snapshot = { flags, expiresAt: Date.now() + ttlMs }
          return flags
        })
        .finally(() => {
          if (loading === pending) loading = undefined
        })
      loading = pending
    }
    return loading
  }

  const announce = async () => {
    invalidateLocal()
    try {
      await cache.publish(CHANNEL, environment)
    } catch (err) {
      logger?.error({ err }, 'flags: could not publish an invalidation; other instances catch up within the TTL')
    }
  }

  return {
    ready,
    async isEnabled(key, subject, fallback) {
      const fallbackValue = fallback ?? DEFAULT_FLAGS[key]?.defaultValue ?? false
      try {
        const flag = (await load()).get(key)
        if (!flag) return fallbackValue
        return evaluateFlag(flag, subject)
      } catch (err) {
        logger?.warn({ err, key }, 'flag evaluation failed; answering the default')
        return snapshot?.flags.get(key)?.defaultValue ?? fallbackValue
      }
    },
    async evaluateAll(subject) {
      try {
        const flags = await load()
        return Object.fromEntries([...flags.values()].map((f) => [f.key, evaluateFlag(f, subject)]))
      } catch (err) {
        logger?.warn({ err }, 'flag evaluation failed; answering the defaults')
        return Object.fromEntries(Object.entries(DEFAULT_FLAGS).map(([k, v]) => [k, v.defaultValue]))
      }
    },
    async list() {
      const rows = await db
        .select()
        .from(featureFlags)
        .where(eq(featureFlags.environment, environment))
        .orderBy(featureFlags.key)
      return rows.map(viewOf)
    },
    async put(key, changes, actorId) {
      const row = await db.transaction(async (tx) => {
        const [current] = await tx
          .select()
          .from(featureFlags)
          .where(and(eq(featureFlags.key, key), eq(featureFlags.environment, environment)))
          .for('update')
        const before = current ? settingsOf(current) : null
        const base: FlagSettings = before ?? {
          description: '',
          enabled: false,
          rolloutPercent: 100,
          killSwitch: false,
          defaultValue: false,
        }
        const after: FlagSettings = {
          description: changes.description ?? base.description,
          enabled: changes.enabled ?? base.enabled,
          rolloutPercent: changes.rolloutPercent ?? base.rolloutPercent,
          killSwitch: changes.killSwitch ?? base.killSwitch,
          defaultValue: changes.defaultValue ?? base.defaultValue,
        }
        const [saved] = await tx
          .insert(featureFlags)
          .values({ key, environment, ...after, updatedAt: new Date(), updatedBy: actorId })
          .onConflictDoUpdate({
            target: [featureFlags.key, featureFlags.environment],
            set: { ...after, updatedAt: new Date(), updatedBy: actorId },
          })
          .returning()
        await tx.insert(flagAudit).values({ key, environment, actorId, before, after })
        return saved!
      })
      await announce()
      return viewOf(row)
    },
    async audit(key, limit = 100) {
      const rows = await db
        .select()
        .from(flagAudit)
        .where(and(eq(flagAudit.key, key), eq(flagAudit.environment, environment)))
        .orderBy(desc(flagAudit.createdAt), desc(flagAudit.id))
        .limit(limit)
      return rows.map((r) => ({
        id: r.id,
        key: r.key,
        environment: r.environment,
        actorId: r.actorId,
        before: (r.before as FlagSettings | null) ?? null,
        after: r.after as FlagSettings,
        createdAt: r.createdAt.toISOString(),
      }))
    },
    async ensureDefaults() {
      const created: string[] = []
      for (const [key, settings] of Object.entries(DEFAULT_FLAGS)) {
        const inserted = await db.transaction(async (tx) => {
          const rows = await tx
            .insert(featureFlags)
            .values({ key, environment, ...settings })
            .onConflictDoNothing()
            .returning({ key: featureFlags.key })
          if (rows.length > 0) await tx.insert(flagAudit).values({ key, environment, before: null, after: settings })
          return rows.length > 0
        })
        if (inserted) created.push(key)
      }
      if (created.length > 0) await announce()
      return created
    },
    async close() {
      await ready
      await unsubscribe?.()
    },
  }
}
