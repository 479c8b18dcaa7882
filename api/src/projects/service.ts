import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PROJECT_RUNTIMES, type ProjectRuntime, RUNNER_KINDS, type RunnerKind } from '@shellfolio/runner'
import { and, asc, desc, eq, isNotNull, isNull, like } from 'drizzle-orm'
import { isUniqueViolation } from '../db/errors.ts'
import type { Db } from '../db/index.ts'
import { media, type Project, projects, terminalSessions } from '../db/schema/index.ts'
import { softDeletes } from '../db/soft-delete.ts'
import type { FlagsService } from '../flags/service.ts'
import { BadRequestError, ConflictError, NotFoundError } from '../http/errors.ts'
import { type CachedRead, deriveRead, type ReadCache } from '../lib/read-cache.ts'
import type { Logger } from '../logger.ts'

/** Which runner kinds can start a session right now (the terminal module provides the real probe). */
export type RunnerAvailability = () => Promise<Record<RunnerKind, boolean>>

export interface ProjectView {
  id: string
  slug: string
  title: string
  summary: string
  description: string
  stack: string[]
  repoUrl: string | null
  sourcePath: string
  binary: string
  runners: RunnerKind[]
  commands: string[]
  policy: { allow: string[] }
  featured: boolean
  order: number
  /** The card and link-preview image (media library). */
  previewImage: { id: string; url: string } | null
  /** The recorded session played on the project page (public asciicast URL). */
  demo: { sessionId: string; url: string } | null
  /** The Docker sandbox's toolchain (docs/projects.md). */
  runtime: ProjectRuntime
  /** The command that prepares the project ('' when none). */
  build: string
  updatedAt: string
}

export interface PublicProject extends ProjectView {
  /** The project's runners that are up and switched on by the feature flags right now. */
  availableRunners: RunnerKind[]
}

export interface AdminProject extends ProjectView {
  /** `draft` (not listed, not runnable by visitors) or `published`. */
  status: 'draft' | 'published'
  /** The imported version visitors get (null: files under wasm-projects/, or no build passed yet). */
  currentVersionId: string | null
  createdAt: string
  deletedAt: string | null
}

export interface ProjectInput {
  slug: string
  title: string
  summary?: string
  description?: string
  stack?: string[]
  repoUrl?: string | null
  sourcePath: string
  binary?: string
  runners?: RunnerKind[]
  commands?: string[]
  policy?: { allow: string[] }
  runtime?: ProjectRuntime
  build?: string
  featured?: boolean
  order?: number
  previewMediaId?: string | null
  demoSessionId?: string | null
}

export class ProjectNotFoundError extends NotFoundError {
  constructor() {
    super('no such project', 'PROJECT_NOT_FOUND')
  }
}

export class ProjectSlugTakenError extends ConflictError {
  constructor(slug: string) {
    super(`a project with the slug '${slug}' already exists`, 'SLUG_TAKEN')
  }
}

const viewOf = (p: Project): ProjectView => ({
  id: p.id,
  slug: p.slug,
  title: p.title,
  summary: p.summary,
  description: p.description,
  stack: p.stack,
  repoUrl: p.repoUrl,
  sourcePath: p.sourcePath,
  binary: p.binary,
  runners: p.runners.filter((r): r is RunnerKind => (RUNNER_KINDS as readonly string[]).includes(r)),
  commands: p.commands,
  policy: p.policy,
  featured: p.featured,
  order: p.sortOrder,
  previewImage: p.previewMediaId ? { id: p.previewMediaId, url: `/api/v1/media/${p.previewMediaId}` } : null,
  demo: p.demoSessionId ? { sessionId: p.demoSessionId, url: `/api/v1/site/demos/${p.slug}` } : null,
  runtime: (PROJECT_RUNTIMES as readonly string[]).includes(p.runtime) ? (p.runtime as ProjectRuntime) : 'c',
  build: p.build,
  updatedAt: p.updatedAt.toISOString(),
})

