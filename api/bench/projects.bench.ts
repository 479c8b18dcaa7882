/**
 * Imported projects benchmark (docs/projects.md). `bun test ./api/bench/projects.bench.ts` (or
 * `bun run bench`); never asserts timings.
 *
 *   - import → runnable: a small C project (calc's sources) as a .tar.gz, from the import call to
 *     its check build passed and the version current, per runner (wasi, docker), and the import
 *     alone (archive checked, files stored in the media store, version row);
 *   - session open → prompt with the warm pool: the imported version's folder against the bundled
 *     wasm-projects/calc folder (same files, different folder), on the Docker runner (the pools are
 *     refilled before each sample, samples alternate; a project's first open takes an empty pooled
 *     container and copies the files in, later ones come from the project's own pool) and on WASI
 *     (its prompt is written before `open` returns). Target: within 1.2× of each other.
 *
 * Prints a table and writes bench-results/projects.json. Fails without Docker and the sandbox image.
 */
import { test } from 'bun:test'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import type { ProjectSpec, Runner } from '@shellfolio/runner'
import { DockerRunner } from '@shellfolio/runner/docker'
import { createWasiRunner } from '@shellfolio/runner/wasi'
import { REPO_ROOT } from '../src/config.ts'
import { createReadCache } from '../src/lib/read-cache.ts'
import { createFilesystemStorage } from '../src/media/storage.ts'
import { createProjectImports } from '../src/projects/import.ts'
import { tgz } from '../test/archives.ts'
import { loadavg, median, PROMPT, round, table, writeResults } from '../test/bench-kit.ts'
import { openBackend, testConfig } from '../test/harness.ts'

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 10)
const IMPORT_SAMPLES = Number(process.env.BENCH_IMPORT_SAMPLES ?? 3)
const CALC = join(REPO_ROOT, 'wasm-projects/calc')
const calcJson = JSON.parse(readFileSync(join(CALC, 'project.json'), 'utf8')) as { policy: { allow: string[] } }

/** calc as an owner's archive (a new slug per sample, so each import is a new project). */
function calcArchive(slug: string, runners: string[]): Uint8Array {
  const entries: { name: string; body: Uint8Array }[] = []
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) walk(path)
      else if (relative(CALC, path) !== 'project.json')
        entries.push({ name: relative(CALC, path), body: readFileSync(path) })
    }
  }
  walk(CALC)
  const manifest = { ...JSON.parse(readFileSync(join(CALC, 'project.json'), 'utf8')), slug, runners, build: 'make' }
  return tgz([{ name: 'project.json', body: new TextEncoder().encode(JSON.stringify(manifest)) }, ...entries])
}

/** ms from `open` to the first prompt. */
async function openToPrompt(runner: Runner, project: ProjectSpec): Promise<number> {
  const t0 = performance.now()
  const session = await runner.open({ project, size: { cols: 80, rows: 24 } })
  let text = ''
  const decoder = new TextDecoder()
  const ms = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no prompt within 60 s')), 60_000)
    session.onData((chunk) => {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes on purpose
      text += decoder.decode(chunk, { stream: true }).replace(/\x1b\][^\x07]*\x07|\x1b\[[0-9;?]*[A-Za-z]/g, '')
      if (PROMPT.test(text)) {
        clearTimeout(timer)
        resolve(performance.now() - t0)
      }
    })
  })
  await session.kill()
  return ms
}

async function poolFull(runner: DockerRunner, want: number) {
  await runner.pool.fill()
  const deadline = Date.now() + 60_000
  while (runner.pool.ready() < want && Date.now() < deadline) await Bun.sleep(50) // why: polling the pool
}

