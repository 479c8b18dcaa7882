/**
 * Precompression of a client build (run by the `shellfolio:server-render` plugin in
 * web/vite.config.ts after every `vite build`): next to every text asset it writes `<file>.br`
 * (Brotli, best quality) and `<file>.gz` (gzip -9), which the API serves by `Accept-Encoding`.
 * Files that would not shrink, and the server bundle (read from disk by the API, never sent), are
 * left alone.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'

const COMPRESSIBLE = /\.(js|mjs|css|html|svg|json|txt|xml|wasm|map)$/

function* files(dir: string, skip: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name)
    if (full === skip) continue
    if (statSync(full).isDirectory()) yield* files(full, skip)
    else if (COMPRESSIBLE.test(name)) yield full
  }
}

/** Compresses the text files of `dist` (not `dist/server`); returns the count and sizes. */
export function compressBuild(dist: string): { files: number; before: number; after: number } {
  let count = 0
  let before = 0
  let after = 0
  for (const file of files(dist, join(dist, 'server'))) {
    const bytes = readFileSync(file)
    if (bytes.length < 256) continue
    const br = brotliCompressSync(bytes, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
    })
    const gz = gzipSync(bytes, { level: 9 })
    if (br.length < bytes.length) writeFileSync(`${file}.br`, br)
    if (gz.length < bytes.length) writeFileSync(`${file}.gz`, gz)
    count++
    before += bytes.length
    after += br.length
  }
  return { files: count, before, after }
}
