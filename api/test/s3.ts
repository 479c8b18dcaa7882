import { createS3Storage } from '../src/media/s3-storage.ts'
import type { MediaStorage } from '../src/media/storage.ts'
import { requireEnv } from './harness.ts'

/** The S3 adapter against the real S3-protocol server `make test` starts (scripts/test.ts). */
export function testS3Storage(prefix: string): MediaStorage {
  return createS3Storage(
    {
      bucket: requireEnv('TEST_S3_BUCKET'),
      endpoint: requireEnv('TEST_S3_ENDPOINT'),
      region: process.env.TEST_S3_REGION ?? 'us-east-1',
      accessKeyId: requireEnv('TEST_S3_ACCESS_KEY_ID'),
      secretAccessKey: requireEnv('TEST_S3_SECRET_ACCESS_KEY'),
      forcePathStyle: true,
    },
    { prefix },
  )
}
