/**
 * The runner contract (runner/src/contract.ts) on an imported project, on both runners: the selftest
 * fixture goes through the owner's path (an archive, POST-equivalent import, files in the media
 * store by hash, laid out on this host), and every contract case runs on what came out of it.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import type { ProjectSpec } from '@shellfolio/runner'
import { runRunnerContract } from '@shellfolio/runner/contract'
import { DockerRunner } from '@shellfolio/runner/docker'
import { createWasiRunner } from '@shellfolio/runner/wasi'
import { tgz } from '../../test/archives.ts'
import { openBackend, testConfig } from '../../test/harness.ts'
import { REPO_ROOT } from '../config.ts'
import { createReadCache } from '../lib/read-cache.ts'
import { createFilesystemStorage } from '../media/storage.ts'
import { createProjectImports } from './import.ts'

/** runner/fixtures/selftest as an owner would upload it: a .tar.gz of the folder. */
function selftestArchive(): Uint8Array {
  const root = join(REPO_ROOT, 'runner/fixtures/selftest')
  const entries: { name: string; body: Uint8Array }[] = []
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) walk(path)
      else entries.push({ name: relative(root, path), body: readFileSync(path) })
    }
  }
  walk(root)
  return tgz(entries)
}

/** Imports the fixture (the check build is not awaited here: the contract is what is tested). */
async function importedSelftest(): Promise<ProjectSpec> {
  const backend = await openBackend('embedded')
  const dir = mkdtempSync(join(tmpdir(), 'sf-imported-contract-'))
  const storage = createFilesystemStorage(join(dir, 'media'))
  const imports = createProjectImports({
    db: backend.database.db,
    storage,
    reads: createReadCache({ cache: backend.cache, namespace: 'projects' }),
    filesDir: join(dir, 'files'),
    runner: () => undefined,
    uploadLimit: 50 * 1024 * 1024,
    buildTimeoutMs: 60_000,
  })
  const archive = selftestArchive()
  const { projectId, version } = await imports.importArchive({
    archive: new Blob([archive as Uint8Array<ArrayBuffer>]),
  })
  await imports.idle()
  const [row] = await imports.versions(projectId)
  if (!row || row.id !== version.id) throw new Error('the imported selftest version is missing')
  // No runner was offered to the check build, so lay the version out as a session would get it.
  const sourceDir = await imports.filesOf({ currentVersionId: version.id })
  if (!sourceDir) throw new Error('the imported selftest has no files')
  const manifest = JSON.parse(readFileSync(join(sourceDir, 'project.json'), 'utf8'))
  await backend.close()
  return { slug: manifest.slug, sourceDir, policy: manifest.policy, runtime: 'c' }
}

const project = await importedSelftest()

runRunnerContract({
  name: 'wasi (imported project)',
  create: async () => createWasiRunner(),
  project,
  timeoutMs: 90_000,
})

runRunnerContract({
  name: 'docker (imported project)',
  create: async () => {
    const runner = new DockerRunner({ poolSize: 2, runtime: testConfig().sandboxRuntime })
    const reason = await runner.unavailableReason()
    if (reason) {
      await runner.close()
      throw new Error(`the docker half of this suite needs a Docker engine and the sandbox image: ${reason}`)
    }
    return runner
  },
  project,
})