test(
  'imported projects: import → runnable, open → prompt imported vs bundled',
  async () => {
    const started = new Date()
    const loadStart = loadavg()
    const backend = await openBackend('embedded')
    const dir = mkdtempSync(join(tmpdir(), 'sf-bench-projects-'))
    const docker = new DockerRunner({ poolSize: 2, runtime: testConfig().sandboxRuntime })
    const reason = await docker.unavailableReason()
    if (reason) throw new Error(`projects bench needs Docker and the sandbox image: ${reason}`)
    const wasi = createWasiRunner()
    const runners: Record<string, Runner> = { docker, wasi }
    const imports = createProjectImports({
      db: backend.database.db,
      storage: createFilesystemStorage(join(dir, 'media')),
      reads: createReadCache({ cache: backend.cache, namespace: 'projects' }),
      filesDir: join(dir, 'files'),
      runner: (k) => runners[k],
      uploadLimit: 50 * 1024 * 1024,
      buildTimeoutMs: 300_000,
    })
    const rows: Record<string, number | string>[] = []
    try {
      // import → runnable, per runner
      let importedDir = ''
      for (const kind of ['wasi', 'docker']) {
        const importMs: number[] = []
        const runnableMs: number[] = []
        for (let i = 0; i < IMPORT_SAMPLES; i++) {
          const archive = new Blob([calcArchive(`calc-${kind}-${i}`, [kind]) as Uint8Array<ArrayBuffer>])
          const t0 = performance.now()
          const { projectId } = await imports.importArchive({ archive })
          importMs.push(performance.now() - t0)
          await imports.idle()
          runnableMs.push(performance.now() - t0)
          const build = await imports.build(projectId)
          if (build.status !== 'passed') throw new Error(`the ${kind} check build failed:\n${build.log}`)
          const [current] = await imports.versions(projectId)
          importedDir = (await imports.filesOf({ currentVersionId: current!.id }))!
        }
        rows.push({
          case: `import → runnable (${kind}: make)`,
          'median ms': round(median(runnableMs)),
          'of which import ms': round(median(importMs)),
        })
      }

      // open → prompt, imported version folder vs bundled folder (same files)
      const bundled: ProjectSpec = { slug: 'calc', sourceDir: CALC, policy: calcJson.policy }
      const imported: ProjectSpec = { slug: 'calc', sourceDir: importedDir, policy: calcJson.policy }
      // why: a fresh runner, so the pools of the projects the builds above opened do not count
      const openers: Record<string, Runner> = {
        docker: new DockerRunner({ poolSize: 2, runtime: testConfig().sandboxRuntime }),
        wasi,
      }
      for (const [kind, runner] of Object.entries(openers)) {
        const times = { bundled: [] as number[], imported: [] as number[] }
        const opened = new Set<string>()
        for (let i = 0; i < SAMPLES; i++) {
          for (const which of (i % 2 ? ['imported', 'bundled'] : ['bundled', 'imported']) as (
            | 'bundled'
            | 'imported'
          )[]) {
            // the image's pool, and each project's own pooled container once it has been opened
            if (runner instanceof DockerRunner) await poolFull(runner, 2 + opened.size)
            opened.add(which)
            times[which].push(await openToPrompt(runner, which === 'bundled' ? bundled : imported))
          }
        }
        const b = median(times.bundled)
        const m = median(times.imported)
        rows.push({
          case: `open → prompt (${kind}${kind === 'docker' ? ', warm pool' : ''}): bundled`,
          'median ms': round(b),
          'first open ms': round(times.bundled[0] ?? Number.NaN),
        })
        rows.push({
          case: `open → prompt (${kind}${kind === 'docker' ? ', warm pool' : ''}): imported`,
          'median ms': round(m),
          'first open ms': round(times.imported[0] ?? Number.NaN),
          'imported / bundled': round(m / b, 2),
        })
        if (runner !== wasi) await runner.close()
      }
    } finally {
      await docker.close()
      await wasi.close()
      await backend.close()
      rmSync(dir, { recursive: true, force: true })
    }
    console.log(table(rows, ['case', 'median ms', 'first open ms', 'of which import ms', 'imported / bundled']))
    console.log('target: open → prompt of an imported project within 1.2× of a bundled one (warm pool)')
    const out = writeResults('projects', { started, loadStart, loadEnd: loadavg() }, { samples: SAMPLES, rows })
    console.log(`wrote ${out}`)
  },
  60 * 60_000,
)
