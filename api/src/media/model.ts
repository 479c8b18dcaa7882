import { t } from 'elysia'
import { envelopeSchema, errorSchema } from '../http/envelope.ts'

const mediaView = {
  id: t.String({ format: 'uuid' }),
  url: t.String(),
  contentType: t.String(),
  size: t.Integer(),
}

export const mediaModel = {
  'media.upload': t.Object({
    file: t.File({ description: 'PNG, JPEG, GIF, WebP, PDF or plain UTF-8 text; the type is read from the bytes' }),
  }),
  'media.idParams': t.Object({ id: t.String({ format: 'uuid' }) }),
  'media.one': envelopeSchema(t.Object(mediaView)),
  'media.list': envelopeSchema(
    t.Array(t.Object({ ...mediaView, originalName: t.String(), sha256: t.String(), createdAt: t.String() })),
  ),
  'media.deleted': envelopeSchema(t.Object({ id: t.String(), deleted: t.Boolean() })),
  'media.error': errorSchema,
}
