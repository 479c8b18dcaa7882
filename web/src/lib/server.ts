import { createContext, useContext } from 'solid-js'
import type { ContentSource } from '../../../api/src/web/ssr.ts'

/** What a page says about itself for the document head (title, link previews, structured data). */
export interface HeadData {
  /** The page's own title; the site title is appended. Unset on the home page. */
  title?: string | undefined
  description?: string | undefined
  /** Site-relative or absolute URL of the link-preview image (falls back to the owner's photo). */
  image?: string | undefined
  type?: 'website' | 'article' | 'profile'
  /** The canonical path (defaults to the URL's path). */
  path?: string | undefined
  /** schema.org JSON-LD object. */
  jsonLd?: Record<string, unknown> | undefined
  noindex?: boolean
  /** The page does not exist (unknown URL, post or project): the response is a 404. */
  notFound?: boolean
  /** The page has an oEmbed (a project): the head links to `/oembed` for it (docs/api.md, "Embedding"). */
  oembed?: boolean | undefined
  /** For articles: ISO dates. */
  publishedAt?: string | undefined
  modifiedAt?: string | undefined
}

/**
 * The server render's state, provided only by web/src/entry-server.tsx: the content source (the
 * API's services), and what the rendered page reports back through its PageHead (the head tags and
 * whether it exists). In the browser there is none, and reads go through the typed API client.
 */
export interface ServerRender {
  content: ContentSource
  origin: string
  head: HeadData
}

export const ServerRenderContext = createContext<ServerRender>()

/** The server render's state; undefined in the browser. */
export const useServerRender = () => useContext(ServerRenderContext)

/** The API's services during a server render, else undefined (then queries use the API client). */
export const useContent = (): ContentSource | undefined => useServerRender()?.content
