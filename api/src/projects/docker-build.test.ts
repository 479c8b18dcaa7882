/**
 * Check builds and sessions of imported projects on the Docker runner (docs/projects.md): a Python
 * and a Go project build in their toolchain images, a build that never ends is stopped at its
 * limit, and a visitor's session holds its own project's files only. Fails loudly without Docker
 * or the toolchain images (`bun run runner/image/build.ts --runtime c,python,go`).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { track } from '@shellfolio/runner/contract'
import { DockerRunner } from '@shellfolio/runner/docker'
import { projectTgz } from '../../test/archives.ts'
import { type Backend, openBackend, testConfig } from '../../test/harness.ts'
import { createReadCache } from '../lib/read-cache.ts'
import { createFilesystemStorage } from '../media/storage.ts'
import { terminalProjects } from '../terminal/projects.ts'
import { createProjectImports, type ProjectImports } from './import.ts'
import { createProjectsService } from './service.ts'

const python = projectTgz(
  {
    slug: 'py-hello',
    title: 'Python hello',
    runtime: 'python',
    runners: ['docker'],
    build: 'python3 -m py_compile hello.py',
    commands: ['python3 hello.py'],
    policy: { allow: ['ls', 'cd', 'cat', 'python3'] },
  },
  { 'hello.py': 'import sys\nprint("hello from python", sys.version_info[0])\n' },
)
const go = projectTgz(
  {
    slug: 'go-hello',
    title: 'Go hello',
    runtime: 'go',
    runners: ['docker'],
    build: 'go build -o hello .',
    commands: ['./hello'],
    policy: { allow: ['ls', './*', 'go'] },
  },
  {
    'go.mod': 'module example.com/hello\n\ngo 1.19\n',
    'main.go': 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello from go") }\n',
  },
)

describe('imported projects on the docker runner', () => {
  let backend: Backend
  let docker: DockerRunner
  let imports: ProjectImports
  const dir = mkdtempSync(join(tmpdir(), 'sf-docker-build-'))
  const storage = createFilesystemStorage(join(dir, 'media'))
  const importer = (buildTimeoutMs: number) =>
    createProjectImports({
      db: backend.database.db,
      storage,
      reads: createReadCache({ cache: backend.cache, namespace: 'projects' }),
      filesDir: join(dir, 'files'),
      runner: (k) => (k === 'docker' ? docker : undefined),
      uploadLimit: 50 * 1024 * 1024,
      buildTimeoutMs,
    })
  const importAndBuild = async (bytes: Uint8Array, using = imports) => {
    const { projectId } = await using.importArchive({ archive: new Blob([bytes as Uint8Array<ArrayBuffer>]) })
    await using.idle()
    return { projectId, build: await using.build(projectId) }
  }

  beforeAll(async () => {
    backend = await openBackend('embedded')
    docker = new DockerRunner({ poolSize: 0, runtime: testConfig().sandboxRuntime })
    const reason = await docker.unavailableReason()
    if (reason) throw new Error(`this suite needs a Docker engine and the sandbox image: ${reason}`)
    for (const runtime of ['python', 'go'] as const) {
      const image = docker.imageFor(runtime)
      await docker.docker
        .getImage(image)
        .inspect()
        .catch(() => {
          throw new Error(
            `the ${runtime} toolchain image ${image} is missing: bun run runner/image/build.ts --runtime ${runtime}`,
          )
        })
    }
    imports = importer(180_000)
  }, 60_000)
  afterAll(async () => {
    await docker?.close()
    await backend?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  test('a Python project builds and runs in the python image, with its own files only', async () => {
    const { projectId, build } = await importAndBuild(python)
    expect(build).toMatchObject({ status: 'passed', runner: 'docker' })
    expect(build.log).toContain('$ cd ~/projects/py-hello && python3 -m py_compile hello.py')
    await imports.publish(projectId)
    const projects = createProjectsService({
      db: backend.database.db,
      reads: createReadCache({ cache: backend.cache, namespace: 'projects' }),
      flags: { isEnabled: async () => true },
      runnerAvailability: async () => ({ docker: true, wasi: false }),
    })
    const project = await terminalProjects(projects, imports)('py-hello')
    expect(project?.runtime).toBe('python')
    const session = await docker.open({ project: project!, size: { cols: 100, rows: 30 } })
    const t = track(session)
    try {
      await t.waitFor(/\$ $/, 30_000)
      session.write('python3 hello.py && ls ~/projects\r')
      await t.waitFor(/hello from python 3\r?\n(?:\S+\s+)*py-hello\r?\n/, 30_000)
      // the session holds its own project and no other (the image has none baked in)
      expect(t.text).not.toContain('go-hello')
      expect(t.text).not.toContain('minirt')
    } finally {
      t.stop()
      await session.kill()
    }
  }, 240_000)

  test('a Go project builds with the go image offline', async () => {
    const { build } = await importAndBuild(go)
    expect(build.status).toBe('passed')
    expect(build.log).toContain('go build -o hello .')
  }, 300_000)

  test('a build that never ends is stopped at its time limit and fails', async () => {
    const spin = projectTgz({ slug: 'sleeps', title: 'Sleeps', runners: ['docker'], build: 'sleep 600' })
    const { build } = await importAndBuild(spin, importer(3_000))
    expect(build.status).toBe('failed')
    expect(build.log).toContain('stopped at the time limit of 3 s')
  }, 120_000)
})
