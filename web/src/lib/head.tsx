import { createEffect } from 'solid-js'
import { useSite } from '../features/site/site-context.tsx'
import { type HeadData, useServerRender } from './server.ts'

/** "<page> · <site title>", or the site title alone. */
export function fullTitle(title: string | undefined, siteTitle: string): string {
  return title ? `${title} · ${siteTitle}` : siteTitle
}

/**
 * Declares the page's title, description, link-preview image, JSON-LD and whether it exists. On the
 * server it is recorded for the document head and the status (the last render of a page, the one
 * with its data, wins: a page first renders while its data loads); in the browser it keeps
 * `document.title` and the description current across client-side navigation.
 */
export function PageHead(props: HeadData) {
  const server = useServerRender()
  const site = useSite()
  if (server) {
    server.head = {
      title: props.title,
      description: props.description,
      image: props.image,
      type: props.type,
      path: props.path,
      jsonLd: props.jsonLd,
      noindex: props.noindex,
      notFound: props.notFound,
      publishedAt: props.publishedAt,
      modifiedAt: props.modifiedAt,
      oembed: props.oembed,
    }
    return null
  }
  createEffect(() => {
    document.title = fullTitle(props.title, site.profile().siteTitle)
    const description = props.description ?? site.profile().siteDescription
    document.querySelector('meta[name="description"]')?.setAttribute('content', description)
  })
  return null
}