const adminViewOf = (p: Project): AdminProject => ({
  ...viewOf(p),
  status: p.status === 'draft' ? 'draft' : 'published',
  currentVersionId: p.currentVersionId,
  createdAt: p.createdAt.toISOString(),
  deletedAt: p.deletedAt ? p.deletedAt.toISOString() : null,
})

const columnsOf = (input: Partial<ProjectInput>): Partial<typeof projects.$inferInsert> => {
  const values: Partial<typeof projects.$inferInsert> = {}
  if (input.slug !== undefined) values.slug = input.slug
  if (input.title !== undefined) values.title = input.title
  if (input.summary !== undefined) values.summary = input.summary
  if (input.description !== undefined) values.description = input.description
  if (input.stack !== undefined) values.stack = input.stack
  if (input.repoUrl !== undefined) values.repoUrl = input.repoUrl
  if (input.sourcePath !== undefined) values.sourcePath = input.sourcePath
  if (input.binary !== undefined) values.binary = input.binary
  if (input.runners !== undefined) values.runners = [...new Set(input.runners)]
  if (input.commands !== undefined) values.commands = input.commands
  if (input.policy !== undefined) values.policy = { allow: input.policy.allow }
  if (input.runtime !== undefined) values.runtime = input.runtime
  if (input.build !== undefined) values.build = input.build
  if (input.featured !== undefined) values.featured = input.featured
  if (input.order !== undefined) values.sortOrder = input.order
  if (input.previewMediaId !== undefined) values.previewMediaId = input.previewMediaId
  if (input.demoSessionId !== undefined) values.demoSessionId = input.demoSessionId
  return values
}

/** A new row: the given columns over the defaults (no commands allowed until the admin says so). */
const newRow = (input: ProjectInput, sourcePath: string): typeof projects.$inferInsert => ({
  policy: { allow: [] },
  ...columnsOf(input),
  slug: input.slug,
  title: input.title,
  sourcePath,
})

export interface ProjectsServiceOptions {
  db: Db
  reads: ReadCache
  flags: Pick<FlagsService, 'isEnabled'>
  runnerAvailability: RunnerAvailability
  logger?: Logger
}

