import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3'
import type { S3Config } from '../config.ts'
import { claimEndpoint } from '../health/dependencies.ts'
import { DependencyUnavailableError } from '../http/errors.ts'
import { assertSafeKey, type MediaStorage } from './storage.ts'

export interface S3StorageOptions {
  /** Prepended to every key (lets test runs share a bucket). */
  prefix?: string
}

/** The object is not there (a missing bucket is not a missing object: it is an outage). */
const isMissing = (err: unknown) =>
  err instanceof S3ServiceException &&
  err.name !== 'NoSuchBucket' &&
  (err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404)

/** S3's own name for a refusal (`AccessDenied`, `XMinioStorageFull`...), safe to show: letters only. */
const refusalName = (err: S3ServiceException) => (/^[A-Za-z0-9.]{1,64}$/.test(err.name) ? err.name : 'refused')

/**
 * Every S3 failure but a missing object is an outage of storage (docs/faults.md): 503
 * STORAGE_UNAVAILABLE. Keys, sizes and requests are ours, so a 4xx (AccessDenied, a bucket over its
 * quota, a missing bucket, bad credentials) is the bucket refusing us, never the visitor's mistake;
 * the message names S3's reason. No connection, a timeout or a 5xx (503 SlowDown, 507 full) too.
 */
function asOutage(err: unknown): unknown {
  if (err instanceof DependencyUnavailableError) return err
  const status = err instanceof S3ServiceException ? err.$metadata?.httpStatusCode : undefined
  if (err instanceof S3ServiceException && status !== undefined && status < 500) {
    return new DependencyUnavailableError(
      'storage',
      err,
      `file storage refused the request (${refusalName(err)}); try again later`,
    )
  }
  return new DependencyUnavailableError('storage', err)
}

/** What the outage monitor writes to know storage takes writes again (docs/faults.md). */
const PROBE_KEY = 'health/probe'

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
  claimEndpoint(s3.endpoint, 'storage')
  const send: typeof client.send = ((command: Parameters<typeof client.send>[0]) =>
    client.send(command).catch((err: unknown) => {
      throw isMissing(err) ? err : asOutage(err)
    })) as typeof client.send
  const prefix = options.prefix ?? ''
  const keyOf = (key: string) => {
    assertSafeKey(key)
    return prefix + key
  }
  return {
    kind: 's3',
    async put(key, body, contentType) {
      await send(new PutObjectCommand({ Bucket: s3.bucket, Key: keyOf(key), Body: body, ContentType: contentType }))
    },
    async get(key) {
      try {
        const res = await send(new GetObjectCommand({ Bucket: s3.bucket, Key: keyOf(key) }))
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
      await send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: keyOf(key) }))
    },
    async ping() {
      await send(new HeadBucketCommand({ Bucket: s3.bucket }))
      // why: a bucket that answers but refuses writes (a policy, a quota) is still down for uploads;
      // a read-only probe would end the outage at once and start a new one at the next upload
      await send(
        new PutObjectCommand({ Bucket: s3.bucket, Key: prefix + PROBE_KEY, Body: 'ok', ContentType: 'text/plain' }),
      )
    },
  }
}
