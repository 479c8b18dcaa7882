import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { adminHeaders, contentDeps } from '../../test/content.ts'
import { BACKENDS, type Backend, openBackend, req } from '../../test/harness.ts'
import { type AppDeps, createApp } from '../app.ts'
import { flagAudit } from '../db/schema/index.ts'
import { createFlagsService, DEFAULT_FLAGS, evaluateFlag, type FlagsService, rolloutBucket } from './service.ts'

type Json = { data: any; meta: unknown; error: any }
const json = async (res: Response) => (await res.json()) as Json

const SUBJECTS = Array.from({ length: 400 }, (_, i) => `visitor-${i}`)

describe('rollout buckets (pure)', () => {
  test('a subject always lands in the same bucket, buckets spread evenly', () => {
    expect(rolloutBucket('f', 'alice')).toBe(rolloutBucket('f', 'alice'))
    const counts = new Array(10).fill(0)
    for (const s of SUBJECTS) counts[Math.floor(rolloutBucket('spread', s) / 10)]++
    for (const c of counts) expect(c).toBeGreaterThan(15)
  })

  test('kill switch and disabled beat everything; no subject means only 100 % is on', () => {
    const base = {
      key: 'k',
      description: '',
      enabled: true,
      rolloutPercent: 100,
      killSwitch: false,
      defaultValue: true,
    }
    expect(evaluateFlag(base, 'a')).toBe(true)
    expect(evaluateFlag({ ...base, killSwitch: true }, 'a')).toBe(false)
    expect(evaluateFlag({ ...base, enabled: false }, 'a')).toBe(false)
    expect(evaluateFlag({ ...base, rolloutPercent: 50 })).toBe(false)
    expect(evaluateFlag({ ...base, rolloutPercent: 0 }, 'a')).toBe(false)
  })
})

