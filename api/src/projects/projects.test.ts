import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { adminHeaders, contentDeps } from '../../test/content.ts'
import { BACKENDS, type Backend, openBackend, req } from '../../test/harness.ts'
import { type AppDeps, createApp } from '../app.ts'
import { REPO_ROOT } from '../config.ts'
import { createFlagsService, type FlagsService } from '../flags/service.ts'
import { seedContent } from '../seed.ts'

type Json = { data: any; meta: unknown; error: any }
const json = async (res: Response) => (await res.json()) as Json

describe.each(BACKENDS)('projects on %s', (kind) => {
  let backend: Backend
  let deps: AppDeps
  let app: ReturnType<typeof createApp>
  let admin: { authorization: string }
  let flags: FlagsService
  let availability = { docker: true, wasi: true }

  beforeAll(async () => {
    backend = await openBackend(kind)
    deps = { ...contentDeps(backend), runnerAvailability: async () => availability }
    app = createApp(deps)
    admin = await adminHeaders(deps)
    flags = createFlagsService({ db: backend.database.db, cache: backend.cache, environment: 'test' })
    const seeded = await seedContent({
      db: backend.database.db,
      cache: backend.cache,
      config: { ...deps.config, adminEmail: 'content-admin@shellfolio.test' },
    })
    expect(seeded.projects.sort()).toEqual(['calc', 'life', 'minirt'])
    expect(seeded.flags.sort()).toEqual(['terminal.docker', 'terminal.enabled', 'terminal.wasi'])
    expect(seeded.posts.length).toBe(2)
  }, 60_000)
  afterAll(async () => {
    await flags.close()
    await backend.close()
  })

  test('the public list holds the seeded projects in display order with what the terminal needs', async () => {
    const res = await app.handle(req('/api/v1/projects'))
    const body = await json(res)
    expect({ status: res.status, meta: body.meta, error: body.error }).toEqual({ status: 200, meta: null, error: null })
    const slugs = body.data.map((p: { slug: string }) => p.slug)
    expect(slugs.slice(0, 3)).toEqual(['minirt', 'calc', 'life'])
    const minirt = body.data[0]
    const manifest = await Bun.file(join(REPO_ROOT, 'wasm-projects/minirt/project.json')).json()
    expect(minirt).toMatchObject({
      slug: 'minirt',
      title: manifest.title,
      summary: manifest.summary,
      stack: manifest.stack,
      sourcePath: 'minirt',
      binary: manifest.binary,
      runners: manifest.runners,
      commands: manifest.commands,
      policy: manifest.policy,
      featured: true,
      order: 1,
      availableRunners: ['docker', 'wasi'],
    })
    const page = await json(await app.handle(req('/api/v1/projects/calc')))
    expect(page.data).toEqual(body.data[1])
    const missing = await app.handle(req('/api/v1/projects/nope'))
    expect({ status: missing.status, code: (await json(missing)).error.code }).toEqual({
      status: 404,
      code: 'PROJECT_NOT_FOUND',
    })
  })

  test('availableRunners = the project runners ∩ runners that are up ∩ the feature flags', async () => {
    const runnersOf = async () => (await json(await app.handle(req('/api/v1/projects/life')))).data.availableRunners
    availability = { docker: false, wasi: true }
    expect(await runnersOf()).toEqual(['wasi'])
    availability = { docker: true, wasi: true }
    await flags.put('terminal.docker', { killSwitch: true }, null)
    await waitForFlag(app, 'terminal.docker', false)
    expect(await runnersOf()).toEqual(['wasi'])
    await flags.put('terminal.enabled', { enabled: false }, null)
    await waitForFlag(app, 'terminal.enabled', false)
    expect(await runnersOf()).toEqual([])
    await flags.put('terminal.enabled', { enabled: true }, null)
    await flags.put('terminal.docker', { killSwitch: false }, null)
    await waitForFlag(app, 'terminal.enabled', true)
    await waitForFlag(app, 'terminal.docker', true)
    expect(await runnersOf()).toEqual(['docker', 'wasi'])
    // A project that only declares wasi never offers docker.
    const created = await json(
      await app.handle(
        req('/api/v1/projects', {
          method: 'POST',
          headers: admin,
          json: { slug: 'wasi-only', title: 'W', sourcePath: 'calc', runners: ['wasi'] },
        }),
      ),
    )
    expect(created.data.runners).toEqual(['wasi'])
    expect((await json(await app.handle(req('/api/v1/projects/wasi-only')))).data.availableRunners).toEqual(['wasi'])
    // A probe that throws counts as nothing available.
    const failing = createApp({
      ...contentDeps(backend),
      runnerAvailability: async () => {
        throw new Error('docker socket gone')
      },
    })
    expect((await json(await failing.handle(req('/api/v1/projects/life')))).data.availableRunners).toEqual([])
  })

  test('reseeding never clobbers admin edits and never resurrects a deleted project', async () => {
    const list = (await json(await app.handle(req('/api/v1/projects')))).data
    const calc = list.find((p: { slug: string }) => p.slug === 'calc')
    const life = list.find((p: { slug: string }) => p.slug === 'life')
    const edited = await app.handle(
      req(`/api/v1/projects/${calc.id}`, { method: 'PATCH', headers: admin, json: { title: 'Calc (edited)' } }),
    )
    expect((await json(edited)).data.title).toBe('Calc (edited)')
    await app.handle(req(`/api/v1/projects/${life.id}`, { method: 'DELETE', headers: admin }))
    const again = await seedContent({ db: backend.database.db, cache: backend.cache, config: deps.config })
    expect(again).toEqual({ projects: [], flags: [], posts: [] })
    const after = (await json(await app.handle(req('/api/v1/projects')))).data
    expect(after.find((p: { slug: string }) => p.slug === 'calc').title).toBe('Calc (edited)')
    expect(after.map((p: { slug: string }) => p.slug)).not.toContain('life')
    // A new folder with a project.json is picked up; a broken one is skipped.
    const dir = mkdtempSync(join(tmpdir(), 'sf-projects-'))
    try {
      mkdirSync(join(dir, 'hello'))
      writeFileSync(
        join(dir, 'hello/project.json'),
        JSON.stringify({ slug: 'hello', title: 'Hello', runners: ['wasi', 'gpu'], policy: { allow: ['ls'] } }),
      )
      mkdirSync(join(dir, 'broken'))
      writeFileSync(join(dir, 'broken/project.json'), '{ not json')
      const seeded = await seedContent({
        db: backend.database.db,
        cache: backend.cache,
        config: deps.config,
        projectsDir: dir,
      })
      expect(seeded.projects).toEqual(['hello'])
      const hello = (await json(await app.handle(req('/api/v1/projects/hello')))).data
      expect(hello).toMatchObject({ sourcePath: 'hello', runners: ['wasi'], policy: { allow: ['ls'] } })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    // Restore brings the deleted one back.
    const restored = await app.handle(req(`/api/v1/projects/${life.id}/restore`, { method: 'POST', headers: admin }))
    expect((await json(restored)).data.deletedAt).toBeNull()
  })

  test('admin CRUD: create 201, slug conflict 409, patch, soft delete hides it everywhere public, restore', async () => {
    const body = {
      slug: `demo-${kind}`,
      title: 'Demo',
      summary: 's',
      description: 'd',
      stack: ['C'],
      repoUrl: 'https://github.com/example/demo',
      sourcePath: 'minirt',
      binary: 'miniRT',
      runners: ['docker'],
      commands: ['make'],
      policy: { allow: ['make', './*'] },
      featured: false,
      order: 50,
    }
    const res = await app.handle(req('/api/v1/projects', { method: 'POST', headers: admin, json: body }))
    const created = await json(res)
    expect(res.status).toBe(201)
    expect(created).toEqual({
      data: {
        ...body,
        id: expect.any(String),
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
        deletedAt: null,
        previewImage: null,
        demo: null,
        // a project created by hand: files under wasm-projects/, published, the C toolchain
        runtime: 'c',
        build: '',
        status: 'published',
        currentVersionId: null,
      },
      meta: null,
      error: null,
    })
    const dup = await app.handle(req('/api/v1/projects', { method: 'POST', headers: admin, json: body }))
    expect({ status: dup.status, code: (await json(dup)).error.code }).toEqual({ status: 409, code: 'SLUG_TAKEN' })

    // Warm the public caches, then change and delete: the public reads follow at once.
    await app.handle(req('/api/v1/projects'))
    await app.handle(req(`/api/v1/projects/${body.slug}`))
    const patched = await app.handle(
      req(`/api/v1/projects/${created.data.id}`, { method: 'PATCH', headers: admin, json: { title: 'Demo 2' } }),
    )
    expect((await json(patched)).data.title).toBe('Demo 2')
    expect((await json(await app.handle(req(`/api/v1/projects/${body.slug}`)))).data.title).toBe('Demo 2')

    const deleted = await app.handle(req(`/api/v1/projects/${created.data.id}`, { method: 'DELETE', headers: admin }))
    expect((await json(deleted)).data.deletedAt).toBeString()
    expect((await app.handle(req(`/api/v1/projects/${body.slug}`))).status).toBe(404)
    const list = (await json(await app.handle(req('/api/v1/projects')))).data
    expect(list.map((p: { slug: string }) => p.slug)).not.toContain(body.slug)
    const adminList = (await json(await app.handle(req('/api/v1/projects?include=deleted', { headers: admin })))).data
    expect(adminList.find((p: { id: string }) => p.id === created.data.id).deletedAt).toBeString()

    const restored = await app.handle(
      req(`/api/v1/projects/${created.data.id}/restore`, { method: 'POST', headers: admin }),
    )
    expect((await json(restored)).data.deletedAt).toBeNull()
    expect((await app.handle(req(`/api/v1/projects/${body.slug}`))).status).toBe(200)
  })

  test('invalid project bodies are 400 envelopes', async () => {
    for (const bad of [
      { slug: 'x', title: 'x', sourcePath: '../etc' },
      { slug: 'x', title: 'x', sourcePath: 'a/b' },
      { slug: 'x', title: 'x', sourcePath: 'ok', runners: ['gpu'] },
      { slug: 'x', title: 'x', sourcePath: 'ok', repoUrl: 'javascript:alert(1)' },
      { slug: 'X Y', title: 'x', sourcePath: 'ok' },
    ]) {
      const res = await app.handle(req('/api/v1/projects', { method: 'POST', headers: admin, json: bad }))
      expect({ bad, status: res.status, code: (await json(res)).error?.code }).toEqual({
        bad,
        status: 400,
        code: 'VALIDATION_FAILED',
      })
    }
  })

  test('admin routes refuse requests without a token', async () => {
    const id = '00000000-0000-4000-8000-000000000000'
    for (const [method, path, body] of [
      ['POST', '/api/v1/projects', { slug: 'x', title: 'x', sourcePath: 'x' }],
      ['PATCH', `/api/v1/projects/${id}`, { title: 'x' }],
      ['DELETE', `/api/v1/projects/${id}`, undefined],
      ['POST', `/api/v1/projects/${id}/restore`, undefined],
      ['GET', `/api/v1/projects/by-id/${id}`, undefined],
      ['GET', '/api/v1/projects?include=deleted', undefined],
    ] as const) {
      const res = await app.handle(req(path, { method, ...(body ? { json: body } : {}) }))
      const env = await json(res)
      expect({ path, method, status: res.status, data: env.data }).toEqual({ path, method, status: 401, data: null })
    }
  })

  test('ETag and 304 on the public list and page', async () => {
    const list = await app.handle(req('/api/v1/projects'))
    const etag = list.headers.get('etag')!
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/)
    expect((await app.handle(req('/api/v1/projects', { headers: { 'if-none-match': etag } }))).status).toBe(304)
    const page = await app.handle(req('/api/v1/projects/minirt'))
    const pageTag = page.headers.get('etag')!
    expect((await app.handle(req('/api/v1/projects/minirt', { headers: { 'if-none-match': pageTag } }))).status).toBe(
      304,
    )
    // Availability is part of the representation: when a runner goes down the ETag changes.
    availability = { docker: false, wasi: true }
    const changed = await app.handle(req('/api/v1/projects/minirt', { headers: { 'if-none-match': pageTag } }))
    expect(changed.status).toBe(200)
    availability = { docker: true, wasi: true }
  })

  test('an edit on one instance invalidates the project cache of another instance sharing the cache store', async () => {
    const peer = await backend.openPeerCache()
    const appA = createApp({ ...contentDeps(backend), cache: peer })
    const appB = createApp(contentDeps(backend))
    const minirt = (await json(await appA.handle(req('/api/v1/projects/minirt')))).data
    const channel = 'read:projects:invalidate'
    const seen: string[] = []
    let wake = () => {}
    const unsubscribe = await peer.subscribe(channel, (m) => {
      seen.push(m)
      wake()
    })
    const waitFor = (n: number) =>
      new Promise<void>((resolve) => {
        wake = () => seen.length >= n && resolve()
        wake()
      })
    await backend.cache.publish(channel, '0')
    await waitFor(1)
    await appB.handle(
      req(`/api/v1/projects/${minirt.id}`, { method: 'PATCH', headers: admin, json: { summary: 'changed on B' } }),
    )
    await waitFor(2)
    expect((await json(await appA.handle(req('/api/v1/projects/minirt')))).data.summary).toBe('changed on B')
    await unsubscribe()
  })

  test('the project routes are in the OpenAPI document', async () => {
    const spec = (await (await app.handle(req('/api/openapi.json'))).json()) as { paths: Record<string, any> }
    for (const path of [
      '/api/v1/projects',
      '/api/v1/projects/{slug}',
      '/api/v1/projects/{id}',
      '/api/v1/projects/{id}/restore',
    ]) {
      expect(spec.paths[path]).toBeDefined()
    }
    expect(spec.paths['/api/v1/projects'].post.requestBody).toBeDefined()
  })
})

/** Waits until the app's own flag snapshot shows `value` (other instances learn by pub/sub). */
async function waitForFlag(app: ReturnType<typeof createApp>, key: string, value: boolean) {
  for (let i = 0; i < 200; i++) {
    const body = (await (await app.handle(req('/api/v1/flags/evaluated'))).json()) as { data: Record<string, boolean> }
    if (body.data[key] === value) return
    await new Promise((r) => setImmediate(r))
  }
  throw new Error(`flag ${key} never became ${value}`)
}
