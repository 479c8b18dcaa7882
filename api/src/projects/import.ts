/**
 * Imported projects (docs/projects.md): archive → checked entries → files in the media store by
 * content hash → a new version → its check build → the version visitors get. Nothing is written
 * until the whole archive has been read and found safe.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ProjectRuntime, Runner, RunnerKind } from '@shellfolio/runner'
import { and, desc, eq, isNull, max } from 'drizzle-orm'
import { REPO_ROOT } from '../config.ts'
import { isUniqueViolation } from '../db/errors.ts'
import type { Db } from '../db/index.ts'
import { type Project, type ProjectVersion, projects, projectVersions, type VersionFile } from '../db/schema/index.ts'
import { AppError, BadRequestError, ConflictError, NotFoundError } from '../http/errors.ts'
import type { ReadCache } from '../lib/read-cache.ts'
import type { Logger } from '../logger.ts'
import type { MediaStorage } from '../media/storage.ts'
import type { ProblemReport } from '../problems/service.ts'
import {
  type ArchiveEntry,
  ArchiveError,
  type ArchiveFormat,
  type ArchiveLimits,
  DEFAULT_ARCHIVE_LIMITS,
  readArchive,
  sniffArchive,
} from './archive.ts'
import { checkBuild } from './build.ts'
import { blobKey, materialize } from './files.ts'
import { type ProjectManifest, parseManifest } from './manifest.ts'
import { ProjectNotFoundError, ProjectSlugTakenError } from './service.ts'

export type BuildStatus = 'queued' | 'running' | 'passed' | 'failed'

export interface BuildView {
  versionId: string
  version: number
  status: BuildStatus
  runner: RunnerKind | null
  log: string
  startedAt: string | null
  finishedAt: string | null
}

export interface VersionView {
  id: string
  number: number
  slug: string
  title: string
  runtime: ProjectRuntime
  files: number
  totalBytes: number
  current: boolean
  build: BuildView
  createdAt: string
}

/** A refused archive: 400 with the entry it names, or 413 for one over the upload limit. */
export class ArchiveRejectedError extends AppError {
  constructor(err: ArchiveError) {
    super(400, err.code, err.message, err.entry !== undefined ? { entry: err.entry } : undefined)
  }
}

export class ArchiveTooLargeError extends AppError {
  constructor(limit: number) {
    super(413, 'PAYLOAD_TOO_LARGE', `the archive is larger than PROJECT_UPLOAD_LIMIT (${limit} bytes)`, { limit })
  }
}

export class VersionNotFoundError extends NotFoundError {
  constructor() {
    super('no such version of this project', 'VERSION_NOT_FOUND')
  }
}

/** Where a checked file's bytes are in the archive: enough to store them in a second pass. */
interface ScannedFile extends VersionFile {}

interface Scan {
  format: ArchiveFormat
  /** The folder every entry sits in when the archive wraps the project in one (`name/…`), else ''. */
  prefix: string
  files: Map<string, ScannedFile>
  links: { path: string; target: string }[]
  manifest: ProjectManifest
  totalBytes: number
}

/** How much longer than its time limits a build may look unfinished before it counts as interrupted. */
const STALE_MARGIN_MS = 2 * 60_000

const sha256 = (bytes: Uint8Array) => new Bun.CryptoHasher('sha256').update(bytes).digest('hex')

/**
 * Pass 1: every entry checked (paths, links, types, counts, sizes), every file hashed and then
 * dropped, project.json kept. Throws before anything is stored.
 */
