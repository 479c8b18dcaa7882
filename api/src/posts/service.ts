import { and, desc, eq, isNull, lte, type SQL, sql } from 'drizzle-orm'
import { isUniqueViolation } from '../db/errors.ts'
import type { Db } from '../db/index.ts'
import { type Post, posts, users } from '../db/schema/index.ts'
import { softDeletes } from '../db/soft-delete.ts'
import { ConflictError, NotFoundError } from '../http/errors.ts'
import type { CachedRead, ReadCache } from '../lib/read-cache.ts'
import type { CursorCodec } from './cursor.ts'
import { renderMarkdown } from './render.ts'

export type PostStatus = Post['status']

/** What the public list shows for a post. */
export interface PostSummary {
  id: string
  slug: string
  title: string
  summary: string
  tags: string[]
  publishedAt: string
  /** Last edit: the sitemap's lastmod and the feed's updated. */
  updatedAt: string
  author: { id: string; name: string } | null
}

/** The public page of a post: the summary plus the sanitized HTML. */
export interface PostPage extends PostSummary {
  html: string
}

/** What admins see: everything, drafts and deleted posts included. */
export interface PostAdminView {
  id: string
  slug: string
  title: string
  summary: string
  markdown: string
  html: string
  tags: string[]
  status: PostStatus
  publishedAt: string | null
  author: { id: string; name: string } | null
  createdAt: string
  updatedAt: string
  deletedAt: string | null
}

export interface PostInput {
  slug: string
  title: string
  summary?: string
  markdown: string
  tags?: string[]
  status?: PostStatus
  /** ISO date; defaults to now when the post becomes published. */
  publishedAt?: string | null
}

export type PostPatch = Partial<PostInput>

export interface Page<T> {
  items: T[]
  nextCursor: string | null
}

export interface AdminListOptions {
  limit: number
  cursor?: string | undefined
  status?: PostStatus | undefined
  includeDeleted?: boolean
}

export class SlugTakenError extends ConflictError {
  constructor(slug: string) {
    super(`a post with the slug '${slug}' already exists`, 'SLUG_TAKEN')
  }
}

export class PostNotFoundError extends NotFoundError {
  constructor() {
    super('no such post', 'POST_NOT_FOUND')
  }
}

const iso = (d: Date) => d.toISOString()

type Row = Post & { authorName: string | null; cursorAt: string | null }

const authorOf = (r: Row) => (r.authorId ? { id: r.authorId, name: r.authorName ?? '' } : null)

const summaryOf = (r: Row): PostSummary => ({
  id: r.id,
  slug: r.slug,
  title: r.title,
  summary: r.summary,
  tags: r.tags,
  publishedAt: iso(r.publishedAt!),
  updatedAt: iso(r.updatedAt),
  author: authorOf(r),
})

/** The public list's row: the summary's columns only (no bodies). */
interface ListRow {
  id: string
  slug: string
  title: string
  summary: string
  tags: string[]
  publishedAt: Date | null
  updatedAt: Date
  authorId: string | null
  authorName: string | null
  cursorAt: string
}

const listSummaryOf = (r: ListRow): PostSummary => ({
  id: r.id,
  slug: r.slug,
  title: r.title,
  summary: r.summary,
  tags: r.tags,
  publishedAt: iso(r.publishedAt!),
  updatedAt: iso(r.updatedAt),
  author: r.authorId ? { id: r.authorId, name: r.authorName ?? '' } : null,
})

const adminViewOf = (r: Row): PostAdminView => ({
  id: r.id,
  slug: r.slug,
  title: r.title,
  summary: r.summary,
  markdown: r.bodyMarkdown,
  html: r.bodyHtml,
  tags: r.tags,
  status: r.status,
  publishedAt: r.publishedAt ? iso(r.publishedAt) : null,
  author: authorOf(r),
  createdAt: iso(r.createdAt),
  updatedAt: iso(r.updatedAt),
  deletedAt: r.deletedAt ? iso(r.deletedAt) : null,
})

/** Tags are trimmed, lower-cased and deduplicated, in the order given. */
const normaliseTags = (tags: string[]) => [...new Set(tags.map((t) => t.trim().toLowerCase()).filter(Boolean))]

export interface PostsServiceOptions {
  db: Db
  reads: ReadCache
  cursors: CursorCodec
  /**
   * The live projects' slugs, read when a body is rendered: a runnable block naming another
   * project renders as "unknown project" (render.ts). Unset (the seed): every slug is taken as known.
   */
  projectSlugs?: () => Promise<ReadonlySet<string>>
}

