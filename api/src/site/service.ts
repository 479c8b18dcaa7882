import { and, desc, eq, isNotNull, isNull, like } from 'drizzle-orm'
import type { Db } from '../db/index.ts'
import { media, type SiteProfileRow, siteProfile, terminalSessions } from '../db/schema/index.ts'
import { BadRequestError, NotFoundError } from '../http/errors.ts'
import type { CachedRead, ReadCache } from '../lib/read-cache.ts'
import type { MediaStorage } from '../media/storage.ts'
import { renderMarkdown } from '../posts/render.ts'
import type { PostSummary, PostsService } from '../posts/service.ts'
import type { ProjectsService } from '../projects/service.ts'
import { atomFeed, type FeedEntry, robotsTxt, type SitemapEntry, sitemapXml } from './feeds.ts'

export interface SiteLink {
  label: string
  url: string
}

/** The owner's profile as everyone reads it (`GET /api/v1/site`). */
export interface SiteView {
  name: string
  headline: string
  /** Markdown source (the admin form edits it). */
  intro: string
  /** Sanitized HTML rendered on write. */
  introHtml: string
  avatar: { id: string; url: string } | null
  location: string
  links: SiteLink[]
  siteTitle: string
  siteDescription: string
  /** False on a fresh install: nothing saved yet, the neutral defaults below are shown. */
  configured: boolean
  updatedAt: string | null
}

export interface SiteInput {
  name: string
  headline: string
  intro: string
  avatarId: string | null
  location: string
  links: SiteLink[]
  siteTitle: string
  siteDescription: string
}

/** A recorded terminal session an admin can pick as a project's demo. */
export interface RecordingView {
  id: string
  runner: string
  startedAt: string
  endedAt: string | null
  bytesOut: number
}

/** What a fresh install shows: nobody's name, and an invitation to fill the profile in. */
export const DEFAULT_SITE: Omit<SiteView, 'introHtml'> = {
  name: 'Your Name',
  headline: 'Developer — this is where your headline goes',
  intro:
    'This portfolio was just installed. Sign in to the **admin** and open **Profile** to add your name, a photo, a few words about yourself and your links (GitHub, email, CV).',
  avatar: null,
  location: '',
  links: [],
  siteTitle: 'Shellfolio',
  siteDescription: 'A developer portfolio and blog whose projects run live in the browser.',
  configured: false,
  updatedAt: null,
}

/** Largest number of posts the sitemap walks (100 per page), and posts in the feed. */
const SITEMAP_MAX_POSTS = 5000
const FEED_POSTS = 20

const invalid = (path: string, message: string) =>
  new BadRequestError(message, [{ in: 'body', path, message }], 'VALIDATION_FAILED')

/** Parses a link URL; only http(s) with a host, or mailto with an address. */
function linkProblem(url: string): string | undefined {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return 'not a valid URL'
  }
  if (parsed.protocol === 'mailto:')
    return /^[^\s@]+@[^\s@]+$/.test(parsed.pathname) ? undefined : 'not an email address'
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'only http(s) and mailto links are allowed'
  return parsed.hostname ? undefined : 'the URL has no host'
}

const viewOf = (row: SiteProfileRow): SiteView => ({
  name: row.name,
  headline: row.headline,
  intro: row.introMarkdown,
  introHtml: row.introHtml,
  avatar: row.avatarMediaId ? { id: row.avatarMediaId, url: `/api/v1/media/${row.avatarMediaId}` } : null,
  location: row.location,
  links: row.links,
  siteTitle: row.siteTitle,
  siteDescription: row.siteDescription,
  configured: true,
  updatedAt: row.updatedAt.toISOString(),
})

export interface SiteServiceOptions {
  db: Db
  reads: ReadCache
  storage: MediaStorage
  posts: PostsService
  projects: ProjectsService
}

export class DemoNotFoundError extends NotFoundError {
  constructor() {
    super('this project has no demo recording', 'DEMO_NOT_FOUND')
  }
}

