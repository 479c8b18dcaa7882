import { InvalidCursorError } from '../posts/cursor.ts'
import type { Page, PostPage, PostSummary, PostsService } from '../posts/service.ts'
import { ProjectNotFoundError, type ProjectsService, type PublicProject } from '../projects/service.ts'
import type { SiteService, SiteView } from '../site/service.ts'
import type { ReplayStore, ReplayView } from '../terminal/replays.ts'

/**
 * The contract between the API and the server-rendered site (web/src/entry-server.tsx): the
 * renderer reads content through these functions, which call the same services as the API routes
 * (no HTTP round trip to itself). Not found is `null`, never an error, so the server and the
 * hydrating browser take the same branch.
 */
export interface ContentSource {
  site(): Promise<SiteView>
  projects(): Promise<PublicProject[]>
  project(slug: string): Promise<PublicProject | null>
  posts(query: { limit: number; cursor?: string | undefined; tag?: string | undefined }): Promise<Page<PostSummary>>
  post(slug: string): Promise<PostPage | null>
  /** A public replay (`/replay/:id`); null when unknown or private (api/src/terminal/replays.ts). */
  replay(id: string): Promise<ReplayView | null>
}

export interface RenderInput {
  /** Path and query of the page, e.g. `/blog/hello?x=1`. */
  url: string
  /** Absolute origin for canonical URLs and link previews (PUBLIC_ORIGIN, else the request's). */
  origin: string
  /** The CSP nonce of this response, for the inline hydration script. */
  nonce: string
  content: ContentSource
}

export interface RenderOutput {
  /** 200, or 404 for an unknown page / missing post or project, 503 when content could not be read. */
  status: number
  /** `<title>`, meta description, canonical, Open Graph, Twitter and JSON-LD tags. */
  head: string
  /** The app's HTML (goes into `#root`). */
  body: string
  /** Solid's hydration bootstrap and serialized data: inline scripts carrying the nonce. */
  scripts: string
}

/** What web/dist/server/entry-server.js exports. */
export interface SsrModule {
  render(input: RenderInput): Promise<RenderOutput>
}

/** The content source over the API's services. */
export function createContentSource(services: {
  site: SiteService
  projects: ProjectsService
  posts: PostsService
  /** Absent when this instance runs no terminals: no replay exists then. */
  replays?: Pick<ReplayStore, 'get'> | undefined
}): ContentSource {
  const { site, projects, posts, replays } = services
  return {
    site: async () => (await site.get()).value,
    projects: () => projects.listPublic(),
    project: (slug) =>
      projects.getPublic(slug).catch((err) => {
        if (err instanceof ProjectNotFoundError) return null
        throw err
      }),
    posts: async ({ limit, cursor, tag }) => {
      try {
        return (await posts.listPublic(limit, cursor, tag)).value
      } catch (err) {
        // A stale or hand-edited `?cursor=` in a page URL: show the first page rather than an error.
        if (err instanceof InvalidCursorError && cursor) return (await posts.listPublic(limit, undefined, tag)).value
        throw err
      }
    },
    post: async (slug) => (await posts.getPublic(slug)).value,
    replay: async (id) => (replays ? replays.get(id) : null),
  }
}