export function createPostsService({ db, reads, cursors, projectSlugs }: PostsServiceOptions) {
  const render = async (markdown: string) =>
    renderMarkdown(markdown, { projects: projectSlugs ? await projectSlugs() : undefined })

  const select = (cursorColumn: SQL) =>
    db
      .select({
        post: posts,
        authorName: users.displayName,
        cursorAt: sql<string | null>`${cursorColumn}::text`,
      })
      .from(posts)
      .leftJoin(users, eq(users.id, posts.authorId))

  const flatten = (r: { post: Post; authorName: string | null; cursorAt: string | null }): Row => ({
    ...r.post,
    authorName: r.authorName,
    cursorAt: r.cursorAt,
  })

  const byId = async (id: string): Promise<Row | undefined> => {
    const [row] = await select(sql`${posts.createdAt}`).where(eq(posts.id, id)).limit(1)
    return row ? flatten(row) : undefined
  }

  const getAdmin = async (id: string): Promise<PostAdminView> => {
    const row = await byId(id)
    if (!row) throw new PostNotFoundError()
    return adminViewOf(row)
  }

  /** Rows that visitors may see: published, not deleted, publication time reached. */
  const publicWhere = and(eq(posts.status, 'published'), isNull(posts.deletedAt), lte(posts.publishedAt, sql`now()`))

  const saveError = (err: unknown, slug: string | undefined): never => {
    if (isUniqueViolation(err)) throw new SlugTakenError(slug ?? '')
    throw err
  }

  const deletion = softDeletes(db, posts, {
    notFound: () => new PostNotFoundError(),
    slugTaken: (slug) => new SlugTakenError(slug),
    changed: () => reads.invalidate(),
  })

  const publishedAtFor = (status: PostStatus, given: string | null | undefined, current: Date | null): Date | null => {
    if (status === 'draft') return given ? new Date(given) : null
    if (given) return new Date(given)
    return current ?? new Date()
  }

  /**
   * The public list's query, prepared once per shape (first page or after a cursor, with or without
   * a tag): a page costs one statement execution, not a query built again from the ORM on every
   * uncached read (docs/performance.md, "Uncached pages"). It reads only the columns the list shows,
   * never the post bodies.
   */
  const listColumns = {
    id: posts.id,
    slug: posts.slug,
    title: posts.title,
    summary: posts.summary,
    tags: posts.tags,
    publishedAt: posts.publishedAt,
    updatedAt: posts.updatedAt,
    authorId: posts.authorId,
    authorName: users.displayName,
    cursorAt: sql<string>`${posts.publishedAt}::text`,
  }
  const listQuery = (withCursor: boolean, withTag: boolean, name: string) => {
    const conditions = [publicWhere]
    if (withTag) conditions.push(sql`${sql.placeholder('tag')} = any(${posts.tags})`)
    if (withCursor) {
      // The scalar bound is implied by the row comparison; without it PostgreSQL 18 (PGlite too)
      // starts the backward index scan at now() and walks every newer entry: O(depth), not O(page).
      const at = sql`${sql.placeholder('at')}::timestamptz`
      conditions.push(
        sql`${posts.publishedAt} <= ${at}`,
        sql`(${posts.publishedAt}, ${posts.id}) < (${at}, ${sql.placeholder('id')}::uuid)`,
      )
    }
    return db
      .select(listColumns)
      .from(posts)
      .leftJoin(users, eq(users.id, posts.authorId))
      .where(and(...conditions))
      .orderBy(desc(posts.publishedAt), desc(posts.id))
      .limit(sql.placeholder('limit'))
      .prepare(name)
  }
  type ListQuery = ReturnType<typeof listQuery>
  const listQueries = new Map<string, ListQuery>()
  const publicPage = (limit: number, after: { at: string; id: string } | undefined, tag: string | undefined) => {
    const shape = `${after ? 'after' : 'first'}_${tag === undefined ? 'all' : 'tag'}`
    let query = listQueries.get(shape)
    if (!query) {
      query = listQuery(after !== undefined, tag !== undefined, `posts_public_${shape}`)
      listQueries.set(shape, query)
    }
    return query.execute({
      limit: limit + 1,
      ...(after ? { at: after.at, id: after.id } : {}),
      ...(tag ? { tag } : {}),
    })
  }

  return {
    /**
     * The public list, newest first, one page after `cursor`; only posts carrying `tag` when given
     * (tags are stored lower-cased). Cached; never shows drafts or deleted posts.
     */
    async listPublic(limit: number, cursor?: string, tag?: string): Promise<CachedRead<Page<PostSummary>>> {
      const scope = tag ? `public:tag:${tag.toLowerCase()}` : 'public'
      const after = cursor ? cursors.decode(scope, cursor) : undefined
      return reads.get(`list:${limit}:${cursor ?? ''}:${tag?.toLowerCase() ?? ''}`, async () => {
        const rows = await publicPage(limit, after, tag?.toLowerCase())
        const items = rows.slice(0, limit)
        const last = items[items.length - 1]
        const nextCursor =
          rows.length > limit && last ? cursors.encode(scope, { at: last.cursorAt, id: last.id }) : null
        return { items: items.map(listSummaryOf), nextCursor }
      })
    },

    /** A published post by slug, or null. Cached (misses too). */
    async getPublic(slug: string): Promise<CachedRead<PostPage | null>> {
      return reads.get(`slug:${slug}`, async () => {
        const [row] = await select(sql`${posts.publishedAt}`)
          .where(and(publicWhere, eq(posts.slug, slug)))
          .limit(1)
        if (!row) return null
        const r = flatten(row)
        return { ...summaryOf(r), html: r.bodyHtml }
      })
    },

    /** Every post for admins, newest created first; drafts included, deleted ones on request. */
    async listAdmin(options: AdminListOptions): Promise<Page<PostAdminView>> {
      const scope = `admin:${options.status ?? 'any'}:${options.includeDeleted ? 'deleted' : 'live'}`
      const after = options.cursor ? cursors.decode(scope, options.cursor) : undefined
      const conditions: SQL[] = []
      if (options.status) conditions.push(eq(posts.status, options.status))
      if (!options.includeDeleted) conditions.push(isNull(posts.deletedAt))
      if (after) conditions.push(sql`(${posts.createdAt}, ${posts.id}) < (${after.at}::timestamptz, ${after.id}::uuid)`)
      const rows = (
        await select(sql`${posts.createdAt}`)
          .where(and(...conditions))
          .orderBy(desc(posts.createdAt), desc(posts.id))
          .limit(options.limit + 1)
      ).map(flatten)
      const items = rows.slice(0, options.limit)
      const last = items[items.length - 1]
      const nextCursor =
        rows.length > options.limit && last ? cursors.encode(scope, { at: last.cursorAt!, id: last.id }) : null
      return { items: items.map(adminViewOf), nextCursor }
    },

    getAdmin,

    /** Renders the markdown once, here; the sanitized HTML is what every reader gets. */
    async create(input: PostInput, authorId: string | null): Promise<PostAdminView> {
      const status = input.status ?? 'draft'
      let id: string
      const bodyHtml = await render(input.markdown)
      try {
        const [saved] = await db
          .insert(posts)
          .values({
            slug: input.slug,
            title: input.title,
            summary: input.summary ?? '',
            bodyMarkdown: input.markdown,
            bodyHtml,
            tags: normaliseTags(input.tags ?? []),
            status,
            publishedAt: publishedAtFor(status, input.publishedAt, null),
            authorId,
          })
          .returning({ id: posts.id })
        id = saved!.id
      } catch (err) {
        return saveError(err, input.slug)
      }
      await reads.invalidate()
      return getAdmin(id)
    },

    /** Partial update of a live post; a deleted one must be restored first. */
    async update(id: string, patch: PostPatch): Promise<PostAdminView> {
      const current = await byId(id)
      if (!current || current.deletedAt) throw new PostNotFoundError()
      const status = patch.status ?? current.status
      const values: Partial<typeof posts.$inferInsert> = { updatedAt: new Date(), status }
      if (patch.slug !== undefined) values.slug = patch.slug
      if (patch.title !== undefined) values.title = patch.title
      if (patch.summary !== undefined) values.summary = patch.summary
      if (patch.tags !== undefined) values.tags = normaliseTags(patch.tags)
      if (patch.markdown !== undefined) {
        values.bodyMarkdown = patch.markdown
        values.bodyHtml = await render(patch.markdown)
      }
      if (patch.publishedAt !== undefined || patch.status !== undefined) {
        values.publishedAt = publishedAtFor(
          status,
          patch.publishedAt,
          status === 'published' ? current.publishedAt : null,
        )
      }
      try {
        await db
          .update(posts)
          .set(values)
          .where(and(eq(posts.id, id), isNull(posts.deletedAt)))
      } catch (err) {
        return saveError(err, patch.slug)
      }
      await reads.invalidate()
      return getAdmin(id)
    },

    /** Soft delete: the row stays (restorable) but no public read shows it. Idempotent. */
    async remove(id: string): Promise<PostAdminView> {
      await deletion.remove(id)
      return getAdmin(id)
    },

    /** Undoes a soft delete; 409 when another live post took the slug meanwhile. Idempotent. */
    async restore(id: string): Promise<PostAdminView> {
      await deletion.restore(id)
      return getAdmin(id)
    },
  }
}

export type PostsService = ReturnType<typeof createPostsService>
