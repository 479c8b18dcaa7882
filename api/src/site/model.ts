import { t } from 'elysia'
import { envelopeSchema, errorSchema } from '../http/envelope.ts'

/** http(s) or mailto, no spaces; the service parses it too (a pattern alone lets `http://` through). */
export const LINK_URL_PATTERN = '^(https?://[^\\s]+|mailto:[^\\s@]+@[^\\s@]+)$'

const link = t.Object(
  {
    label: t.String({ minLength: 1, maxLength: 40, pattern: '^[^\\x00-\\x1f<>]*\\S[^\\x00-\\x1f<>]*$' }),
    url: t.String({ maxLength: 500, pattern: LINK_URL_PATTERN, description: 'http(s):// or mailto:' }),
  },
  { additionalProperties: false },
)

export const siteView = t.Object({
  name: t.String(),
  headline: t.String(),
  intro: t.String({ description: 'Markdown source' }),
  introHtml: t.String({ description: 'sanitized HTML rendered on write' }),
  avatar: t.Nullable(t.Object({ id: t.String(), url: t.String() })),
  location: t.String(),
  links: t.Array(t.Object({ label: t.String(), url: t.String() })),
  siteTitle: t.String(),
  siteDescription: t.String(),
  configured: t.Boolean({ description: 'false until the owner saved the profile once (neutral defaults)' }),
  updatedAt: t.Nullable(t.String()),
})

const oneLine = (maxLength: number, minLength = 0) =>
  t.String({
    minLength,
    maxLength,
    pattern: minLength > 0 ? '^[^\\x00-\\x1f]*\\S[^\\x00-\\x1f]*$' : '^[^\\x00-\\x1f]*$',
  })

export const siteModel = {
  'site.input': t.Object(
    {
      name: oneLine(100, 1),
      headline: oneLine(160),
      intro: t.String({ maxLength: 20_000, description: 'Markdown; raw HTML is sanitized' }),
      avatarId: t.Nullable(t.String({ format: 'uuid', description: 'an image in the media library' })),
      location: oneLine(100),
      links: t.Array(link, { maxItems: 12 }),
      siteTitle: oneLine(80, 1),
      siteDescription: oneLine(300),
    },
    { additionalProperties: false },
  ),
  'site.preview': t.Object(
    { markdown: t.String({ maxLength: 200_000, description: 'Markdown to render as a post would be' }) },
    { additionalProperties: false },
  ),
  'site.view': envelopeSchema(siteView),
  'site.rendered': envelopeSchema(t.Object({ html: t.String() })),
  'site.recordings': envelopeSchema(
    t.Array(
      t.Object({
        id: t.String(),
        runner: t.String(),
        startedAt: t.String(),
        endedAt: t.Nullable(t.String()),
        bytesOut: t.Number(),
      }),
    ),
  ),
  'site.error': errorSchema,
}
