/**
 * The crawler-facing documents: robots.txt, the XML sitemap (sitemaps.org 0.9) and the Atom feed
 * (RFC 4287). Pure functions of their data, so the service gathers and these only write.
 */

/** Escapes text for XML content and attribute values. */
export function xmlEscape(s: string): string {
  return (
    s
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: XML 1.0 forbids these characters, so they are dropped
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
  )
}

export function robotsTxt(origin: string): string {
  return [
    'User-agent: *',
    'Allow: /',
    'Disallow: /admin',
    'Disallow: /api/',
    '',
    `Sitemap: ${origin}/sitemap.xml`,
    '',
  ].join('\n')
}

export interface SitemapEntry {
  /** Site-relative path, e.g. `/blog/hello`. */
  path: string
  lastmod?: string | undefined
}

export function sitemapXml(origin: string, entries: SitemapEntry[]): string {
  const urls = entries.map((e) => {
    const lastmod = e.lastmod ? `<lastmod>${xmlEscape(e.lastmod)}</lastmod>` : ''
    return `  <url><loc>${xmlEscape(origin + e.path)}</loc>${lastmod}</url>`
  })
  return `<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n${urls.join('\n')}\n</urlset>\n`
}

export interface FeedEntry {
  slug: string
  title: string
  summary: string
  html: string
  tags: string[]
  publishedAt: string
  updatedAt: string
  author: string
}

export interface FeedInfo {
  title: string
  subtitle: string
  author: string
}

/** An Atom feed with each post's full, sanitized HTML; relative links resolve against the origin (xml:base). */
export function atomFeed(origin: string, info: FeedInfo, entries: FeedEntry[], now = new Date()): string {
  const updated =
    entries
      .map((e) => e.updatedAt)
      .sort()
      .at(-1) ?? now.toISOString()
  const items = entries.map((e) => {
    const url = `${origin}/blog/${e.slug}`
    return [
      '  <entry>',
      `    <title>${xmlEscape(e.title)}</title>`,
      `    <link rel="alternate" type="text/html" href="${xmlEscape(url)}"/>`,
      `    <id>${xmlEscape(url)}</id>`,
      `    <published>${xmlEscape(e.publishedAt)}</published>`,
      `    <updated>${xmlEscape(e.updatedAt)}</updated>`,
      `    <author><name>${xmlEscape(e.author || info.author)}</name></author>`,
      ...e.tags.map((t) => `    <category term="${xmlEscape(t)}"/>`),
      ...(e.summary ? [`    <summary>${xmlEscape(e.summary)}</summary>`] : []),
      `    <content type="html">${xmlEscape(e.html)}</content>`,
      '  </entry>',
    ].join('\n')
  })
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<feed xmlns="http://www.w3.org/2005/Atom" xml:base="${xmlEscape(`${origin}/`)}">`,
    `  <title>${xmlEscape(info.title)}</title>`,
    ...(info.subtitle ? [`  <subtitle>${xmlEscape(info.subtitle)}</subtitle>`] : []),
    `  <link rel="self" type="application/atom+xml" href="${xmlEscape(`${origin}/feed.xml`)}"/>`,
    `  <link rel="alternate" type="text/html" href="${xmlEscape(`${origin}/`)}"/>`,
    `  <id>${xmlEscape(`${origin}/`)}</id>`,
    `  <updated>${xmlEscape(updated)}</updated>`,
    `  <author><name>${xmlEscape(info.author)}</name></author>`,
    ...items,
    '</feed>',
    '',
  ].join('\n')
}
