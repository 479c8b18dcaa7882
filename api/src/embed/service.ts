import { BadRequestError, NotFoundError } from '../http/errors.ts'
import { ProjectNotFoundError, type ProjectsService } from '../projects/service.ts'
import type { SiteService } from '../site/service.ts'

/** The iframe size an oEmbed answer proposes when the consumer sets no maximum. */
export const EMBED_SIZE = { width: 720, height: 540 } as const
/** The smallest frame a terminal is usable in; a tighter maximum is refused. */
const MIN_SIZE = { width: 240, height: 200 } as const

/** An oEmbed 1.0 "rich" response (https://oembed.com, section 2.3.4). */
export interface OEmbed {
  version: '1.0'
  type: 'rich'
  title: string
  provider_name: string
  provider_url: string
  author_name: string
  author_url: string
  html: string
  width: number
  height: number
  cache_age: number
}

export class OEmbedNotFoundError extends NotFoundError {
  constructor(message: string) {
    super(message, 'PROJECT_NOT_FOUND')
  }
}

const attr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** The project a URL of this site points at (`/projects/<slug>` or `/embed/<slug>`), else null. */
export function projectSlugOf(url: URL): string | null {
  const m = /^\/(?:projects|embed)\/([a-z0-9][a-z0-9-]{0,99})\/?$/.exec(url.pathname)
  return m?.[1] ?? null
}

export interface OEmbedRequest {
  url: string
  /** The origins this site answers on: PUBLIC_ORIGIN and the request's own. */
  siteOrigins: readonly string[]
  /** The origin the embed URL is built on (PUBLIC_ORIGIN, else the request's). */
  origin: string
  maxWidth?: number | undefined
  maxHeight?: number | undefined
}

/**
 * oEmbed for the embed page (docs/api.md, "Embedding"): a project URL of this site becomes an
 * iframe on `/embed/<slug>`. A URL of another site is a 400; a page of this site that is not a live
 * project is a 404.
 */
export function createEmbedService({ projects, site }: { projects: ProjectsService; site: SiteService }) {
  return {
    async oembed(input: OEmbedRequest): Promise<OEmbed> {
      let url: URL
      try {
        url = new URL(input.url)
      } catch {
        throw new BadRequestError('url must be an absolute URL of a project on this site', undefined, 'FOREIGN_URL')
      }
      const hosts = new Set(input.siteOrigins.map((o) => new URL(o).host.toLowerCase()))
      if (!['http:', 'https:'].includes(url.protocol) || !hosts.has(url.host.toLowerCase())) {
        throw new BadRequestError('url is not a page of this site', undefined, 'FOREIGN_URL')
      }
      const slug = projectSlugOf(url)
      if (!slug) throw new OEmbedNotFoundError('url is not a project page of this site (/projects/<slug>)')
      const project = await projects.getPublic(slug).catch((err: unknown) => {
        if (err instanceof ProjectNotFoundError) throw new OEmbedNotFoundError(`no project '${slug}'`)
        throw err
      })
      const width = Math.min(EMBED_SIZE.width, input.maxWidth ?? EMBED_SIZE.width)
      const height = Math.min(EMBED_SIZE.height, input.maxHeight ?? EMBED_SIZE.height)
      if (width < MIN_SIZE.width || height < MIN_SIZE.height) {
        throw new BadRequestError(
          `a terminal needs at least ${MIN_SIZE.width}×${MIN_SIZE.height} pixels`,
          { minWidth: MIN_SIZE.width, minHeight: MIN_SIZE.height },
          'EMBED_TOO_SMALL',
        )
      }
      const profile = (await site.get()).value
      const src = `${input.origin}/embed/${project.slug}`
      return {
        version: '1.0',
        type: 'rich',
        title: project.title,
        provider_name: profile.siteTitle,
        provider_url: `${input.origin}/`,
        author_name: profile.name,
        author_url: `${input.origin}/`,
        html:
          `<iframe src="${attr(src)}" width="${width}" height="${height}" title="${attr(`Live terminal: ${project.title}`)}" ` +
          `style="border:0" allow="clipboard-read; clipboard-write; fullscreen" loading="lazy"></iframe>`,
        width,
        height,
        cache_age: 3600,
      }
    },
  }
}

export type EmbedService = ReturnType<typeof createEmbedService>
