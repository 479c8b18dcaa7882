import { join } from 'node:path'
import { eq, sql } from 'drizzle-orm'
import type { Cache } from './cache/index.ts'
import { type Config, REPO_ROOT } from './config.ts'
import type { Db } from './db/index.ts'
import { posts, users } from './db/schema/index.ts'
import { createFlagsService } from './flags/service.ts'
import { createReadCache } from './lib/read-cache.ts'
import type { Logger } from './logger.ts'
import type { MediaStorage } from './media/storage.ts'
import { createCursorCodec } from './posts/cursor.ts'
import { createPostsService, type PostInput } from './posts/service.ts'
import { createProjectImports } from './projects/import.ts'
import { createProjectsService } from './projects/service.ts'

export interface SeedResult {
  projects: string[]
  flags: string[]
  posts: string[]
}

export interface SeedOptions {
  db: Db
  cache: Cache
  config: Pick<Config, 'appEnv' | 'jwtSecret' | 'adminEmail'>
  logger?: Logger
  /** Folder of project folders, each with a project.json; default wasm-projects/. */
  projectsDir?: string
  /**
   * Where imported projects' files go (the media store and this host's project-files folder): when
   * given, the bundled projects are imported like an owner's archive (docs/projects.md); without
   * it they are seeded as rows pointing at their folder.
   */
  projectFiles?: { storage: MediaStorage; filesDir: string }
}

export const SAMPLE_POSTS: PostInput[] = [
  {
    slug: 'welcome-to-shellfolio',
    title: 'Welcome to Shellfolio',
    summary: 'A portfolio whose C projects you can build and run right here, in a real terminal.',
    tags: ['shellfolio', 'c'],
    status: 'published',
    markdown: `Every project on this site is a small C program you can **build and run in your browser**.

Open a project, and a terminal appears. Type:

\`\`\`sh
make
./miniRT scenes/demo.rt
\`\`\`

and watch the raytracer draw into the terminal. Nothing to install: the program runs either in a
sandboxed container or as WebAssembly (WASI) — the project page says which runners are up.`,
  },
  {
    slug: 'docker-or-wasi',
    title: 'Two ways to run C in a browser tab',
    summary: 'Why every project runs on two execution back ends, and what each one costs.',
    tags: ['docker', 'wasi', 'webassembly'],
    status: 'published',
    markdown: `A terminal session runs on one of two **runners**:

| runner | what it is | good at |
|---|---|---|
| docker | a locked-down container per session | a real \`gcc\`, a real shell |
| wasi | a precompiled WebAssembly binary in a TypeScript shell | starting instantly, needing nothing |

Both enforce the same command allowlist. Run \`bun run bench\` to compare them yourself.`,
  },
]

/**
 * Seeds what a fresh installation needs; safe to run at every start and on every instance:
 * - feature flags: DEFAULT_FLAGS of this environment, inserted when absent (never overwritten);
 * - projects: imported from wasm-projects/<folder>/ (or, without `projectFiles`, inserted from its
 *   project.json) only when no row (live or soft-deleted) has that slug, so admin edits and
 *   deletions survive restarts;
 * - sample posts: only when the posts table is completely empty (a deleted sample stays deleted).
 */
export async function seedContent(options: SeedOptions): Promise<SeedResult> {
  const { db, cache, config, logger } = options
  const flags = createFlagsService({ db, cache, environment: config.appEnv, logger })
  const projectReads = createReadCache({ cache, namespace: 'projects', logger })
  const postReads = createReadCache({ cache, namespace: 'posts', logger })
  try {
    const flagKeys = await flags.ensureDefaults()
    const projects = createProjectsService({
      db,
      reads: projectReads,
      flags,
      runnerAvailability: async () => ({ docker: false, wasi: false }),
      logger,
    })
    const projectsDir = options.projectsDir ?? join(REPO_ROOT, 'wasm-projects')
    const projectSlugs = options.projectFiles
      ? await createProjectImports({
          db,
          storage: options.projectFiles.storage,
          reads: projectReads,
          filesDir: options.projectFiles.filesDir,
          runner: () => undefined,
          uploadLimit: Number.MAX_SAFE_INTEGER,
          buildTimeoutMs: 0,
          ...(logger ? { logger } : {}),
        }).importBundled(projectsDir)
      : await projects.seedFrom(projectsDir)

    const postSlugs: string[] = []
    const [{ count }] = (await db.select({ count: sql<number>`count(*)::int` }).from(posts)) as [{ count: number }]
    if (count === 0) {
      const [admin] = await db
        .select({ id: users.id })
        .from(users)
        .where(eq(sql`lower(${users.email})`, config.adminEmail.toLowerCase()))
        .limit(1)
      const service = createPostsService({ db, reads: postReads, cursors: createCursorCodec(config.jwtSecret) })
      for (const sample of SAMPLE_POSTS) {
        try {
          postSlugs.push((await service.create(sample, admin?.id ?? null)).slug)
        } catch (err) {
          // Another instance seeding at the same moment took the slug: nothing to do.
          logger?.debug({ err, slug: sample.slug }, 'seed: sample post skipped')
        }
      }
    }
    return { projects: projectSlugs, flags: flagKeys, posts: postSlugs }
  } finally {
    await Promise.allSettled([flags.close(), projectReads.close(), postReads.close()])
  }
}