describe.each(BACKENDS)('feature flags on %s', (kind) => {
  let backend: Backend
  let deps: AppDeps
  let app: ReturnType<typeof createApp>
  let admin: { authorization: string }
  let flags: FlagsService

  beforeAll(async () => {
    backend = await openBackend(kind)
    deps = contentDeps(backend)
    app = createApp(deps)
    admin = await adminHeaders(deps)
    flags = createFlagsService({ db: backend.database.db, cache: backend.cache, environment: 'test' })
    await flags.ready
    await flags.ensureDefaults()
  }, 60_000)
  afterAll(async () => {
    await flags.close()
    await backend.close()
  })

  const put = (key: string, body: unknown) =>
    app.handle(req(`/api/v1/flags/${key}`, { method: 'PUT', headers: admin, json: body }))

  test('the defaults are seeded once: terminal.enabled, terminal.docker, terminal.wasi are on', async () => {
    expect(await flags.ensureDefaults()).toEqual([])
    const res = await app.handle(req('/api/v1/flags', { headers: admin }))
    const body = await json(res)
    expect({ status: res.status, error: body.error, meta: body.meta }).toEqual({ status: 200, error: null, meta: null })
    const keys = body.data.map((f: { key: string }) => f.key)
    expect(keys).toEqual(expect.arrayContaining(Object.keys(DEFAULT_FLAGS)))
    expect(body.data.find((f: { key: string }) => f.key === 'terminal.enabled')).toMatchObject({
      environment: 'test',
      enabled: true,
      rolloutPercent: 100,
      killSwitch: false,
      defaultValue: true,
    })
    for (const key of Object.keys(DEFAULT_FLAGS)) expect(await flags.isEnabled(key, 'anyone')).toBe(true)
  })

  test('the admin routes refuse anonymous and forged requests; the evaluated view is public', async () => {
    for (const [method, path, body] of [
      ['GET', '/api/v1/flags', undefined],
      ['PUT', '/api/v1/flags/x.y', { enabled: true }],
      ['GET', '/api/v1/flags/x.y/audit', undefined],
    ] as const) {
      const res = await app.handle(req(path, { method, ...(body ? { json: body } : {}) }))
      const env = await json(res)
      expect({ path, status: res.status, data: env.data }).toEqual({ path, status: 401, data: null })
      expect(env.error.code).toMatch(/^[A-Z_]+$/)
    }
    const res = await app.handle(req('/api/v1/flags/evaluated?subject=someone'))
    const body = await json(res)
    expect(res.status).toBe(200)
    expect(body).toEqual({ data: expect.objectContaining({ 'terminal.enabled': true }), meta: null, error: null })
    // Only booleans: the configuration itself is not public.
    expect(Object.values(body.data).every((v) => typeof v === 'boolean')).toBe(true)
  })

  test('PUT validates the body and the key', async () => {
    for (const bad of [
      { rolloutPercent: 101 },
      { rolloutPercent: -1 },
      { rolloutPercent: 12.5 },
      { enabled: 'yes' },
      {},
    ]) {
      const res = await put('beta.x', bad)
      expect({ body: bad, status: res.status, code: (await json(res)).error?.code }).toEqual({
        body: bad,
        status: 400,
        code: 'VALIDATION_FAILED',
      })
    }
    const badKey = await put('Bad%20Key', { enabled: true })
    expect(badKey.status).toBe(400)
  })

  test('a rollout is stable per subject and raising the percentage only adds subjects (0 → 100)', async () => {
    const key = `rollout.${kind}`
    let previous = new Set<string>()
    for (const percent of [0, 1, 10, 25, 50, 75, 90, 99, 100]) {
      // Through the service: its own snapshot is invalidated synchronously (other instances: pub/sub).
      await flags.put(key, { enabled: true, rolloutPercent: percent }, null)
      const on = new Set<string>()
      for (const s of SUBJECTS) if (await flags.isEnabled(key, s)) on.add(s)
      // Asking again gives the same answers.
      for (const s of SUBJECTS.slice(0, 50)) expect(await flags.isEnabled(key, s)).toBe(on.has(s))
      for (const s of previous) expect(on.has(s)).toBe(true)
      expect(Math.abs(on.size / SUBJECTS.length - percent / 100)).toBeLessThan(0.08)
      previous = on
    }
    expect(previous.size).toBe(SUBJECTS.length)
    // The public view agrees with the service for a subject.
    await put(key, { rolloutPercent: 50 })
    const subject = SUBJECTS.find((s) => rolloutBucket(key, s) < 50)!
    const outside = SUBJECTS.find((s) => rolloutBucket(key, s) >= 50)!
    const inView = (await json(await app.handle(req(`/api/v1/flags/evaluated?subject=${subject}`)))).data
    const outView = (await json(await app.handle(req(`/api/v1/flags/evaluated?subject=${outside}`)))).data
    expect({ in: inView[key], out: outView[key] }).toEqual({ in: true, out: false })
  })

  test('the kill switch turns a flag off for everyone, whatever the rollout', async () => {
    const key = `kill.${kind}`
    await flags.put(key, { enabled: true, rolloutPercent: 100 }, null)
    expect(await flags.isEnabled(key, 'a')).toBe(true)
    const killed = await flags.put(key, { killSwitch: true }, null)
    expect(killed).toMatchObject({ key, enabled: true, rolloutPercent: 100, killSwitch: true })
    for (const s of SUBJECTS.slice(0, 100)) expect(await flags.isEnabled(key, s)).toBe(false)
    expect(await flags.isEnabled(key)).toBe(false)
    // Through HTTP the same instance's evaluated view agrees at once.
    const res = await put(key, { killSwitch: false })
    expect((await json(res)).data).toMatchObject({ key, killSwitch: false })
    expect((await json(await app.handle(req('/api/v1/flags/evaluated?subject=a')))).data[key]).toBe(true)
    await put(key, { killSwitch: true })
    expect((await json(await app.handle(req('/api/v1/flags/evaluated?subject=a')))).data[key]).toBe(false)
  })

  test('every change appends an audit row with before, after and the actor; rows are never rewritten', async () => {
    const key = `audited.${kind}`
    const first = await json(await put(key, { description: 'A test flag', enabled: true }))
    const actor = first.data.updatedBy
    expect(actor).toBeString()
    await put(key, { rolloutPercent: 30 })
    await put(key, { killSwitch: true })
    const res = await app.handle(req(`/api/v1/flags/${key}/audit`, { headers: admin }))
    const audit = (await json(res)).data as { before: any; after: any; actorId: string }[]
    expect(audit).toHaveLength(3)
    const [third, second, created] = audit
    expect(created).toMatchObject({
      actorId: actor,
      before: null,
      after: { description: 'A test flag', enabled: true, rolloutPercent: 100, killSwitch: false },
    })
    expect(second).toMatchObject({ before: { rolloutPercent: 100 }, after: { rolloutPercent: 30 } })
    expect(third).toMatchObject({ before: { killSwitch: false }, after: { killSwitch: true, rolloutPercent: 30 } })
    const rows = await backend.database.db.select().from(flagAudit)
    const before = rows.length
    await put(key, { killSwitch: false })
    const after = await backend.database.db.select().from(flagAudit)
    expect(after.length).toBe(before + 1)
    // The earlier rows are unchanged.
    for (const row of rows) expect(after.find((r) => r.id === row.id)).toEqual(row)
  })

  test('flags are per environment', async () => {
    const key = `env.${kind}`
    await put(key, { enabled: true })
    const production = createFlagsService({ db: backend.database.db, cache: backend.cache, environment: 'production' })
    expect(await flags.isEnabled(key, 's')).toBe(true)
    expect(await production.isEnabled(key, 's')).toBe(false)
    expect((await production.list()).map((f) => f.key)).not.toContain(key)
    await production.close()
  })

  test('evaluation never throws: a broken store answers the default', async () => {
    const broken = await openBackend('embedded')
    const service = createFlagsService({ db: broken.database.db, cache: broken.cache, environment: 'test' })
    await service.ensureDefaults()
    await service.put('custom.default-on', { enabled: false, defaultValue: true }, null)
    expect(await service.isEnabled('custom.default-on', 'x')).toBe(false)
    await broken.database.close()
    // Fresh service, nothing cached: the built-in defaults, or the caller's fallback.
    const cold = createFlagsService({ db: broken.database.db, cache: broken.cache, environment: 'test' })
    expect(await cold.isEnabled('terminal.enabled', 'x')).toBe(true)
    expect(await cold.isEnabled('terminal.docker')).toBe(true)
    expect(await cold.isEnabled('unknown.flag', 'x')).toBe(false)
    expect(await cold.isEnabled('unknown.flag', 'x', true)).toBe(true)
    expect(await cold.evaluateAll('x')).toEqual({
      'terminal.enabled': true,
      'terminal.docker': true,
      'terminal.wasi': true,
    })
    await expect(cold.put('x.y', { enabled: true }, null)).rejects.toThrow()
    await cold.close()
    await service.close()
    await broken.cache.close()
  }, 60_000)

  test('a change on one instance reaches another instance sharing the cache at once (pub/sub)', async () => {
    const peer = await backend.openPeerCache()
    // A long TTL: only the invalidation message can make instance A notice.
    const a = createFlagsService({ db: backend.database.db, cache: peer, environment: 'test', ttlMs: 3_600_000 })
    const b = createFlagsService({ db: backend.database.db, cache: backend.cache, environment: 'test' })
    await Promise.all([a.ready, b.ready])
    const key = `shared.${kind}`
    await b.put(key, { enabled: true }, null)
    expect(await a.isEnabled(key, 's')).toBe(true)
    const delivered = new Promise<void>((resolve) => {
      void peer.subscribe('flags:changed', () => resolve())
    })
    await b.put(key, { killSwitch: true }, null)
    await delivered
    expect(await a.isEnabled(key, 's')).toBe(false)
    await Promise.all([a.close(), b.close()])
  })

  test('the flags routes are in the OpenAPI document', async () => {
    const spec = (await (await app.handle(req('/api/openapi.json'))).json()) as { paths: Record<string, any> }
    expect(spec.paths['/api/v1/flags']?.get).toBeDefined()
    expect(spec.paths['/api/v1/flags/evaluated']?.get).toBeDefined()
    expect(spec.paths['/api/v1/flags/{key}']?.put?.requestBody).toBeDefined()
    expect(spec.paths['/api/v1/flags/{key}/audit']?.get).toBeDefined()
  })
})
