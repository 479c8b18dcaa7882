/**
 * `bun run bench`: runs every `*.bench.ts` of the repository with `bun test <file>` (one process
 * each, so runs never share warm caches), then lists the result files they wrote to bench-results/.
 * Benchmarks print their own tables; nothing here asserts timings. Arguments select benches by a
 * part of their path: `bun run bench browser` runs only web/bench/browser.bench.ts (the browser
 * runner in Chromium, docs/performance.md, "Browser runner").
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

const ROOT = join(import.meta.dir, '..')
const RESULTS = join(ROOT, 'bench-results')
const filter = process.argv.slice(2)

const files = [...new Bun.Glob('**/*.bench.ts').scanSync({ cwd: ROOT, onlyFiles: true })]
  .filter((f) => !f.split('/').includes('node_modules'))
  .filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)))
  .sort()

if (files.length === 0) {
  console.error('no *.bench.ts files found')
  process.exit(1)
}

const started = Date.now()
const failed: string[] = []
for (const file of files) {
  console.log(`\n=== bun test ./${file}`)
  const proc = Bun.spawn(['bun', 'test', `./${file}`, '--timeout', String(60 * 60_000)], {
    cwd: ROOT,
    stdout: 'inherit',
    stderr: 'inherit',
    stdin: 'ignore',
  })
  if ((await proc.exited) !== 0) failed.push(file)
}

console.log('\nbench results:')
if (existsSync(RESULTS)) {
  for (const f of readdirSync(RESULTS).sort()) {
    const full = join(RESULTS, f)
    if (statSync(full).mtimeMs >= started) console.log(`  ${relative(ROOT, full)}`)
  }
}
if (failed.length > 0) {
  console.log(`failed: ${failed.join(', ')}`)
  process.exit(1)
}
