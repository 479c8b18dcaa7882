import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { testS3Storage } from '../../test/s3.ts'
import { createFilesystemStorage, type MediaStorage } from './storage.ts'

interface StorageCase {
  name: string
  create(): { storage: MediaStorage; cleanup(): void }
}

/** One contract, every adapter (docs/conventions.md, rule 8). */
function runStorageContract({ name, create }: StorageCase) {
  describe(`media storage contract: ${name}`, () => {
    let storage: MediaStorage
    let cleanup: () => void
    beforeAll(() => {
      ;({ storage, cleanup } = create())
    })
    afterAll(() => cleanup())

    test('ping answers', async () => {
      await storage.ping()
    })

    test('put then get returns the same bytes and content type', async () => {
      const body = new Uint8Array(randomBytes(70_000))
      await storage.put('media/a.png', body, 'image/png')
      const got = await storage.get('media/a.png')
      expect(got?.contentType).toBe('image/png')
      expect(Buffer.from(got!.body).equals(Buffer.from(body))).toBe(true)
    })

    test('a missing key is null, not an error', async () => {
      expect(await storage.get('media/never-written.png')).toBeNull()
    })

    test('put overwrites; delete removes; deleting twice is fine', async () => {
      await storage.put('recordings/r.cast', new TextEncoder().encode('one'), 'text/plain')
      await storage.put('recordings/r.cast', new TextEncoder().encode('two'), 'application/x-asciicast')
      const got = await storage.get('recordings/r.cast')
      expect({ text: new TextDecoder().decode(got!.body), type: got!.contentType }).toEqual({
        text: 'two',
        type: 'application/x-asciicast',
      })
      await storage.delete('recordings/r.cast')
      expect(await storage.get('recordings/r.cast')).toBeNull()
      await storage.delete('recordings/r.cast')
    })

    test('an empty object round-trips', async () => {
      await storage.put('media/empty.txt', new Uint8Array(), 'text/plain; charset=utf-8')
      const got = await storage.get('media/empty.txt')
      expect(got?.body.length).toBe(0)
      expect(got?.contentType).toBe('text/plain; charset=utf-8')
    })

    test('keys that could escape the store are refused', async () => {
      for (const bad of ['../etc/passwd', '/abs', 'media/../../x', '', 'a b', 'media/\u0000']) {
        await expect(storage.put(bad, new Uint8Array([1]), 'text/plain')).rejects.toThrow()
        await expect(storage.get(bad)).rejects.toThrow()
      }
    })

    test('concurrent writes to different keys all land', async () => {
      const keys = Array.from({ length: 20 }, (_, i) => `media/c-${i}.bin`)
      await Promise.all(keys.map((k, i) => storage.put(k, new Uint8Array([i]), 'application/octet-stream')))
      const got = await Promise.all(keys.map((k) => storage.get(k)))
      expect(got.map((g) => g?.body[0])).toEqual(keys.map((_, i) => i))
    })
  })
}

runStorageContract({
  name: 'filesystem',
  create: () => {
    const dir = mkdtempSync(join(tmpdir(), 'sf-media-'))
    return { storage: createFilesystemStorage(dir), cleanup: () => rmSync(dir, { recursive: true, force: true }) }
  },
})

runStorageContract({
  name: 's3 (real S3-protocol server)',
  // Fails loudly (requireEnv) when the server from `make test` is not there, instead of skipping.
  create: () => ({ storage: testS3Storage(`contract-${randomBytes(4).toString('hex')}/`), cleanup: () => {} }),
})
