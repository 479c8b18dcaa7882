import { join } from 'node:path'
import type { Config } from '../config.ts'
import { createS3Storage } from './s3-storage.ts'
import { createFilesystemStorage, type MediaStorage } from './storage.ts'

/** S3 when S3_BUCKET is set, files under DATA_DIR/media otherwise (docs/architecture.md). Synchronous. */
export function openMediaStorage(config: Pick<Config, 's3' | 'dataDir'>): MediaStorage {
  return config.s3 ? createS3Storage(config.s3) : createFilesystemStorage(join(config.dataDir, 'media'))
}
