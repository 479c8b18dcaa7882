import { sql } from 'drizzle-orm'
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core'
import { users } from './users.ts'

export const postStatus = pgEnum('post_status', ['draft', 'published'])

export const posts = pgTable(
  'posts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    slug: text('slug').notNull(),
    title: text('title').notNull(),
    summary: text('summary').notNull().default(''),
    bodyMarkdown: text('body_markdown').notNull(),
    /** Rendered and sanitized on write, never on read. */
    bodyHtml: text('body_html').notNull(),
    tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
    status: postStatus('status').notNull().default('draft'),
    publishedAt: timestamp('published_at', { withTimezone: true }),
    authorId: uuid('author_id').references(() => users.id),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('posts_slug_live_idx').on(t.slug).where(sql`${t.deletedAt} is null`),
    // Keyset pagination of the public list: newest first, id breaks ties.
    index('posts_public_idx').on(t.publishedAt, t.id),
  ],
)

export const projects = pgTable(
  'projects',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    slug: text('slug').notNull(),
    title: text('title').notNull(),
    summary: text('summary').notNull().default(''),
    description: text('description').notNull().default(''),
    stack: text('stack').array().notNull().default(sql`'{}'::text[]`),
    repoUrl: text('repo_url'),
    /** Folder under wasm-projects/ holding the sources. */
    sourcePath: text('source_path').notNull(),
    /** The program `make` builds (and the WASI runner executes). */
    binary: text('binary').notNull().default(''),
    runners: text('runners').array().notNull().default(sql`'{wasi,docker}'::text[]`),
    commands: text('commands').array().notNull().default(sql`'{}'::text[]`),
    policy: jsonb('policy').$type<{ allow: string[] }>().notNull(),
    featured: boolean('featured').notNull().default(false),
    sortOrder: integer('sort_order').notNull().default(0),
    /** An image from the media library shown on cards and in link previews. */
    previewMediaId: uuid('preview_media_id'),
    /** One of the project's own recorded sessions, played on its page as a demo. */
    demoSessionId: uuid('demo_session_id'),
    /** The toolchain the Docker sandbox needs (docs/projects.md): c, python, node, go, rust. */
    runtime: text('runtime').notNull().default('c'),
    /** The command that prepares the project (run by the check build and left to visitors). */
    build: text('build').notNull().default(''),
    /** `draft` (imported, not listed, not runnable by visitors) or `published`. */
    status: text('status').notNull().default('published'),
    /** The imported version visitors get; null for a project whose files live under wasm-projects/. */
    currentVersionId: uuid('current_version_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
  },
  (t) => [uniqueIndex('projects_slug_live_idx').on(t.slug).where(sql`${t.deletedAt} is null`)],
)

/** One file of an imported version: its path in the project and its bytes in the media store by SHA-256. */
export interface VersionFile {
  path: string
  sha256: string
  size: number
  /** Permission bits (0o755 for executables). */
  mode: number
}

/**
 * Every import of a project (docs/projects.md): the parsed project.json, the file list (contents in
 * the media store under `projects/blobs/<sha256>`), and its check build. Kept for rollback.
 */
export const projectVersions = pgTable(
  'project_versions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id),
    number: integer('number').notNull(),
    manifest: jsonb('manifest').$type<Record<string, unknown>>().notNull(),
    files: jsonb('files').$type<VersionFile[]>().notNull(),
    /** Symbolic links inside the project: path → relative target (never outside the project). */
    links: jsonb('links').$type<{ path: string; target: string }[]>().notNull().default(sql`'[]'::jsonb`),
    totalBytes: bigint('total_bytes', { mode: 'number' }).notNull().default(0),
    archiveSha256: text('archive_sha256').notNull().default(''),
    /** queued | running | passed | failed */
    buildStatus: text('build_status').notNull().default('queued'),
    buildRunner: text('build_runner'),
    buildLog: text('build_log').notNull().default(''),
    buildStartedAt: timestamp('build_started_at', { withTimezone: true }),
    buildFinishedAt: timestamp('build_finished_at', { withTimezone: true }),
    createdBy: uuid('created_by').references(() => users.id),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('project_versions_number_idx').on(t.projectId, t.number)],
)