export function createProjectsService({ db, reads, flags, runnerAvailability, logger }: ProjectsServiceOptions) {
  const byId = async (id: string) => (await db.select().from(projects).where(eq(projects.id, id)).limit(1))[0]
  /** A live, published project by slug, read straight from the database (uncached). */
  const liveRowBySlug = async (slug: string): Promise<Project | undefined> =>
    (
      await db
        .select()
        .from(projects)
        .where(and(eq(projects.slug, slug), isNull(projects.deletedAt), eq(projects.status, 'published')))
        .limit(1)
    )[0]
  const liveBySlug = async (slug: string): Promise<ProjectView | null> => {
    const row = await liveRowBySlug(slug)
    return row ? viewOf(row) : null
  }
  const getAdmin = async (id: string): Promise<AdminProject> => {
    const row = await byId(id)
    if (!row) throw new ProjectNotFoundError()
    return adminViewOf(row)
  }

  /**
   * Runner kinds usable now: up (probe), on (flags terminal.enabled and terminal.<kind>). Never
   * throws: a failing probe counts as nothing available.
   */
  const usableRunners = async (): Promise<Set<RunnerKind>> => {
    const usable = new Set<RunnerKind>()
    if (!(await flags.isEnabled('terminal.enabled'))) return usable
    let up = { docker: false, wasi: false }
    try {
      up = await runnerAvailability()
    } catch (err) {
      logger?.warn({ err }, 'runner availability probe failed')
    }
    for (const kind of RUNNER_KINDS) {
      if (up[kind] && (await flags.isEnabled(`terminal.${kind}`))) usable.add(kind)
    }
    return usable
  }
  const withAvailability = (p: ProjectView, usable: Set<RunnerKind>): PublicProject => ({
    ...p,
    availableRunners: p.runners.filter((r) => usable.has(r)),
  })

  const saveError = (err: unknown, slug: string | undefined): never => {
    if (isUniqueViolation(err)) throw new ProjectSlugTakenError(slug ?? '')
    throw err
  }

  /** The preview must be a live image in the media library; the demo a recorded session of this project. */
  const checkPreview = async (input: Partial<ProjectInput>, slug: string) => {
    const invalid = (path: string, message: string) =>
      new BadRequestError(message, [{ in: 'body', path, message }], 'VALIDATION_FAILED')
    if (input.previewMediaId) {
      const [image] = await db
        .select({ id: media.id })
        .from(media)
        .where(and(eq(media.id, input.previewMediaId), isNull(media.deletedAt), like(media.contentType, 'image/%')))
        .limit(1)
      if (!image) throw invalid('/previewMediaId', 'not an image in the media library')
    }
    if (input.demoSessionId) {
      const [session] = await db
        .select({ id: terminalSessions.id })
        .from(terminalSessions)
        .where(
          and(
            eq(terminalSessions.id, input.demoSessionId),
            eq(terminalSessions.projectSlug, slug),
            isNotNull(terminalSessions.recordingKey),
          ),
        )
        .limit(1)
      if (!session) throw invalid('/demoSessionId', 'not a recorded session of this project')
    }
  }

  const deletion = softDeletes(db, projects, {
    notFound: () => new ProjectNotFoundError(),
    slugTaken: (slug) => new ProjectSlugTakenError(slug),
    changed: () => reads.invalidate(),
  })

  /** Which runners are usable, as a derivation key: the same set gives back the same derived read. */
  const availabilityKey = (usable: Set<RunnerKind>) =>
    `available:${RUNNER_KINDS.filter((k) => usable.has(k)).join(',')}`

  /**
   * listPublic as a cached read with its ETag; the same rows and availability give back the same
   * object, so the route serializes it once (api/src/lib/conditional.ts).
   */
  const listPublicRead = async (): Promise<CachedRead<PublicProject[]>> => {
    const [read, usable] = await Promise.all([
      reads.get('list', async () => {
        const rows = await db
          .select()
          .from(projects)
          .where(and(isNull(projects.deletedAt), eq(projects.status, 'published')))
          .orderBy(asc(projects.sortOrder), asc(projects.title), asc(projects.id))
        return rows.map(viewOf)
      }),
      usableRunners(),
    ])
    return deriveRead(read, availabilityKey(usable), (rows) => rows.map((p) => withAvailability(p, usable)))
  }

  /** getPublic as a cached read (see listPublicRead); a missing project is a 404. */
  const getPublicRead = async (slug: string): Promise<CachedRead<PublicProject>> => {
    const [read, usable] = await Promise.all([reads.get(`slug:${slug}`, () => liveBySlug(slug)), usableRunners()])
    if (!read.value) throw new ProjectNotFoundError()
    return deriveRead(read as CachedRead<ProjectView>, availabilityKey(usable), (p) => withAvailability(p, usable))
  }

  return {
    usableRunners,

    /** Live projects in display order; the rows are cached, availability is evaluated per call. */
    async listPublic(): Promise<PublicProject[]> {
      return (await listPublicRead()).value
    },

    async getPublic(slug: string): Promise<PublicProject> {
      return (await getPublicRead(slug)).value
    },

    listPublicRead,
    getPublicRead,

    /** Read straight from the database (uncached): for the terminal module's session checks. */
    findLiveBySlug: liveBySlug,

    /** A published project's view and its current imported version (uncached), for sessions. */
    async findRunnable(slug: string): Promise<{ project: ProjectView; currentVersionId: string | null } | null> {
      const row = await liveRowBySlug(slug)
      return row ? { project: viewOf(row), currentVersionId: row.currentVersionId } : null
    },

    async listAdmin(includeDeleted: boolean): Promise<AdminProject[]> {
      const rows = await db
        .select()
        .from(projects)
        .where(includeDeleted ? undefined : isNull(projects.deletedAt))
        .orderBy(asc(projects.sortOrder), asc(projects.title), desc(projects.createdAt))
      return rows.map(adminViewOf)
    },

    getAdmin,

    async create(input: ProjectInput): Promise<AdminProject> {
      await checkPreview(input, input.slug)
      let id: string
      try {
        const [row] = await db.insert(projects).values(newRow(input, input.sourcePath)).returning({ id: projects.id })
        id = row!.id
      } catch (err) {
        return saveError(err, input.slug)
      }
      await reads.invalidate()
      return getAdmin(id)
    },

    async update(id: string, patch: Partial<ProjectInput>): Promise<AdminProject> {
      const current = await byId(id)
      if (!current || current.deletedAt) throw new ProjectNotFoundError()
      await checkPreview(patch, patch.slug ?? current.slug)
      try {
        await db
          .update(projects)
          .set({ ...columnsOf(patch), updatedAt: new Date() })
          .where(and(eq(projects.id, id), isNull(projects.deletedAt)))
      } catch (err) {
        return saveError(err, patch.slug)
      }
      await reads.invalidate()
      return getAdmin(id)
    },

    /** Soft delete (idempotent). */
    async remove(id: string): Promise<AdminProject> {
      await deletion.remove(id)
      return getAdmin(id)
    },

    /** Undoes a soft delete; 409 when another live project took the slug meanwhile. Idempotent. */
    async restore(id: string): Promise<AdminProject> {
      await deletion.restore(id)
      return getAdmin(id)
    },

    /**
     * Seeds from `wasm-projects/<folder>/project.json`: a project is inserted only when NO row with
     * its slug exists, live or soft-deleted. So admin edits and deletions survive restarts, and a
     * changed project.json only reaches a fresh database (documented in README "Content").
     */
    async seedFrom(dir: string): Promise<string[]> {
      const existing = new Set((await db.select({ slug: projects.slug }).from(projects)).map((r) => r.slug))
      const created: string[] = []
      let folders: string[]
      try {
        folders = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name)
      } catch {
        return created
      }
      for (const folder of folders.sort()) {
        let manifest: Record<string, unknown>
        try {
          manifest = JSON.parse(await readFile(join(dir, folder, 'project.json'), 'utf8'))
        } catch {
          continue
        }
        const input = projectFromManifest(folder, manifest)
        if (!input) {
          logger?.warn({ folder }, 'seed: wasm-projects/<folder>/project.json is missing slug or title; skipped')
          continue
        }
        if (existing.has(input.slug)) continue
        const rows = await db
          .insert(projects)
          .values(newRow(input, folder))
          .onConflictDoNothing()
          .returning({ slug: projects.slug })
        if (rows.length > 0) created.push(input.slug)
      }
      if (created.length > 0) await reads.invalidate()
      return created
    },
  }
}