/** The owner's profile and the site-wide documents built from the content (sitemap, feed). */
export function createSiteService({ db, reads, storage, posts, projects }: SiteServiceOptions) {
  const defaults: SiteView = { ...DEFAULT_SITE, introHtml: renderMarkdown(DEFAULT_SITE.intro) }

  const get = (): Promise<CachedRead<SiteView>> =>
    reads.get('profile', async () => {
      const [row] = await db.select().from(siteProfile).where(eq(siteProfile.id, 1)).limit(1)
      return row ? viewOf(row) : defaults
    })

  /** Every published post, newest first (walks the cached public pages). */
  const allPosts = async (max: number): Promise<PostSummary[]> => {
    const out: PostSummary[] = []
    let cursor: string | undefined
    do {
      const page = (await posts.listPublic(100, cursor)).value
      out.push(...page.items)
      cursor = page.nextCursor ?? undefined
    } while (cursor && out.length < max)
    return out.slice(0, max)
  }

  return {
    get,

    /** Replaces the profile (PUT). The intro is rendered and sanitized here, once. */
    async update(input: SiteInput, actorId: string | null): Promise<SiteView> {
      for (const [i, link] of input.links.entries()) {
        const problem = linkProblem(link.url)
        if (problem) throw invalid(`/links/${i}/url`, problem)
      }
      if (input.avatarId) {
        const [image] = await db
          .select({ id: media.id })
          .from(media)
          .where(and(eq(media.id, input.avatarId), isNull(media.deletedAt), like(media.contentType, 'image/%')))
          .limit(1)
        if (!image) throw invalid('/avatarId', 'not an image in the media library')
      }
      const values = {
        id: 1,
        name: input.name.trim(),
        headline: input.headline.trim(),
        introMarkdown: input.intro,
        introHtml: renderMarkdown(input.intro),
        avatarMediaId: input.avatarId,
        location: input.location.trim(),
        links: input.links.map((l) => ({ label: l.label.trim(), url: l.url.trim() })),
        siteTitle: input.siteTitle.trim(),
        siteDescription: input.siteDescription.trim(),
        updatedAt: new Date(),
        updatedBy: actorId,
      }
      const [row] = await db
        .insert(siteProfile)
        .values(values)
        .onConflictDoUpdate({ target: siteProfile.id, set: values })
        .returning()
      await reads.invalidate()
      return viewOf(row!)
    },

    /** Markdown rendered exactly as a post's body is (the editor's preview). */
    async preview(markdown: string): Promise<{ html: string }> {
      const live = new Set((await projects.listPublic()).map((p) => p.slug))
      return { html: renderMarkdown(markdown, { projects: live }) }
    },

    /** Recorded sessions of a project, newest first: the admin's choice of demo. */
    async recordings(projectSlug: string, limit = 30): Promise<RecordingView[]> {
      const rows = await db
        .select()
        .from(terminalSessions)
        .where(and(eq(terminalSessions.projectSlug, projectSlug), isNotNull(terminalSessions.recordingKey)))
        .orderBy(desc(terminalSessions.startedAt))
        .limit(limit)
      return rows.map((r) => ({
        id: r.id,
        runner: r.runner,
        startedAt: r.startedAt.toISOString(),
        endedAt: r.endedAt ? r.endedAt.toISOString() : null,
        bytesOut: r.bytesOut,
      }))
    },

    /** The asciicast of a live project's chosen demo session. */
    async demo(slug: string): Promise<Uint8Array> {
      const project = await projects.findLiveBySlug(slug)
      if (!project?.demo) throw new DemoNotFoundError()
      const [session] = await db
        .select({ key: terminalSessions.recordingKey })
        .from(terminalSessions)
        .where(and(eq(terminalSessions.id, project.demo.sessionId), eq(terminalSessions.projectSlug, slug)))
        .limit(1)
      const object = session?.key ? await storage.get(session.key) : null
      if (!object) throw new DemoNotFoundError()
      return object.body
    },

    robots: (origin: string) => robotsTxt(origin),

    /** Home, the section pages, every live project, every published post and every tag page. */
    async sitemap(origin: string): Promise<string> {
      const [list, all] = await Promise.all([projects.listPublic(), allPosts(SITEMAP_MAX_POSTS)])
      const newest = (dates: string[]) => [...dates].sort().at(-1)
      const tags = new Map<string, string>()
      for (const p of all) for (const t of p.tags) if ((tags.get(t) ?? '') < p.updatedAt) tags.set(t, p.updatedAt)
      const entries: SitemapEntry[] = [
        { path: '/', lastmod: newest([...list.map((p) => p.updatedAt), ...all.map((p) => p.updatedAt)]) },
        { path: '/projects', lastmod: newest(list.map((p) => p.updatedAt)) },
        ...list.map((p) => ({ path: `/projects/${p.slug}`, lastmod: p.updatedAt })),
        { path: '/blog', lastmod: newest(all.map((p) => p.updatedAt)) },
        ...all.map((p) => ({ path: `/blog/${p.slug}`, lastmod: p.updatedAt })),
        ...[...tags].map(([tag, lastmod]) => ({ path: `/blog/tags/${encodeURIComponent(tag)}`, lastmod })),
        { path: '/architecture' },
      ]
      return sitemapXml(origin, entries)
    },

    /** The newest published posts with their full HTML. */
    async feed(origin: string): Promise<string> {
      const [site, latest] = await Promise.all([get(), posts.listPublic(FEED_POSTS)])
      const pages = await Promise.all(latest.value.items.map((p) => posts.getPublic(p.slug)))
      const entries: FeedEntry[] = pages.flatMap((read) => {
        const p = read.value
        return p
          ? [
              {
                slug: p.slug,
                title: p.title,
                summary: p.summary,
                html: p.html,
                tags: p.tags,
                publishedAt: p.publishedAt,
                updatedAt: p.updatedAt,
                // A one-owner site: the owner, not the account that typed it, is the author.
                author: site.value.name,
              },
            ]
          : []
      })
      return atomFeed(
        origin,
        { title: site.value.siteTitle, subtitle: site.value.siteDescription, author: site.value.name },
        entries,
      )
    },
  }
}

export type SiteService = ReturnType<typeof createSiteService>