export const media = pgTable('media', {
  id: uuid('id').primaryKey().defaultRandom(),
  /** Random storage key; never derived from the client's file name. */
  key: text('key').notNull().unique(),
  contentType: text('content_type').notNull(),
  size: bigint('size', { mode: 'number' }).notNull(),
  /** Hex SHA-256 of the bytes: the strong ETag. */
  sha256: text('sha256').notNull().default(''),
  originalName: text('original_name').notNull().default(''),
  uploadedBy: uuid('uploaded_by').references(() => users.id),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  deletedAt: timestamp('deleted_at', { withTimezone: true }),
})

export const featureFlags = pgTable(
  'feature_flags',
  {
    key: text('key').notNull(),
    environment: text('environment').notNull(),
    description: text('description').notNull().default(''),
    enabled: boolean('enabled').notNull().default(false),
    /** 0–100: share of subjects that see the flag on when enabled. */
    rolloutPercent: integer('rollout_percent').notNull().default(100),
    /** Forces the flag off everywhere, whatever `enabled` says. */
    killSwitch: boolean('kill_switch').notNull().default(false),
    defaultValue: boolean('default_value').notNull().default(false),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    updatedBy: uuid('updated_by').references(() => users.id),
  },
  (t) => [uniqueIndex('feature_flags_key_env_idx').on(t.key, t.environment)],
)

/** Append-only: rows are inserted, never updated or deleted. */
export const flagAudit = pgTable('flag_audit', {
  id: uuid('id').primaryKey().defaultRandom(),
  key: text('key').notNull(),
  environment: text('environment').notNull(),
  actorId: uuid('actor_id').references(() => users.id),
  before: jsonb('before'),
  after: jsonb('after').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
})

export const terminalSessions = pgTable(
  'terminal_sessions',
  {
    id: uuid('id').primaryKey(),
    projectSlug: text('project_slug').notNull(),
    runner: text('runner').notNull(),
    clientIp: text('client_ip').notNull().default(''),
    instanceId: text('instance_id').notNull().default(''),
    status: text('status').notNull().default('starting'),
    exitCode: integer('exit_code'),
    exitReason: text('exit_reason'),
    recordingKey: text('recording_key'),
    bytesOut: bigint('bytes_out', { mode: 'number' }).notNull().default(0),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
    endedAt: timestamp('ended_at', { withTimezone: true }),
    /** The lines the visitor submitted (Enter), in order, bounded: what "Continue live" re-runs (docs/api.md, Replays). */
    commands: jsonb('commands').$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    /** Set when the admin published the recording as a public replay (`/replay/:id`); null: admin-only. */
    publishedAt: timestamp('published_at', { withTimezone: true }),
  },
  (t) => [index('terminal_sessions_started_idx').on(t.startedAt)],
)

/**
 * The owner's profile: one row (id 1), written by the admin. `introHtml` is rendered and sanitized
 * on write like a post's body. No row yet means a fresh install (neutral defaults are shown).
 */
export const siteProfile = pgTable('site_profile', {
  id: integer('id').primaryKey().default(1),
  name: text('name').notNull(),
  headline: text('headline').notNull().default(''),
  introMarkdown: text('intro_markdown').notNull().default(''),
  introHtml: text('intro_html').notNull().default(''),
  avatarMediaId: uuid('avatar_media_id'),
  location: text('location').notNull().default(''),
  links: jsonb('links').$type<{ label: string; url: string }[]>().notNull().default(sql`'[]'::jsonb`),
  siteTitle: text('site_title').notNull(),
  siteDescription: text('site_description').notNull().default(''),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  updatedBy: uuid('updated_by').references(() => users.id),
})

export type Post = typeof posts.$inferSelect
export type Project = typeof projects.$inferSelect
export type ProjectVersion = typeof projectVersions.$inferSelect
export type Media = typeof media.$inferSelect
export type FeatureFlag = typeof featureFlags.$inferSelect
export type TerminalSessionRow = typeof terminalSessions.$inferSelect
export type SiteProfileRow = typeof siteProfile.$inferSelect
