import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3'
import type { S3Config } from '../config.ts'
import { assertSafeKey, type MediaStorage } from './storage.ts'

export interface S3StorageOptions {
  /** Prepended to every key (lets test runs share a bucket). */
  prefix?: string
}

const isMissing = (err: unknown) =>
  err instanceof S3ServiceException &&
  (err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404)

/** The production adapter: objects in an S3 bucket (AWS, MinIO, or any S3-protocol server). */
export function createS3Storage(s3: S3Config, options: S3StorageOptions = {}): MediaStorage {
  const client = new S3Client({
    region: s3.region,
    endpoint: s3.endpoint,
    forcePathStyle: s3.forcePathStyle,
    credentials:
      s3.accessKeyId && s3.secretAccessKey
        ? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
        : undefined,
    // Every checksum on: the SDK's default since 3.729, stated so an upgrade cannot silently change it.
    requestChecksumCalculation: 'WHEN_SUPPORTED',
  })
  const prefix = options.prefix ?? ''
  const keyOf = (key: string) => {
    assertSafeKey(key)
    return prefix + key
  }
  return {
    kind: 's3',
    async put(key, body, contentType) {
      await client.send(
        new PutObjectCommand({ Bucket: s3.bucket, Key: keyOf(key), Body: body, ContentType: contentType }),
      )
    },
    async get(key) {
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: keyOf(key) }))
        if (!res.Body) return null
        return {
          body: await res.Body.transformToByteArray(),
          contentType: res.ContentType ?? 'application/octet-stream',
        }
      } catch (err) {
        if (isMissing(err)) return null
        throw err
      }
    },
    async delete(key) {
      await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: keyOf(key) }))
    },
    async ping() {
      await client.send(new HeadBucketCommand({ Bucket: s3.bucket }))
    },
  }
}