async function scanArchive(archive: Blob, limits: ArchiveLimits): Promise<Scan> {
  const format = sniffArchive(new Uint8Array(await archive.slice(0, 512).arrayBuffer()))
  if (!format) {
    throw new ArchiveError('ARCHIVE_INVALID', 'the upload is not a .tar.gz, .tgz, .tar or .zip archive')
  }
  const files = new Map<string, ScannedFile>()
  const dirs = new Set<string>()
  const links = new Map<string, string>()
  const manifests = new Map<string, Uint8Array>()
  for await (const entry of readArchive(archive, format, limits)) {
    if (entry.kind === 'file') {
      if (entry.path === 'project.json' || /^[^/]+\/project\.json$/.test(entry.path)) {
        manifests.set(entry.path, entry.body)
      }
      files.set(entry.path, { path: entry.path, sha256: sha256(entry.body), size: entry.body.length, mode: entry.mode })
    } else if (entry.kind === 'dir') dirs.add(entry.path)
    else if (entry.kind === 'symlink') links.set(entry.path, entry.target)
    else {
      const original = files.get(entry.target)
      if (!original) {
        throw new ArchiveError(
          'ARCHIVE_UNSAFE_ENTRY',
          `link '${entry.path}' points to '${entry.target}', which is not a file of the project`,
          entry.path,
        )
      }
      files.set(entry.path, { ...original, path: entry.path })
    }
  }
  // Nothing may sit under a symbolic link: writing it would follow the link.
  const all = [...files.keys(), ...dirs, ...links.keys()]
  for (const path of all) {
    const parts = path.split('/')
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/')
      if (links.has(parent) || files.has(parent)) {
        throw new ArchiveError(
          'ARCHIVE_UNSAFE_ENTRY',
          `entry '${path}' is inside '${parent}', which is not a folder`,
          path,
        )
      }
    }
  }
  let prefix = ''
  let manifestBytes = manifests.get('project.json')
  if (!manifestBytes) {
    const tops = new Set(all.map((p) => p.split('/')[0]))
    const [only] = tops
    if (tops.size === 1 && only && manifests.has(`${only}/project.json`)) {
      prefix = `${only}/`
      manifestBytes = manifests.get(`${only}/project.json`)
    }
  }
  const manifest = parseManifest(manifestBytes)
  const strip = (p: string) => p.slice(prefix.length)
  const kept = new Map<string, ScannedFile>()
  let totalBytes = 0
  for (const [path, f] of files) {
    if (prefix && !path.startsWith(prefix)) continue
    kept.set(strip(path), { ...f, path: strip(path) })
    totalBytes += f.size
  }
  const keptLinks = [...links]
    .filter(([p]) => !prefix || p.startsWith(prefix))
    .map(([path, target]) => ({ path: strip(path), target }))
  // A project that runs on WASI without the in-WebAssembly C toolchain brings its binaries.
  if (manifest.runners.includes('wasi') && manifest.runtime !== 'c') {
    const prebuilt = [...kept.keys()].some((p) => /^prebuilt\/[^/]+\.wasm$/.test(p))
    if (!prebuilt) {
      throw new BadRequestError(
        `project.json: a '${manifest.runtime}' project runs on WASI only from prebuilt wasm32-wasip1 binaries (prebuilt/<name>.wasm), and the archive has none`,
        [{ in: 'project.json', path: '/runners', message: 'wasi needs prebuilt/<name>.wasm for this runtime' }],
        'MANIFEST_INVALID',
      )
    }
  }
  return { format, prefix, files: kept, links: keptLinks, manifest, totalBytes }
}

/** Pass 2: stores each distinct file once in the media store (a known hash is not written again). */
async function storeFiles(archive: Blob, scan: Scan, storage: MediaStorage, limits: ArchiveLimits): Promise<void> {
  const wanted = new Set([...scan.files.values()].map((f) => f.sha256))
  const stored = new Set<string>()
  for await (const entry of readArchive(archive, scan.format, limits) as AsyncIterable<ArchiveEntry>) {
    if (entry.kind !== 'file') continue
    const hash = sha256(entry.body)
    if (!wanted.has(hash) || stored.has(hash)) continue
    await storage.put(blobKey(hash), entry.body, 'application/octet-stream')
    stored.add(hash)
  }
}

const buildView = (v: ProjectVersion): BuildView => ({
  versionId: v.id,
  version: v.number,
  status: v.buildStatus as BuildStatus,
  runner: (v.buildRunner as RunnerKind | null) ?? null,
  log: v.buildLog,
  startedAt: v.buildStartedAt?.toISOString() ?? null,
  finishedAt: v.buildFinishedAt?.toISOString() ?? null,
})

/** The project columns a version's project.json sets when that version becomes current. */
const columnsOfManifest = (m: ProjectManifest) => ({
  slug: m.slug,
  title: m.title,
  summary: m.summary,
  description: m.description,
  stack: m.stack,
  repoUrl: m.repoUrl,
  binary: m.binary,
  runners: m.runners,
  commands: m.commands,
  policy: m.policy,
  runtime: m.runtime,
  build: m.build,
})

