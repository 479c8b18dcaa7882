/**
 * An imported version's files: stored once per content in the media store (S3 or DATA_DIR/media)
 * under `projects/blobs/<sha256>`, and laid out on this host as a folder a runner copies into a
 * session when it opens (docs/projects.md, "Where the files live").
 */

import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chmod, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises'
import { dirname, join, sep } from 'node:path'
import type { ProjectVersion } from '../db/schema/index.ts'
import type { MediaStorage } from '../media/storage.ts'

export const blobKey = (sha256: string) => `projects/blobs/${sha256}`

/** A bundled project's file from its folder on this host when its content is the one recorded. */
async function fromBundle(
  storage: MediaStorage,
  dir: string | undefined,
  file: { path: string; sha256: string },
): Promise<Uint8Array | undefined> {
  if (!dir) return undefined
  const path = join(dir, file.path)
  if (!path.startsWith(dir + sep) || !existsSync(path)) return undefined
  const bytes = new Uint8Array(await readFile(path))
  if (createHash('sha256').update(bytes).digest('hex') !== file.sha256) return undefined
  await storage.put(blobKey(file.sha256), bytes, 'application/octet-stream').catch(() => {})
  return bytes
}

/**
 * The version's folder under `root` (one per version id, written once: a folder is complete before
 * it is renamed into place, so a session never sees half a project). Returns its path.
 */
export async function materialize(
  storage: MediaStorage,
  root: string,
  version: Pick<ProjectVersion, 'id' | 'files' | 'links'>,
  /** Where a bundled project's files are on this host (wasm-projects/<folder>): a blob this instance's
   * store lacks — each instance its own DATA_DIR/media, without S3 — is read from there, checked
   * against its hash and stored again. */
  bundledDir?: string,
): Promise<string> {
  const dir = join(root, version.id)
  if (existsSync(dir)) return dir
  const tmp = join(root, `.tmp-${version.id}-${crypto.randomUUID().slice(0, 8)}`)
  try {
    await mkdir(tmp, { recursive: true })
    for (const file of version.files) {
      const body = (await storage.get(blobKey(file.sha256)))?.body ?? (await fromBundle(storage, bundledDir, file))
      if (!body) throw new Error(`the media store has lost ${file.path} (${file.sha256})`)
      const path = join(tmp, file.path)
      await mkdir(dirname(path), { recursive: true })
      await writeFile(path, body)
      await chmod(path, file.mode & 0o777 || 0o644)
    }
    for (const link of version.links) {
      const path = join(tmp, link.path)
      await mkdir(dirname(path), { recursive: true })
      await symlink(link.target, path)
    }
    await rename(tmp, dir).catch(async (err) => {
      // why: another request laid the same version out first; theirs is as good as ours
      if (!existsSync(dir)) throw err
    })
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
  return dir
}
