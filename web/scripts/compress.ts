/**
 * Precompression of a client build (run by the `shellfolio:server-render` plugin in
 * web/vite.config.ts after every `vite build`): next to every text asset it writes `<file>.br`
 * (Brotli, best quality) and `<file>.gz` (gzip -9), which the API serves by `Accept-Encoding`.
 * Files that would not shrink, and the server bundle (read from disk by the API, never sent), are
 * left alone. Large files (LLVM for the browser runner's compiler, ≈ 105 MB) take Brotli quality 5
 * and gzip -6 (seconds instead of minutes) and are kept in `node_modules/.cache` under their
 * content-hashed name, so the next build copies them.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'

const COMPRESSIBLE = /\.(js|mjs|css|html|svg|json|txt|xml|wasm|map|tar)$/
/** Above this size a file is compressed faster (and cached between builds when its name is hashed). */
const LARGE = 4 * 1024 * 1024
const CACHE = join(import.meta.dirname, '..', 'node_modules', '.cache', 'shellfolio-precompressed')
/** Vite's content-hashed asset names (`name-AbCd1234.ext`). */
const HASHED = /-[A-Za-z0-9_-]{8}\.[a-z]+$/

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
    const size = statSync(file).size
    if (size < 256) continue
    const cached = join(CACHE, basename(file))
    if (size > LARGE && HASHED.test(file) && existsSync(`${cached}.br`) && existsSync(`${cached}.gz`)) {
      copyFileSync(`${cached}.br`, `${file}.br`)
      copyFileSync(`${cached}.gz`, `${file}.gz`)
      count++
      before += size
      after += statSync(`${file}.br`).size
      continue
    }
    const bytes = readFileSync(file)
    const large = bytes.length > LARGE
    const br = brotliCompressSync(bytes, {
      params: { [constants.BROTLI_PARAM_QUALITY]: large ? 5 : 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
    })
    const gz = gzipSync(bytes, { level: large ? 6 : 9 })
    if (large && HASHED.test(file) && br.length < bytes.length && gz.length < bytes.length) {
      mkdirSync(CACHE, { recursive: true })
      writeFileSync(`${cached}.br`, br)
      writeFileSync(`${cached}.gz`, gz)
    }
    if (br.length < bytes.length) writeFileSync(`${file}.br`, br)
    if (gz.length < bytes.length) writeFileSync(`${file}.gz`, gz)
    count++
    before += bytes.length
    after += br.length
  }
  return { files: count, before, after }
}
