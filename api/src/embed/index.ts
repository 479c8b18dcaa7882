import { createHash } from 'node:crypto'
import { Elysia, t } from 'elysia'
import { AppError } from '../http/errors.ts'
import { matchesEtag } from '../lib/read-cache.ts'
import { EMBED_SCRIPT } from './script.ts'
import type { EmbedService } from './service.ts'

export interface EmbedModuleDeps {
  embed: EmbedService
  /** PUBLIC_ORIGIN: the origin embed URLs are built on; else the request's own. */
  publicOrigin: string | undefined
}

/** The path of the embed page of a project (the only page another site may frame). */
export const EMBED_PAGE = /^\/embed\/[a-z0-9][a-z0-9-]{0,99}\/?$/

/**
 * The headers that let the origins of EMBED_ORIGINS, and no other, frame the embed page: plugin.http
 * sends `frame-ancestors 'none'` and `X-Frame-Options: DENY` with every response, and the web module
 * calls this for `/embed/<slug>` only. X-Frame-Options cannot list origins, so it goes: browsers that
 * know CSP frame-ancestors (all current ones) ignore it anyway when the CSP has the directive.
 */
export function allowFraming(headers: Record<string, string | number>, origins: readonly string[]): void {
  const ancestors = origins.length > 0 ? origins.join(' ') : "'none'"
  const csp = String(headers['content-security-policy'] ?? '')
  headers['content-security-policy'] = /frame-ancestors[^;]*/.test(csp)
    ? csp.replace(/frame-ancestors[^;]*/, `frame-ancestors ${ancestors}`)
    : `${csp}; frame-ancestors ${ancestors}`
  if (origins.length > 0) delete headers['x-frame-options']
}

const SCRIPT_ETAG = `"${createHash('sha256').update(EMBED_SCRIPT).digest('base64url').slice(0, 27)}"`
const DIGITS = '^[0-9]{1,5}$'

/**
 * module.embed: `/embed.js` (the `<shellfolio-terminal>` element other sites include) and
 * `/oembed` (oEmbed 1.0, JSON only). The embed page itself, `/embed/:slug`, is a page of the site
 * (web/src/features/embed), rendered by module.web with the framing headers of `allowFraming`.
 */
export function embedModule({ embed, publicOrigin }: EmbedModuleDeps) {
  return new Elysia({ name: 'module.embed' })
    .get(
      '/embed.js',
      ({ request, set }) => {
        set.headers['content-type'] = 'text/javascript; charset=utf-8'
        set.headers['cache-control'] = 'public, max-age=3600'
        set.headers.etag = SCRIPT_ETAG
        // why: the script is loaded by other sites' pages; without this a COEP page could not load it.
        set.headers['cross-origin-resource-policy'] = 'cross-origin'
        if (matchesEtag(request.headers.get('if-none-match'), SCRIPT_ETAG)) {
          return new Response(null, { status: 304, headers: set.headers as Record<string, string> })
        }
        return EMBED_SCRIPT
      },
      { detail: { summary: 'The <shellfolio-terminal project="…"> element for other sites', tags: ['embed'] } },
    )
    .get(
      '/oembed',
      async ({ query, request, set }) => {
        const format = query.format ?? 'json'
        if (format !== 'json') {
          throw new AppError(501, 'FORMAT_NOT_IMPLEMENTED', `oEmbed format '${format}' is not offered; use format=json`)
        }
        const own = new URL(request.url).origin
        const origin = publicOrigin ?? own
        const answer = await embed.oembed({
          url: query.url,
          siteOrigins: publicOrigin ? [publicOrigin, own] : [own],
          origin,
          maxWidth: query.maxwidth ? Number(query.maxwidth) : undefined,
          maxHeight: query.maxheight ? Number(query.maxheight) : undefined,
        })
        set.headers['cache-control'] = 'public, max-age=300'
        // Public data; consumers may fetch it from a browser.
        set.headers['access-control-allow-origin'] = '*'
        return answer
      },
      {
        query: t.Object({
          url: t.String({ minLength: 1, maxLength: 2048 }),
          format: t.Optional(t.String({ maxLength: 16 })),
          maxwidth: t.Optional(t.String({ pattern: DIGITS })),
          maxheight: t.Optional(t.String({ pattern: DIGITS })),
        }),
        detail: {
          summary: 'oEmbed (JSON, type rich) for a project page of this site: an iframe on /embed/:slug',
          tags: ['embed'],
        },
      },
    )
}