export interface ProjectImportsOptions {
  db: Db
  storage: MediaStorage
  reads: Pick<ReadCache, 'invalidate'>
  /** Where versions are laid out for runners on this host (DATA_DIR/project-files). */
  filesDir: string
  /** The runner of a kind, when this instance has one (the check build runs in it). */
  runner: (kind: RunnerKind) => Runner | undefined
  uploadLimit: number
  buildTimeoutMs: number
  limits?: ArchiveLimits
  logger?: Logger
  /** Where the bundled projects' folders are on this host (default: this checkout's wasm-projects/). */
  bundledDir?: string
  /** The admin's Problems list: each failed check build is reported there (docs/faults.md). */
  problems?: { report(problem: ProblemReport): void }
}

/**
 * Imports, versions, check builds, rollback and publishing of imported projects. Check builds run
 * one at a time per instance, in the background of the import request.
 */
export function createProjectImports(options: ProjectImportsOptions) {
  const { db, storage, reads, filesDir, uploadLimit, buildTimeoutMs, logger } = options
  const limits = options.limits ?? DEFAULT_ARCHIVE_LIMITS
  let queue: Promise<unknown> = Promise.resolve()
  const running = new Set<Promise<unknown>>()

  const projectById = async (id: string): Promise<Project> => {
    const [row] = await db.select().from(projects).where(eq(projects.id, id)).limit(1)
    if (!row || row.deletedAt) throw new ProjectNotFoundError()
    return row
  }
  const versionById = async (projectId: string, versionId: string): Promise<ProjectVersion> => {
    const [row] = await db
      .select()
      .from(projectVersions)
      .where(and(eq(projectVersions.id, versionId), eq(projectVersions.projectId, projectId)))
      .limit(1)
    if (!row) throw new VersionNotFoundError()
    return row
  }
  const latestVersion = async (projectId: string): Promise<ProjectVersion | undefined> =>
    (
      await db
        .select()
        .from(projectVersions)
        .where(eq(projectVersions.projectId, projectId))
        .orderBy(desc(projectVersions.number))
        .limit(1)
    )[0]

  const updateBuild = (id: string, values: Partial<typeof projectVersions.$inferInsert>) =>
    db.update(projectVersions).set(values).where(eq(projectVersions.id, id))

  /** A failed check build is one Problems group per project (docs/faults.md). */
  const reportFailed = (v: Pick<ProjectVersion, 'manifest' | 'number'>, problem: string, error?: unknown) =>
    options.problems?.report({
      code: 'CHECK_BUILD_FAILED',
      route: `projects:${(v.manifest as { slug?: string }).slug ?? '?'}`,
      message: `version ${v.number}: ${problem}`,
      ...(error === undefined ? { frame: '' } : { error }),
    })

  /**
   * A build queued or running for longer than any build can take (every runner's time limit plus a
   * margin) belonged to an instance that stopped: it is marked failed when read, so the admin sees
   * why and can import again. Safe with several instances: a live build never gets this old.
   */
  const settleStale = async (v: ProjectVersion): Promise<ProjectVersion> => {
    if (v.buildStatus !== 'queued' && v.buildStatus !== 'running') return v
    const runners = Math.max(1, ((v.manifest as { runners?: unknown[] }).runners ?? []).length)
    const since = (v.buildStartedAt ?? v.createdAt).getTime()
    if (Date.now() - since < runners * buildTimeoutMs + STALE_MARGIN_MS) return v
    const values = {
      buildStatus: 'failed',
      buildLog: `${v.buildLog}\nbuild failed: interrupted (the instance running it stopped); import the archive again\n`,
      buildFinishedAt: new Date(),
    }
    await updateBuild(v.id, values)
    reportFailed(v, 'interrupted (the instance running it stopped)')
    return { ...v, ...values }
  }

  /** Makes a version the one visitors get: its files, and its project.json over the project's fields. */
  const promote = async (version: ProjectVersion): Promise<void> => {
    try {
      await db
        .update(projects)
        .set({
          ...columnsOfManifest(version.manifest as unknown as ProjectManifest),
          currentVersionId: version.id,
          updatedAt: new Date(),
        })
        .where(and(eq(projects.id, version.projectId), isNull(projects.deletedAt)))
    } catch (err) {
      // the version renames the project onto a slug another live project took meanwhile
      if (isUniqueViolation(err)) throw new ProjectSlugTakenError((version.manifest as { slug?: string }).slug ?? '')
      throw err
    }
    await reads.invalidate()
  }

  /** The check build of one version on each runner its project.json declares (docs/projects.md). */
  const runBuild = async (versionId: string): Promise<void> => {
    const [version] = await db.select().from(projectVersions).where(eq(projectVersions.id, versionId)).limit(1)
    if (!version) return
    const manifest = version.manifest as unknown as ProjectManifest
    let log = ''
    const fail = async (problem: string, error?: unknown) => {
      log += `\nbuild failed: ${problem}\n`
      reportFailed(version, problem, error)
      await updateBuild(versionId, { buildStatus: 'failed', buildLog: log, buildFinishedAt: new Date() })
    }
    await updateBuild(versionId, { buildStatus: 'running', buildStartedAt: new Date(), buildLog: '' })
    try {
      const sourceDir = await materialize(storage, filesDir, version)
      let checked = 0
      for (const kind of manifest.runners) {
        const runner = options.runner(kind)
        if (!runner || !(await runner.available().catch(() => false))) {
          log += `[${kind}] not available on this instance: not checked\n`
          continue
        }
        // why: sessions open in the home folder (docs/runners.md); the build runs in the project's own
        // On WASI only C builds (clang-in-WebAssembly); other runtimes bring prebuilt binaries there,
        // so the check is that the files arrive (docs/projects.md, "Check build").
        const build = kind === 'wasi' && manifest.runtime !== 'c' ? 'ls' : manifest.build || 'ls'
        const command = `cd ~/projects/${manifest.slug} && ${build}`
        const before = `${log}[${kind}] `
        await updateBuild(versionId, { buildRunner: kind, buildLog: before })
        // Live log writes are chained, and finished before the final write, so none lands after it.
        let writes: Promise<unknown> = Promise.resolve()
        let live = true
        const result = await checkBuild({
          runner,
          project: { slug: manifest.slug, sourceDir, policy: manifest.policy, runtime: manifest.runtime },
          command,
          timeoutMs: buildTimeoutMs,
          onLog: (text) => {
            if (!live) return
            writes = writes.then(() => updateBuild(versionId, { buildLog: before + text })).catch(() => {})
          },
        })
        live = false
        await writes
        log = `${before}${result.log}\n`
        if (!result.passed) return await fail(`${kind}: ${result.problem}`)
        checked++
      }
      if (checked === 0) return await fail('none of the runners this project declares is available to check it')
      log += 'build passed\n'
      await updateBuild(versionId, { buildStatus: 'passed', buildLog: log, buildFinishedAt: new Date() })
      // A newer version than the one serving (or the first) becomes current; a rollback stays put.
      const [project] = await db.select().from(projects).where(eq(projects.id, version.projectId)).limit(1)
      const current = project?.currentVersionId
        ? (await db.select().from(projectVersions).where(eq(projectVersions.id, project.currentVersionId)))[0]
        : undefined
      if (project && !project.deletedAt && (!current || current.number < version.number)) {
        await promote({ ...version, buildStatus: 'passed' }).catch(async (err) => {
          log += `\nnot made current: ${err instanceof Error ? err.message : String(err)}\n`
          await updateBuild(versionId, { buildLog: log })
        })
      }
    } catch (err) {
      logger?.warn({ err, versionId }, 'project check build failed to run')
      await fail(err instanceof Error ? err.message : String(err), err).catch(() => {})
    }
  }

  const enqueue = (versionId: string) => {
    const job = queue.then(() => runBuild(versionId)).catch(() => {})
    queue = job
    running.add(job)
    void job.finally(() => running.delete(job))
  }

  const versionView = (v: ProjectVersion, current: string | null): VersionView => {
    const m = v.manifest as unknown as ProjectManifest
    return {
      id: v.id,
      number: v.number,
      slug: m.slug,
      title: m.title,
      runtime: m.runtime,
      files: v.files.length,
      totalBytes: v.totalBytes,
      current: v.id === current,
      build: buildView(v),
      createdAt: v.createdAt.toISOString(),
    }
  }

  return {
    /**
     * Imports an archive: a new project (a draft), or a new version of the imported project with the
     * same slug (or of `projectId`). Starts the check build and answers without waiting for it.
     */
    async importArchive(input: {
      archive: Blob
      projectId?: string
      userId?: string
      /**
       * A project shipped with Shellfolio (wasm-projects/<folder>): built by the repository's own
       * suites, so it is published at once with its build recorded as passed, and keeps its folder.
       */
      bundled?: { folder: string }
    }): Promise<{ projectId: string; version: VersionView; build: BuildView }> {
      if (input.archive.size > uploadLimit) throw new ArchiveTooLargeError(uploadLimit)
      let scan: Scan
      try {
        scan = await scanArchive(input.archive, limits)
      } catch (err) {
        if (err instanceof ArchiveError) throw new ArchiveRejectedError(err)
        throw err
      }
      const { manifest } = scan
      const [sameSlug] = await db
        .select()
        .from(projects)
        .where(and(eq(projects.slug, manifest.slug), isNull(projects.deletedAt)))
        .limit(1)
      let target: Project | undefined
      if (input.projectId) {
        target = await projectById(input.projectId)
        if (sameSlug && sameSlug.id !== target.id) throw new ProjectSlugTakenError(manifest.slug)
      } else if (sameSlug) {
        // A project created by hand (files under wasm-projects/) is not replaced by an import.
        const imported = sameSlug.sourcePath === '' || (await latestVersion(sameSlug.id)) !== undefined
        if (!imported) throw new ProjectSlugTakenError(manifest.slug)
        target = sameSlug
      }
      try {
        await storeFiles(input.archive, scan, storage, limits)
      } catch (err) {
        if (err instanceof ArchiveError) throw new ArchiveRejectedError(err)
        throw err
      }
      const archiveSha256 = new Bun.CryptoHasher('sha256').update(await input.archive.arrayBuffer()).digest('hex')
      let version: ProjectVersion
      try {
        version = await db.transaction(async (tx) => {
          let projectId = target?.id
          if (!projectId) {
            const [row] = await tx
              .insert(projects)
              .values({
                ...columnsOfManifest(manifest),
                sourcePath: input.bundled?.folder ?? '',
                status: input.bundled ? 'published' : 'draft',
                featured: manifest.featured,
                sortOrder: manifest.order,
              })
              .returning({ id: projects.id })
            projectId = row!.id
          }
          const [last] = await tx
            .select({ n: max(projectVersions.number) })
            .from(projectVersions)
            .where(eq(projectVersions.projectId, projectId))
          const [row] = await tx
            .insert(projectVersions)
            .values({
              projectId,
              number: (last?.n ?? 0) + 1,
              manifest: manifest as unknown as Record<string, unknown>,
              files: [...scan.files.values()].sort((a, b) => a.path.localeCompare(b.path)),
              links: scan.links,
              totalBytes: scan.totalBytes,
              archiveSha256,
              createdBy: input.userId ?? null,
              ...(input.bundled
                ? {
                    buildStatus: 'passed',
                    buildLog: `bundled with Shellfolio (wasm-projects/${input.bundled.folder}): checked by the repository's own test suites\n`,
                    buildStartedAt: new Date(),
                    buildFinishedAt: new Date(),
                  }
                : {}),
            })
            .returning()
          return row!
        })
      } catch (err) {
        if (isUniqueViolation(err)) {
          // two imports of one slug at once: the slug or the version number was taken meanwhile
          throw new ConflictError(
            `another import of '${manifest.slug}' happened at the same time; try again`,
            'IMPORT_CONFLICT',
          )
        }
        throw err
      }
      if (input.bundled) await promote(version)
      else {
        await reads.invalidate()
        enqueue(version.id)
      }
      const project = await projectById(version.projectId)
      return {
        projectId: version.projectId,
        version: versionView(version, project.currentVersionId),
        build: buildView(version),
      }
    },

    /** The latest version's check build (what the admin watches after an import). */
    async build(projectId: string): Promise<BuildView> {
      await projectById(projectId)
      const version = await latestVersion(projectId)
      if (!version) throw new VersionNotFoundError()
      return buildView(await settleStale(version))
    },

    async versions(projectId: string): Promise<VersionView[]> {
      const project = await projectById(projectId)
      const rows = await db
        .select()
        .from(projectVersions)
        .where(eq(projectVersions.projectId, projectId))
        .orderBy(desc(projectVersions.number))
      const settled = await Promise.all(rows.map(settleStale))
      return settled.map((v) => versionView(v, project.currentVersionId))
    },

    /** Rollback (or forward): a version whose build passed becomes the one visitors get. */
    async activate(projectId: string, versionId: string): Promise<VersionView> {
      await projectById(projectId)
      const version = await versionById(projectId, versionId)
      if (version.buildStatus !== 'passed') {
        throw new ConflictError(`version ${version.number} has not passed its check build`, 'BUILD_NOT_PASSED')
      }
      await promote(version)
      return versionView(version, version.id)
    },

    /** Lists and opens the project for visitors; refused while no version has passed its build. */
    async publish(projectId: string): Promise<void> {
      const project = await projectById(projectId)
      if (project.sourcePath === '' && !project.currentVersionId) {
        const latest = await latestVersion(projectId)
        const state = latest
          ? `its check build ${latest.buildStatus === 'failed' ? 'failed' : `is ${latest.buildStatus}`}`
          : 'it has no version'
        throw new ConflictError(`the project cannot be published: ${state}`, 'BUILD_NOT_PASSED')
      }
      await db.update(projects).set({ status: 'published', updatedAt: new Date() }).where(eq(projects.id, projectId))
      await reads.invalidate()
    },

    async unpublish(projectId: string): Promise<void> {
      await projectById(projectId)
      await db.update(projects).set({ status: 'draft', updatedAt: new Date() }).where(eq(projects.id, projectId))
      await reads.invalidate()
    },

    /** The host folder of a project's current version (laid out on first use), or null if it has none. */
    async filesOf(project: { currentVersionId: string | null; sourcePath?: string }): Promise<string | null> {
      if (!project.currentVersionId) return null
      const [version] = await db
        .select()
        .from(projectVersions)
        .where(eq(projectVersions.id, project.currentVersionId))
        .limit(1)
      // A bundled project (sourcePath: its wasm-projects/ folder) can refill this instance's store.
      const bundled =
        project.sourcePath && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(project.sourcePath)
          ? join(options.bundledDir ?? join(REPO_ROOT, 'wasm-projects'), project.sourcePath)
          : undefined
      return version ? materialize(storage, filesDir, version, bundled) : null
    },

    /**
     * First start (docs/projects.md, "Bundled projects"): every `dir/<folder>/project.json` whose slug
     * no project has ever used (live or deleted) is imported like an owner's archive, so admin edits
     * and deletions survive restarts. Returns the imported slugs.
     */
    async importBundled(dir: string): Promise<string[]> {
      const used = new Set((await db.select({ slug: projects.slug }).from(projects)).map((r) => r.slug))
      const imported: string[] = []
      let folders: string[]
      try {
        folders = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name)
      } catch {
        return imported
      }
      for (const folder of folders.sort()) {
        const root = join(dir, folder)
        let slug: unknown
        try {
          slug = JSON.parse(await readFile(join(root, 'project.json'), 'utf8')).slug
        } catch {
          continue
        }
        if (typeof slug !== 'string' || used.has(slug)) continue
        // why: native build products of a developer's checkout are not part of the project
        const proc = Bun.spawn(['tar', '-C', root, '--exclude=*.o', '-czf', '-', '.'], {
          stdout: 'pipe',
          stderr: 'pipe',
        })
        const [bytes, code] = await Promise.all([new Response(proc.stdout).arrayBuffer(), proc.exited])
        if (code !== 0) {
          logger?.warn({ folder }, 'bundled project: could not pack the folder; skipped')
          continue
        }
        try {
          await this.importArchive({ archive: new Blob([bytes]), bundled: { folder } })
          imported.push(slug)
          used.add(slug)
        } catch (err) {
          // another instance imported it at the same moment, or its project.json is invalid
          logger?.warn({ err, folder }, 'bundled project skipped')
        }
      }
      return imported
    },

    /** Waits for every queued check build (tests, shutdown). */
    async idle(): Promise<void> {
      while (running.size > 0) await Promise.allSettled([...running])
    },
  }
}

export type ProjectImports = ReturnType<typeof createProjectImports>

/** DATA_DIR/project-files: where this host lays imported versions out for its runners. */
export const projectFilesDir = (dataDir: string) => join(dataDir, 'project-files')
