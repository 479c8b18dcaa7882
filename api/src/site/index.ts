import { createHash } from 'node:crypto'
import { Elysia, t } from 'elysia'
import { type AuthDeps, authPlugin } from '../auth/index.ts'
import { ok } from '../http/envelope.ts'
import { publicBodies } from '../lib/conditional.ts'
import { matchesEtag } from '../lib/read-cache.ts'
import { ASCIICAST_CONTENT_TYPE } from '../terminal/recording.ts'
import { siteModel } from './model.ts'
import type { SiteService, SiteView } from './service.ts'

export interface SiteModuleDeps {
  site: SiteService
  /** The app's deps (the auth plugin and service are keyed by this object). */
  auth: AuthDeps
  /** PUBLIC_ORIGIN: absolute URLs in the sitemap and feed; else the request's own origin. */
  publicOrigin: string | undefined
}

/**
 * A text document with a strong ETag and a short shared cache lifetime (content changes on admin
 * writes); a matching If-None-Match gets a bodiless 304.
 */
function document(request: Request, body: string | Uint8Array, contentType: string, maxAge = 300): Response {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`
  const headers = { 'content-type': contentType, etag, 'cache-control': `public, max-age=${maxAge}` }
  if (matchesEtag(request.headers.get('if-none-match'), etag)) return new Response(null, { status: 304, headers })
  // The DOM lib (web/ type-checks this file through App) wants an ArrayBuffer-backed view.
  return new Response(body as string | Uint8Array<ArrayBuffer>, { headers })
}

/**
 * module.site: the owner's profile (`GET` anyone, `PUT` admin), the editor's preview, project demo
 * recordings, and the documents crawlers read: /robots.txt, /sitemap.xml, /feed.xml.
 */
export function siteModule({ site, auth, publicOrigin }: SiteModuleDeps) {
  const originOf = (request: Request) => publicOrigin ?? new URL(request.url).origin
  const profileBodies = publicBodies(siteModel['site.view'], (view: SiteView) => ok(view))
  return new Elysia({ name: 'module.site' })
    .use(authPlugin(auth))
    .model(siteModel)
    .get('/api/v1/site', async ({ request, set }) => profileBodies.respond(request, set, await site.get()), {
      response: { 200: 'site.view' },
      detail: {
        summary: "The owner's profile: name, headline, intro, avatar, links, site title (ETag)",
        tags: ['site'],
      },
    })
    .put('/api/v1/site', async ({ body, user }) => ok(await site.update(body, user.id)), {
      auth: 'admin',
      body: 'site.input',
      response: { 200: 'site.view', 400: 'site.error' },
      detail: {
        summary: "Replace the owner's profile (intro Markdown rendered and sanitized on write)",
        tags: ['site'],
      },
    })
    .post(
      '/api/v1/site/preview',
      async ({ body, set }) => {
        set.headers['cache-control'] = 'no-store'
        return ok(await site.preview(body.markdown))
      },
      {
        auth: 'editor',
        body: 'site.preview',
        response: { 200: 'site.rendered', 400: 'site.error' },
        detail: { summary: 'Markdown rendered exactly as a published post is (the editor preview)', tags: ['site'] },
      },
    )
    .get(
      '/api/v1/site/recordings',
      async ({ query, set }) => {
        set.headers['cache-control'] = 'no-store'
        return ok(await site.recordings(query.project))
      },
      {
        auth: 'admin',
        query: t.Object({ project: t.String({ minLength: 1, maxLength: 100 }) }),
        response: { 200: 'site.recordings', 400: 'site.error' },
        detail: { summary: "A project's recorded sessions, newest first (to pick its demo)", tags: ['site'] },
      },
    )
    .get(
      '/api/v1/site/demos/:slug',
      async ({ params, request }) => document(request, await site.demo(params.slug), ASCIICAST_CONTENT_TYPE),
      {
        params: t.Object({ slug: t.String({ maxLength: 100 }) }),
        detail: { summary: "A project's demo recording (asciicast v2), chosen by the owner", tags: ['site'] },
      },
    )
    .get(
      '/robots.txt',
      ({ request }) => document(request, site.robots(originOf(request)), 'text/plain; charset=utf-8'),
      {
        detail: { summary: 'robots.txt naming the sitemap', tags: ['site'] },
      },
    )
    .get(
      '/sitemap.xml',
      async ({ request }) => document(request, await site.sitemap(originOf(request)), 'application/xml; charset=utf-8'),
      { detail: { summary: 'Every public page, project and post with lastmod', tags: ['site'] } },
    )
    .get(
      '/feed.xml',
      async ({ request }) =>
        document(request, await site.feed(originOf(request)), 'application/atom+xml; charset=utf-8'),
      { detail: { summary: 'Atom feed of the published posts (full HTML)', tags: ['site'] } },
    )
}
