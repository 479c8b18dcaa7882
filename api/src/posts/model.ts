import { t } from 'elysia'
import { envelopeSchema, errorSchema } from '../http/envelope.ts'

export const SLUG_PATTERN = '^[a-z0-9]+(?:-[a-z0-9]+)*$'
/** 1–100 written plainly: no sign, exponent, decimals or leading zeros (`1e2`, `0`, `101` are refused). */
export const LIMIT_PATTERN = '^(?:100|[1-9][0-9]?)$'

const slug = t.String({
  pattern: SLUG_PATTERN,
  minLength: 1,
  maxLength: 100,
  description: 'lower-case words joined by -',
})
/** Free text without markup or control characters (normalised to trimmed lower case). */
const tag = t.String({ minLength: 1, maxLength: 32, pattern: '^[^\\x00-\\x1f<>]*\\S[^\\x00-\\x1f<>]*$' })
const status = t.Union([t.Literal('draft'), t.Literal('published')])
const author = t.Nullable(t.Object({ id: t.String(), name: t.String() }))

export const postSummary = t.Object({
  id: t.String({ format: 'uuid' }),
  slug: t.String(),
  title: t.String(),
  summary: t.String(),
  tags: t.Array(t.String()),
  publishedAt: t.String({ format: 'date-time' }),
  updatedAt: t.String(),
  author,
})

export const postPage = t.Composite([
  postSummary,
  t.Object({ html: t.String({ description: 'sanitized HTML rendered on write' }) }),
])

export const postAdmin = t.Object({
  id: t.String({ format: 'uuid' }),
  slug: t.String(),
  title: t.String(),
  summary: t.String(),
  markdown: t.String(),
  html: t.String(),
  tags: t.Array(t.String()),
  status,
  publishedAt: t.Nullable(t.String()),
  author,
  createdAt: t.String(),
  updatedAt: t.String(),
  deletedAt: t.Nullable(t.String()),
})

const pageMeta = t.Object({ nextCursor: t.Nullable(t.String()) })

const postFields = {
  slug,
  title: t.String({ minLength: 1, maxLength: 200 }),
  summary: t.Optional(t.String({ maxLength: 500 })),
  markdown: t.String({ maxLength: 200_000, description: 'Markdown; raw HTML is sanitized' }),
  tags: t.Optional(t.Array(tag, { maxItems: 20 })),
  status: t.Optional(status),
  publishedAt: t.Optional(t.Nullable(t.String({ format: 'date-time' }))),
}

export const postsModel = {
  'posts.create': t.Object(postFields, { additionalProperties: false }),
  'posts.patch': t.Partial(t.Object(postFields), { additionalProperties: false, minProperties: 1 }),
  'posts.listQuery': t.Object({
    limit: t.Optional(t.String({ pattern: LIMIT_PATTERN, description: 'page size, 1–100 (default 20)' })),
    cursor: t.Optional(t.String({ maxLength: 512, description: 'opaque nextCursor of the previous page' })),
    status: t.Optional(status),
    include: t.Optional(t.Literal('deleted')),
    tag: t.Optional(t.String({ minLength: 1, maxLength: 32, description: 'only published posts with this tag' })),
  }),
  'posts.list': envelopeSchema(t.Array(postSummary), pageMeta),
  'posts.adminList': envelopeSchema(t.Array(postAdmin), pageMeta),
  'posts.page': envelopeSchema(postPage),
  'posts.admin': envelopeSchema(postAdmin),
  'posts.error': errorSchema,
}
