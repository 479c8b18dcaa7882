/**
 * Precompresses the built client files (part of `bun run build`): next to every text asset in
 * web/dist it writes `<file>.br` (Brotli, best quality) and `<file>.gz` (gzip -9), which the API
 * serves by `Accept-Encoding`. Files that would not shrink are left alone.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'

const DIST = join(import.meta.dir, '../dist')
const COMPRESSIBLE = /\.(js|mjs|css|html|svg|json|txt|xml|wasm|map)$/
/** The server bundle is read by the API from disk, never sent to browsers. */
const SKIP = join(DIST, 'server')

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name)
    if (full === SKIP) continue
    if (statSync(full).isDirectory()) yield* files(full)
    else if (COMPRESSIBLE.test(name)) yield full
  }
}

let count = 0
let before = 0
let after = 0
for (const file of files(DIST)) {
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
  if (process.env.VERBOSE) console.log(`${relative(DIST, file)}: ${bytes.length} → br ${br.length}, gz ${gz.length}`)
}
console.log(`compressed ${count} files: ${(before / 1024).toFixed(0)} KiB → ${(after / 1024).toFixed(0)} KiB (brotli)`)
