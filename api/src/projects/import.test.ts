/**
 * Importing projects as an owner does (docs/projects.md): archive safety, versions, rollback, draft
 * and publish, on both database backends, with real check builds in the WASI runner.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Runner } from '@shellfolio/runner'
import { createWasiRunner } from '@shellfolio/runner/wasi'
import { eq } from 'drizzle-orm'
import { projectTgz, tgz, zeroBombTgz, zip } from '../../test/archives.ts'
import { adminHeaders, contentDeps } from '../../test/content.ts'
import { BACKENDS, type Backend, openBackend, req } from '../../test/harness.ts'
import { type AppDeps, createApp } from '../app.ts'
import { REPO_ROOT } from '../config.ts'
import { projectVersions } from '../db/schema/index.ts'
import { createReadCache } from '../lib/read-cache.ts'
import { createFilesystemStorage } from '../media/storage.ts'
import type { ProblemReport } from '../problems/service.ts'
import { seedContent } from '../seed.ts'
import { terminalProjects } from '../terminal/projects.ts'
import { createProjectImports, type ProjectImports } from './import.ts'
import { createProjectsService } from './service.ts'

type Json = { data: any; error: any }
const json = async (res: Response) => (await res.json()) as Json

const manifest = (over: Record<string, unknown> = {}) => ({
  slug: 'hello-c',
  title: 'Hello',
  summary: 'says hello',
  runtime: 'c',
  runners: ['wasi'],
  commands: ['cat hello.txt'],
  policy: { allow: ['ls', 'cat', 'cd', 'make', './*'] },
  ...over,
})

describe.each(BACKENDS)('project import on %s', (kind) => {
  let backend: Backend
  let deps: AppDeps
  let app: ReturnType<typeof createApp>
  let admin: { authorization: string }
  let imports: ProjectImports
  let wasi: Runner
  /** What the check builds reported to the Problems list. */
  const reported: ProblemReport[] = []
  const dir = mkdtempSync(join(tmpdir(), 'sf-import-'))
  const mediaDir = join(dir, 'media')
  const storage = createFilesystemStorage(mediaDir)

  const upload = (bytes: Uint8Array, name = 'project.tgz', extra: Record<string, string> = {}, to = app) => {
    const form = new FormData()
    form.append('archive', new File([bytes as Uint8Array<ArrayBuffer>], name))
    for (const [k, v] of Object.entries(extra)) form.append(k, v)
    return to.handle(req('/api/v1/projects/import', { method: 'POST', body: form, headers: admin }))
  }
  const get = async (path: string) => json(await app.handle(req(path, { headers: admin })))
  const post = (path: string) => app.handle(req(path, { method: 'POST', headers: admin }))
  /** Waits for the latest build of a project to finish (what the admin page polls). */
  const finished = async (id: string) => {
    await imports.idle()
    const build = (await get(`/api/v1/projects/${id}/build`)).data
    expect(['passed', 'failed']).toContain(build.status)
    return build
  }
  const blobs = () =>
    existsSync(join(mediaDir, 'projects/blobs')) ? readdirSync(join(mediaDir, 'projects/blobs')) : []
  /** The public page's title once it equals `title` (other instances' caches drop their copy over pub/sub). */
  const publicTitle = async (title: string) => {
    const deadline = Date.now() + 10_000
    let seen = ''
    while (Date.now() < deadline) {
      seen = (await json(await app.handle(req('/api/v1/projects/hello-c')))).data?.title
      if (seen === title) break
      await Bun.sleep(50)
    }
    return seen
  }
  const projectCount = async () => (await get('/api/v1/projects?include=deleted')).data.length

  beforeAll(async () => {
    backend = await openBackend(kind)
    wasi = createWasiRunner({ prewarmCompiler: false })
    deps = { ...contentDeps(backend, { PROJECT_BUILD_TIMEOUT_MS: '20000' }), mediaStorage: storage }
    imports = createProjectImports({
      db: backend.database.db,
      storage,
      reads: createReadCache({ cache: backend.cache, namespace: 'projects' }),
      filesDir: join(dir, 'files'),
      runner: (k) => (k === 'wasi' ? wasi : undefined),
      uploadLimit: deps.config.projectUploadLimit,
      buildTimeoutMs: 20_000,
      problems: { report: (p) => reported.push(p) },
    })
    app = createApp({
      ...deps,
      projectImports: imports,
      runnerAvailability: async () => ({ docker: false, wasi: true }),
    })
    admin = await adminHeaders(deps)
  }, 60_000)
  afterAll(async () => {
    await imports?.idle()
    await wasi?.close()
    await backend?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  describe('a refused archive is a clear 400 naming the entry, and nothing is written', () => {
    const cases: [string, () => Uint8Array | Promise<Uint8Array>, number, string, string | undefined][] = [
      [
        'an entry escaping with ../',
        () =>
          tgz([
            { name: 'project.json', body: '{}' },
            { name: '../evil.sh', body: 'x' },
          ]),
        400,
        'ARCHIVE_UNSAFE_ENTRY',
        '../evil.sh',
      ],
      [
        'an absolute path',
        () => tgz([{ name: '/etc/cron.d/evil', body: 'x' }]),
        400,
        'ARCHIVE_UNSAFE_ENTRY',
        '/etc/cron.d/evil',
      ],
      [
        'a symlink out of the project',
        () => tgz([{ name: 'passwd', type: '2', linkname: '../../etc/passwd' }]),
        400,
        'ARCHIVE_UNSAFE_ENTRY',
        'passwd',
      ],
      [
        'a symlink to an absolute path',
        () => tgz([{ name: 'root', type: '2', linkname: '/' }]),
        400,
        'ARCHIVE_UNSAFE_ENTRY',
        'root',
      ],
      [
        'a hard link out of the project',
        () => tgz([{ name: 'shadow', type: '1', linkname: '../etc/shadow' }]),
        400,
        'ARCHIVE_UNSAFE_ENTRY',
        '../etc/shadow',
      ],
      [
        'a file under a symlinked folder',
        () =>
          tgz([
            { name: 'd', type: '2', linkname: '.' },
            { name: 'd/x', body: 'x' },
          ]),
        400,
        'ARCHIVE_UNSAFE_ENTRY',
        'd/x',
      ],
      ['a character device', () => tgz([{ name: 'null', type: '3' }]), 400, 'ARCHIVE_UNSAFE_ENTRY', 'null'],
      ['a FIFO', () => tgz([{ name: 'pipe', type: '6' }]), 400, 'ARCHIVE_UNSAFE_ENTRY', 'pipe'],
      [
        'a zip entry escaping with ../',
        () => zip([{ name: '../../x', body: 'x' }]),
        400,
        'ARCHIVE_UNSAFE_ENTRY',
        '../../x',
      ],
      [
        'a zip symlink out of the project',
        () => zip([{ name: 'l', body: '/etc/passwd', unixMode: 0o120777 }]),
        400,
        'ARCHIVE_UNSAFE_ENTRY',
        'l',
      ],
      ['a zip device', () => zip([{ name: 'dev', unixMode: 0o020644 }]), 400, 'ARCHIVE_UNSAFE_ENTRY', 'dev'],
      [
        'a zip entry inflating past its header (bomb)',
        () => zip([{ name: 'bomb', body: new Uint8Array(4 << 20), deflate: true, declaredSize: 1000 }]),
        400,
        'ARCHIVE_TOO_LARGE',
        'bomb',
      ],
      [
        'more than 5000 entries',
        () => tgz(Array.from({ length: 5001 }, (_, i) => ({ name: `f${i}`, body: '' }))),
        400,
        'ARCHIVE_TOO_MANY_ENTRIES',
        undefined,
      ],
      ['more than 200 MiB unpacked', () => zeroBombTgz(4, 60 * 1024 * 1024), 400, 'ARCHIVE_TOO_LARGE', undefined],
      [
        'something that is not an archive',
        () => new TextEncoder().encode('just text, not a tarball'),
        400,
        'ARCHIVE_INVALID',
        undefined,
      ],
    ]
    test.each(cases)(
      '%s',
      async (_name, make, status, code, entry) => {
        const before = { blobs: blobs().length, projects: await projectCount() }
        const res = await upload(await make())
        const body = await json(res)
        expect({ status: res.status, code: body.error?.code }).toEqual({ status, code })
        if (entry !== undefined) {
          expect(body.error.details).toEqual({ entry })
          expect(body.error.message).toContain(entry)
        }
        expect({ blobs: blobs().length, projects: await projectCount() }).toEqual(before)
      },
      60_000,
    )
  })

  test('project.json missing, invalid, or with an unknown runtime: 400 naming the field', async () => {
    const expectField = async (bytes: Uint8Array, code: string, path: string, says: string) => {
      const body = await json(await upload(bytes))
      expect(body.error.code).toBe(code)
      expect(body.error.details[0].path).toBe(path)
      expect(body.error.message).toContain(says)
    }
    await expectField(tgz([{ name: 'README.md', body: 'hi' }]), 'MANIFEST_MISSING', '/', 'no project.json')
    await expectField(tgz([{ name: 'project.json', body: '{"slug":' }]), 'MANIFEST_INVALID', '/', 'not valid JSON')
    await expectField(projectTgz(manifest({ title: undefined })), 'MANIFEST_INVALID', '/title', "'title' is required")
    await expectField(projectTgz(manifest({ slug: 'Bad Slug' })), 'MANIFEST_INVALID', '/slug', 'slug')
    await expectField(projectTgz(manifest({ policy: { allow: 'ls' } })), 'MANIFEST_INVALID', '/policy/allow', 'array')
    await expectField(
      projectTgz(manifest({ runtime: 'cobol' })),
      'UNKNOWN_RUNTIME',
      '/runtime',
      'known runtimes: c, python, node, go, rust',
    )
    await expectField(
      projectTgz(manifest({ runtime: 'rust', runners: ['wasi'] })),
      'MANIFEST_INVALID',
      '/runners',
      'prebuilt',
    )
  })

  test('an archive over PROJECT_UPLOAD_LIMIT is a 413', async () => {
    const small = createApp({ ...contentDeps(backend, { PROJECT_UPLOAD_LIMIT: '2048' }), mediaStorage: storage })
    const big = crypto.getRandomValues(new Uint8Array(8192))
    const res = await upload(
      projectTgz(manifest(), { 'noise.bin': Buffer.from(big).toString('base64') }),
      'p.tgz',
      {},
      small,
    )
    expect({ status: res.status, code: (await json(res)).error.code }).toEqual({
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
    })
  })

  test('import → draft → build passes → publish; a later failed import leaves the published version serving; rollback', async () => {
    const files = { 'hello.txt': 'hello from version 1\n', 'bin/run.sh': 'echo run\n' }
    const res = await upload(projectTgz(manifest({ build: 'cat hello.txt' }), files))
    const first = await json(res)
    expect(res.status).toBe(201)
    expect(first.data.project).toMatchObject({ slug: 'hello-c', status: 'draft', runtime: 'c', title: 'Hello' })
    expect(first.data.version).toMatchObject({ number: 1, files: 3, current: false })
    expect(['queued', 'running']).toContain(first.data.build.status)
    const id = first.data.project.id
    // A draft is neither listed nor reachable by visitors.
    const publicSlugs = async () => (await json(await app.handle(req('/api/v1/projects')))).data.map((p: any) => p.slug)
    expect(await publicSlugs()).not.toContain('hello-c')
    expect((await app.handle(req('/api/v1/projects/hello-c'))).status).toBe(404)

    const build1 = await finished(id)
    expect(build1).toMatchObject({ status: 'passed', runner: 'wasi', version: 1 })
    expect(build1.log).toContain('hello from version 1')
    expect(build1.startedAt).not.toBeNull()
    expect(build1.finishedAt).not.toBeNull()

    const published = await json(await post(`/api/v1/projects/${id}/publish`))
    expect(published.data.status).toBe('published')
    expect(await publicSlugs()).toContain('hello-c')

    // Sessions get the current version's files from the media store.
    const projects = createProjectsService({
      db: backend.database.db,
      reads: createReadCache({ cache: backend.cache, namespace: 'projects' }),
      flags: { isEnabled: async () => true },
      runnerAvailability: async () => ({ docker: false, wasi: true }),
    })
    const resolve = terminalProjects(projects, imports)
    const v1 = await resolve('hello-c')
    expect(v1).toMatchObject({ slug: 'hello-c', runtime: 'c', runners: ['wasi'] })
    expect(readFileSync(join(v1!.sourceDir, 'hello.txt'), 'utf8')).toBe('hello from version 1\n')

    // Version 2 fails its build: visitors keep version 1, its title and its files.
    const second = await json(
      await upload(projectTgz(manifest({ title: 'Broken', build: 'cat missing.txt' }), { 'hello.txt': 'v2\n' })),
    )
    expect(second.data.version.number).toBe(2)
    expect(second.data.project.id).toBe(id)
    const build2 = await finished(id)
    expect(build2).toMatchObject({ status: 'failed', version: 2 })
    expect(build2.log).toContain('exited with status 1')
    expect((await json(await app.handle(req('/api/v1/projects/hello-c')))).data.title).toBe('Hello')
    expect(readFileSync(join((await resolve('hello-c'))!.sourceDir, 'hello.txt'), 'utf8')).toBe(
      'hello from version 1\n',
    )

    // Version 3 passes: it becomes current, with its title.
    await upload(projectTgz(manifest({ title: 'Hello v3', build: 'cat hello.txt' }), { 'hello.txt': 'v3\n' }))
    expect((await finished(id)).status).toBe('passed')
    expect(await publicTitle('Hello v3')).toBe('Hello v3')

    const versions = (await get(`/api/v1/projects/${id}/versions`)).data
    expect(versions.map((v: any) => [v.number, v.build.status, v.current])).toEqual([
      [3, 'passed', true],
      [2, 'failed', false],
      [1, 'passed', false],
    ])
    // Roll back to 1; a failed version cannot be made current.
    const v1id = versions[2].id
    const rolled = await post(`/api/v1/projects/${id}/versions/${v1id}/activate`)
    expect(rolled.status).toBe(200)
    expect(await publicTitle('Hello')).toBe('Hello')
    expect(readFileSync(join((await resolve('hello-c'))!.sourceDir, 'hello.txt'), 'utf8')).toBe(
      'hello from version 1\n',
    )
    const refused = await post(`/api/v1/projects/${id}/versions/${versions[1].id}/activate`)
    expect({ status: refused.status, code: (await json(refused)).error.code }).toEqual({
      status: 409,
      code: 'BUILD_NOT_PASSED',
    })

    // Unpublish: gone for visitors again.
    await post(`/api/v1/projects/${id}/unpublish`)
    expect(await publicSlugs()).not.toContain('hello-c')
    expect(await resolve('hello-c')).toBeNull()
  }, 180_000)

  test('a project whose build failed cannot be published; a build running forever is stopped at the limit', async () => {
    const failing = await json(await upload(projectTgz(manifest({ slug: 'never-builds', build: 'cat nope' }))))
    const id = failing.data.project.id
    expect((await finished(id)).status).toBe('failed')
    // The admin hears about it: one Problems report for this project (docs/faults.md).
    expect(reported.filter((p) => p.route === 'projects:never-builds')).toEqual([
      expect.objectContaining({ code: 'CHECK_BUILD_FAILED', frame: '', message: expect.stringContaining('version 1') }),
    ])
    const res = await post(`/api/v1/projects/${id}/publish`)
    const body = await json(res)
    expect({ status: res.status, code: body.error.code }).toEqual({ status: 409, code: 'BUILD_NOT_PASSED' })
    expect(body.error.message).toContain('failed')

    const forever = createProjectImports({
      db: backend.database.db,
      storage,
      reads: { invalidate: async () => {} },
      filesDir: join(dir, 'files'),
      runner: (k) => (k === 'wasi' ? wasi : undefined),
      uploadLimit: deps.config.projectUploadLimit,
      buildTimeoutMs: 4_000,
    })
    const spin = 'int main(void) { volatile unsigned long n = 0; for (;;) n++; }\n'
    const archive = projectTgz(manifest({ slug: 'spins', build: 'make spin && ./spin' }), {
      Makefile: 'spin: spin.c\n\tcc -O0 -o spin spin.c\n',
      'spin.c': spin,
    })
    const imported = await forever.importArchive({ archive: new Blob([archive as Uint8Array<ArrayBuffer>]) })
    await forever.idle()
    const build = await forever.build(imported.projectId)
    expect(build.status).toBe('failed')
    expect(build.log).toContain('stopped at the time limit of 4 s')
  }, 180_000)

  test('a build left running by an instance that stopped is reported failed, not running forever', async () => {
    const res = await json(await upload(projectTgz(manifest({ slug: 'orphaned' }))))
    const id = res.data.project.id
    await finished(id)
    // As if the instance died mid-build long ago: running, started well past every time limit.
    await backend.database.db
      .update(projectVersions)
      .set({ buildStatus: 'running', buildStartedAt: new Date(Date.now() - 60 * 60_000), buildFinishedAt: null })
      .where(eq(projectVersions.projectId, id))
    const build = (await get(`/api/v1/projects/${id}/build`)).data
    expect(build.status).toBe('failed')
    expect(build.log).toContain('interrupted')
    expect(reported.filter((p) => p.route === 'projects:orphaned').map((p) => p.message)).toEqual([
      'version 1: interrupted (the instance running it stopped)',
    ])
  })

  test('the same slug as a project not imported (files under wasm-projects/) is a 409', async () => {
    const created = await app.handle(
      req('/api/v1/projects', {
        method: 'POST',
        headers: admin,
        json: { slug: 'handmade', title: 'Handmade', sourcePath: 'calc' },
      }),
    )
    expect(created.status).toBe(201)
    const res = await upload(projectTgz(manifest({ slug: 'handmade' })))
    expect({ status: res.status, code: (await json(res)).error.code }).toEqual({ status: 409, code: 'SLUG_TAKEN' })
  })

  test('the bundled projects are imported once at first start, published, with their files in the media store', async () => {
    const seed = () =>
      seedContent({
        db: backend.database.db,
        cache: backend.cache,
        config: { ...deps.config, adminEmail: 'content-admin@shellfolio.test' },
        projectFiles: { storage, filesDir: join(dir, 'files') },
      })
    const first = await seed()
    expect(first.projects.sort()).toEqual(['calc', 'life', 'minirt'])
    expect((await seed()).projects).toEqual([])
    const all = (await get('/api/v1/projects?include=deleted')).data
    const calc = all.find((p: any) => p.slug === 'calc')
    expect(calc).toMatchObject({ status: 'published', sourcePath: 'calc', runtime: 'c' })
    expect(calc.currentVersionId).toBeString()
    const versions = (await get(`/api/v1/projects/${calc.id}/versions`)).data
    expect(versions.map((v: any) => [v.number, v.build.status, v.current])).toEqual([[1, 'passed', true]])
    const projects = createProjectsService({
      db: backend.database.db,
      reads: createReadCache({ cache: backend.cache, namespace: 'projects' }),
      flags: { isEnabled: async () => true },
      runnerAvailability: async () => ({ docker: false, wasi: true }),
    })
    const resolved = await terminalProjects(projects, imports)('calc')
    expect(resolved!.sourceDir.startsWith(join(dir, 'files'))).toBe(true)
    expect(readFileSync(join(resolved!.sourceDir, 'src/main.c'), 'utf8')).toBe(
      readFileSync(join(REPO_ROOT, 'wasm-projects/calc/src/main.c'), 'utf8'),
    )
    expect(existsSync(join(resolved!.sourceDir, 'prebuilt/calc.wasm'))).toBe(true)
    // The public list never shows the runner's fixture.
    const publicSlugs = (await json(await app.handle(req('/api/v1/projects')))).data.map((p: any) => p.slug)
    expect(publicSlugs).not.toContain('selftest')
  }, 60_000)

  test('a zip with a wrapping folder imports like a tarball; only the admin may import', async () => {
    const bytes = zip([
      { name: 'wrapped/', unixMode: 0o040755 },
      { name: 'wrapped/project.json', body: JSON.stringify(manifest({ slug: 'zipped' })), deflate: true },
      { name: 'wrapped/notes.txt', body: 'zipped notes\n' },
      { name: 'wrapped/link.txt', body: 'notes.txt', unixMode: 0o120777 },
    ])
    const res = await upload(bytes, 'p.zip')
    const body = await json(res)
    expect(res.status).toBe(201)
    expect(body.data.version.files).toBe(2)
    expect((await finished(body.data.project.id)).log).toContain('notes.txt')
    const form = new FormData()
    form.append('archive', new File([bytes as Uint8Array<ArrayBuffer>], 'p.zip'))
    const anon = await app.handle(req('/api/v1/projects/import', { method: 'POST', body: form }))
    expect(anon.status).toBe(401)
  }, 60_000)
})
