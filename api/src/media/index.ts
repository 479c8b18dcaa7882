import { Elysia } from 'elysia'
import { type AuthDeps, authPlugin } from '../auth/index.ts'
import { ok } from '../http/envelope.ts'
import { matchesEtag } from '../lib/read-cache.ts'
import { mediaModel } from './model.ts'
import type { MediaService } from './service.ts'

export interface MediaModuleDeps {
  media: MediaService
  auth: AuthDeps
}

/** Served files can never run script on our origin, even if a type check were fooled. */
const MEDIA_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"

/** module.media: admin uploads (type sniffed from the bytes) and immutable public serving. */
export function mediaModule({ media, auth }: MediaModuleDeps) {
  return new Elysia({ name: 'module.media', prefix: '/api/v1/media' })
    .use(authPlugin(auth))
    .model(mediaModel)
    .post(
      '',
      async ({ body, user, set }) => {
        const file = body.file
        const bytes = new Uint8Array(await file.arrayBuffer())
        set.status = 201
        return ok(await media.upload({ bytes, originalName: file.name ?? '', uploadedBy: user.id }))
      },
      {
        auth: 'admin',
        body: 'media.upload',
        type: 'multipart/form-data',
        response: { 201: 'media.one', 400: 'media.error', 413: 'media.error', 415: 'media.error' },
        detail: {
          summary: 'Upload a file (multipart field `file`); the type is sniffed from its content',
          tags: ['media'],
        },
      },
    )
    .get(
      '',
      async ({ set }) => {
        set.headers['cache-control'] = 'no-store'
        return ok(await media.list())
      },
      {
        auth: 'admin',
        response: { 200: 'media.list' },
        detail: { summary: 'Uploaded media, newest first (admin)', tags: ['media'] },
      },
    )
    .get(
      '/:id',
      async ({ params, request, set }) => {
        const file = await media.read(params.id)
        const headers: Record<string, string> = {
          ...(set.headers as Record<string, string>),
          etag: file.etag,
          // The id names one immutable upload: cache it for a year.
          'cache-control': 'public, max-age=31536000, immutable',
          'x-content-type-options': 'nosniff',
          'content-security-policy': MEDIA_CSP,
          'cross-origin-resource-policy': 'same-origin',
          // The file name is ours (id + sniffed extension), never the client's.
          'content-disposition': `${file.inline ? 'inline' : 'attachment'}; filename="${file.filename}"`,
        }
        if (matchesEtag(request.headers.get('if-none-match'), file.etag)) {
          return new Response(null, { status: 304, headers })
        }
        headers['content-type'] = file.contentType
        headers['content-length'] = String(file.body.length)
        // The DOM lib (web/ type-checks this file through App) wants an ArrayBuffer-backed view.
        return new Response(file.body as Uint8Array<ArrayBuffer>, { status: 200, headers })
      },
      {
        params: 'media.idParams',
        // The 200 is raw bytes, not JSON: documented by hand (a `response` schema replaces `detail.responses`).
        detail: {
          summary: 'Download a media file',
          tags: ['media'],
          responses: {
            200: {
              description: 'the file, with its sniffed Content-Type, a strong ETag and immutable caching',
              content: Object.fromEntries(
                ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf', 'text/plain'].map((type) => [
                  type,
                  { schema: { type: 'string', format: 'binary' } },
                ]),
              ),
            },
            304: { description: 'not modified (If-None-Match matched the ETag)' },
            ...Object.fromEntries(
              [400, 404].map((code) => [
                code,
                {
                  description: code === 400 ? 'the id is not a UUID' : 'no such media (or deleted)',
                  content: { 'application/json': { schema: { $ref: '#/components/schemas/media.error' } } },
                },
              ]),
            ),
          },
        },
      },
    )
    .delete(
      '/:id',
      async ({ params }) => {
        await media.remove(params.id)
        return ok({ id: params.id, deleted: true })
      },
      {
        auth: 'admin',
        params: 'media.idParams',
        response: { 200: 'media.deleted', 404: 'media.error' },
        detail: { summary: 'Delete a media file (soft: no longer served)', tags: ['media'] },
      },
    )
}
