/**
 * The server render, bundled by `vite build --ssr` into web/dist/server/entry-server.js and imported
 * by the API (api/src/web): renders a page with its content through the API's own services,
 * collects its status and head tags, and returns Solid's hydration scripts under the response's
 * CSP nonce. The browser then hydrates the same markup (main.tsx).
 */
import { generateHydrationScript, renderToStringAsync } from 'solid-js/web'
import type { ContentSource, RenderInput, RenderOutput } from '../../api/src/web/ssr.ts'
import { App } from './app.tsx'
import type { Site } from './lib/contract.ts'
import { fullTitle } from './lib/head.tsx'
import type { HeadData, ServerRender } from './lib/server.ts'

// why: solid-js/web's types resolve to the browser build, whose generateHydrationScript takes no
// options; this file only runs with the server build, which takes `{ nonce }`.
const hydrationScript = generateHydrationScript as unknown as (options: { nonce: string }) => string

/** The id of the JSON block that carries the profile to the browser (read by main.tsx). */
export const SITE_DATA_ID = 'site-data'

const attr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
/** JSON inside <script>: `<` escaped so no `</script>` or `<!--` can end or change the block. */
const scriptJson = (value: unknown) =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029')
const absolute = (origin: string, url: string) => (/^https?:\/\//.test(url) ? url : `${origin}${url}`)

/** The document head for a rendered page: title, description, canonical, Open Graph, Twitter, JSON-LD. */
export function headTags(head: HeadData, site: Site, origin: string, path: string, nonce: string): string {
  const title = fullTitle(head.title, site.siteTitle)
  const description = head.description || site.siteDescription
  const image = head.image ?? site.avatar?.url
  const canonical = `${origin}${head.path ?? path}`
  const tags = [
    `<title>${attr(title)}</title>`,
    `<meta name="description" content="${attr(description)}">`,
    head.noindex ? '<meta name="robots" content="noindex">' : `<link rel="canonical" href="${attr(canonical)}">`,
    `<meta property="og:site_name" content="${attr(site.siteTitle)}">`,
    `<meta property="og:type" content="${head.type ?? 'website'}">`,
    `<meta property="og:title" content="${attr(head.title ?? site.siteTitle)}">`,
    `<meta property="og:description" content="${attr(description)}">`,
    `<meta property="og:url" content="${attr(canonical)}">`,
    `<meta name="twitter:card" content="${head.image ? 'summary_large_image' : 'summary'}">`,
    `<meta name="twitter:title" content="${attr(head.title ?? site.siteTitle)}">`,
    `<meta name="twitter:description" content="${attr(description)}">`,
  ]
  if (image) {
    tags.push(
      `<meta property="og:image" content="${attr(absolute(origin, image))}">`,
      `<meta name="twitter:image" content="${attr(absolute(origin, image))}">`,
    )
  }
  if (head.oembed && !head.noindex) {
    const href = `${origin}/oembed?url=${encodeURIComponent(canonical)}&format=json`
    tags.push(
      `<link rel="alternate" type="application/json+oembed" href="${attr(href)}" title="${attr(head.title ?? site.siteTitle)}">`,
    )
  }
  if (head.publishedAt) tags.push(`<meta property="article:published_time" content="${attr(head.publishedAt)}">`)
  if (head.modifiedAt) tags.push(`<meta property="article:modified_time" content="${attr(head.modifiedAt)}">`)
  if (head.jsonLd) {
    tags.push(`<script type="application/ld+json" nonce="${nonce}">${scriptJson(head.jsonLd)}</script>`)
  }
  return tags.join('\n    ')
}

/** Renders one page. Content errors render the error view and answer 503; a missing page 404. */
export async function render(input: RenderInput): Promise<RenderOutput> {
  let failed = false
  const guard = <A extends unknown[], R>(fn: (...args: A) => Promise<R>) => {
    return (...args: A) =>
      fn(...args).catch((err: unknown) => {
        failed = true
        throw err
      })
  }
  const content: ContentSource = {
    site: guard(input.content.site),
    projects: guard(input.content.projects),
    project: guard(input.content.project),
    posts: guard(input.content.posts),
    post: guard(input.content.post),
    replay: guard(input.content.replay),
  }
  const site = await content.site()
  const state: ServerRender = { content, origin: input.origin, head: {} }
  const path = new URL(input.url, 'http://localhost').pathname
  const body = await renderToStringAsync(() => <App url={input.url} site={site} server={state} />, {
    nonce: input.nonce,
  })
  // With no marker in the app's markup, Solid appends its data script at the end: move it out of #root.
  const marker = `<script nonce="${input.nonce}">`
  const at = body.lastIndexOf(marker)
  const markup = at === -1 ? body : body.slice(0, at)
  const data = at === -1 ? '' : body.slice(at)
  const scripts = [
    hydrationScript({ nonce: input.nonce }),
    data,
    `<script type="application/json" id="${SITE_DATA_ID}">${scriptJson(site)}</script>`,
  ].join('')
  return {
    status: failed ? 503 : state.head.notFound ? 404 : 200,
    head: headTags(state.head, site, input.origin, path, input.nonce),
    body: markup,
    scripts,
  }
}