const strings = (v: unknown): string[] | undefined =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined

/** Maps a project.json to the service input; undefined when it lacks the essentials. */
export function projectFromManifest(folder: string, m: Record<string, unknown>): ProjectInput | undefined {
  if (typeof m.slug !== 'string' || !/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(m.slug) || typeof m.title !== 'string') {
    return undefined
  }
  const policy = m.policy as { allow?: unknown } | undefined
  return {
    slug: m.slug,
    title: m.title,
    summary: typeof m.summary === 'string' ? m.summary : '',
    description: typeof m.description === 'string' ? m.description : '',
    stack: strings(m.stack) ?? [],
    repoUrl: typeof m.repoUrl === 'string' ? m.repoUrl : null,
    sourcePath: folder,
    binary: typeof m.binary === 'string' ? m.binary : '',
    runners: (strings(m.runners) ?? ['wasi', 'docker']).filter((r): r is RunnerKind =>
      (RUNNER_KINDS as readonly string[]).includes(r),
    ),
    commands: strings(m.commands) ?? [],
    policy: { allow: strings(policy?.allow) ?? [] },
    featured: m.featured === true,
    order: typeof m.order === 'number' && Number.isInteger(m.order) ? m.order : 0,
  }
}

export type ProjectsService = ReturnType<typeof createProjectsService>
