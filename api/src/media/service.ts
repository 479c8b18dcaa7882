import { createHash, randomUUID } from 'node:crypto'
import { and, desc, eq, isNull } from 'drizzle-orm'
import type { Db } from '../db/index.ts'
import { type Media, media } from '../db/schema/index.ts'
import { AppError, BadRequestError, NotFoundError } from '../http/errors.ts'
import type { Logger } from '../logger.ts'
import { ACCEPTED_TYPES, describeRefused, type SniffedType, sniff } from './sniff.ts'
import type { MediaStorage } from './storage.ts'

export interface MediaView {
  id: string
  url: string
  contentType: string
  size: number
}

export interface MediaAdminView extends MediaView {
  originalName: string
  sha256: string
  createdAt: string
}

export class UnsupportedFileTypeError extends AppError {
  constructor(found: string) {
    super(415, 'UNSUPPORTED_MEDIA_TYPE', `this file is ${found}; accepted are ${ACCEPTED_TYPES}`, {
      accepted: ACCEPTED_TYPES,
    })
  }
}

export class FileTooLargeError extends AppError {
  constructor(limit: number) {
    super(413, 'PAYLOAD_TOO_LARGE', `the file is larger than ${limit} bytes`, { limit })
  }
}

export class MediaNotFoundError extends NotFoundError {
  constructor() {
    super('no such media', 'MEDIA_NOT_FOUND')
  }
}

export interface MediaServiceOptions {
  db: Db
  storage: MediaStorage
  /** Largest accepted upload, in bytes. */
  uploadLimit: number
  /** Absolute URLs when set (PUBLIC_ORIGIN); site-relative otherwise. */
  publicOrigin?: string | undefined
  logger?: Logger
}

/** A file ready to serve: bytes, sniffed type, strong ETag. */
export interface MediaFile {
  id: string
  body: Uint8Array
  contentType: string
  etag: string
  filename: string
  inline: boolean
}

const EXT_BY_TYPE: Record<string, Pick<SniffedType, 'ext' | 'inline'>> = {
  'image/png': { ext: 'png', inline: true },
  'image/jpeg': { ext: 'jpg', inline: true },
  'image/gif': { ext: 'gif', inline: true },
  'image/webp': { ext: 'webp', inline: true },
  'application/pdf': { ext: 'pdf', inline: false },
  'text/plain; charset=utf-8': { ext: 'txt', inline: true },
}

export function createMediaService({ db, storage, uploadLimit, publicOrigin, logger }: MediaServiceOptions) {
  const urlOf = (id: string) => `${publicOrigin ?? ''}/api/v1/media/${id}`
  const viewOf = (row: Media): MediaView => ({
    id: row.id,
    url: urlOf(row.id),
    contentType: row.contentType,
    size: row.size,
  })

  return {
    /**
     * Stores an upload. The type comes from the bytes (never from the client's name or header);
     * the key is random. The object is written before the row, so a row never points at nothing.
     */
    async upload(input: { bytes: Uint8Array; originalName: string; uploadedBy: string | null }): Promise<MediaView> {
      const { bytes } = input
      if (bytes.length > uploadLimit) throw new FileTooLargeError(uploadLimit)
      if (bytes.length === 0) throw new BadRequestError('the file is empty', undefined, 'EMPTY_FILE')
      const type = sniff(bytes)
      if (!type) throw new UnsupportedFileTypeError(describeRefused(bytes))
      const id = randomUUID()
      const key = `media/${id}.${type.ext}`
      const sha256 = createHash('sha256').update(bytes).digest('hex')
      await storage.put(key, bytes, type.contentType)
      try {
        const [row] = await db
          .insert(media)
          .values({
            id,
            key,
            contentType: type.contentType,
            size: bytes.length,
            sha256,
            // Kept for the admin's reference only; never used in a path or a header.
            originalName: input.originalName.slice(0, 255),
            uploadedBy: input.uploadedBy,
          })
          .returning()
        return viewOf(row!)
      } catch (err) {
        await storage.delete(key).catch((e) => logger?.warn({ err: e, key }, 'media: orphan object not removed'))
        throw err
      }
    },

    /** The bytes of a live media item; MediaNotFoundError when it is deleted or missing. */
    async read(id: string): Promise<MediaFile> {
      const [row] = await db
        .select()
        .from(media)
        .where(and(eq(media.id, id), isNull(media.deletedAt)))
        .limit(1)
      if (!row) throw new MediaNotFoundError()
      const object = await storage.get(row.key)
      if (!object) {
        logger?.error({ id, key: row.key }, 'media: row without a stored object')
        throw new MediaNotFoundError()
      }
      const kind = EXT_BY_TYPE[row.contentType] ?? { ext: 'bin', inline: false }
      return {
        id: row.id,
        body: object.body,
        contentType: row.contentType,
        etag: `"${row.sha256 || createHash('sha256').update(object.body).digest('hex')}"`,
        filename: `${row.id}.${kind.ext}`,
        inline: kind.inline,
      }
    },

    async list(limit = 100): Promise<MediaAdminView[]> {
      const rows = await db
        .select()
        .from(media)
        .where(isNull(media.deletedAt))
        .orderBy(desc(media.createdAt), desc(media.id))
        .limit(limit)
      return rows.map((r) => ({
        ...viewOf(r),
        originalName: r.originalName,
        sha256: r.sha256,
        createdAt: r.createdAt.toISOString(),
      }))
    },

    /** Soft delete: no longer served; the object stays until an operator purges it. */
    async remove(id: string): Promise<void> {
      const rows = await db
        .update(media)
        .set({ deletedAt: new Date() })
        .where(and(eq(media.id, id), isNull(media.deletedAt)))
        .returning({ id: media.id })
      if (rows.length === 0) throw new MediaNotFoundError()
    },
  }
}

export type MediaService = ReturnType<typeof createMediaService>
