import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { Elysia } from 'elysia'
import { FormatRegistry } from 'elysia/type-system'
import { adminHeaders, contentDeps } from '../../test/content.ts'
import { BACKENDS, type Backend, openBackend, req } from '../../test/harness.ts'
import { type AppDeps, createApp } from '../app.ts'
import { publicBodies } from '../lib/conditional.ts'
import { postsModel } from '../posts/model.ts'
import { displacedFormats, FAST_FORMATS } from './formats.ts'

/**
 * The public read path's budget of work, counted rather than timed: a cached read validates
 * nothing per request, and no format check anywhere builds a Zod schema (the OpenAPI plugin's
 * format functions did, on every call: ~70% of the CPU of a cached list). See docs/performance.md.
 */

type Check = (value: string) => boolean
type Counts = { fast: number; zod: number; other: number }

/**
 * Wraps every registered TypeBox format function in a counter (TypeBox looks them up on every
 * check). `zod` counts calls into the functions the OpenAPI plugin registered — each one builds a
 * Zod schema — `fast` calls into FAST_FORMATS, `other` Elysia's own (date-time).
 */
function countFormatCalls(): { counts: Counts; reset(): void; restore(): void } {
  const counts: Counts = { fast: 0, zod: 0, other: 0 }
  const fast = new Set<Check>(Object.values(FAST_FORMATS))
  const zod = new Set<Check>(displacedFormats().values())
  const originals = [...FormatRegistry.Entries()] as [string, Check][]
  for (const [name, check] of originals) {
    const kind: keyof Counts = fast.has(check) ? 'fast' : zod.has(check) ? 'zod' : 'other'
    FormatRegistry.Set(name, (value: string) => {
      counts[kind]++
      return check(value)
    })
  }
  return {
    counts,
    reset() {
      counts.fast = 0
      counts.zod = 0
      counts.other = 0
    },
    restore() {
      for (const [name, check] of originals) FormatRegistry.Set(name, check)
    },
  }
}

/** A deep copy of a TypeBox schema, symbol keys included (structuredClone drops TypeBox's Kind). */
function copySchema<S>(source: S): S {
  if (source === null || typeof source !== 'object') return source
  if (Array.isArray(source)) return source.map(copySchema) as S
  const copy: Record<string | symbol, unknown> = {}
  for (const key of [...Object.keys(source), ...Object.getOwnPropertySymbols(source)]) {
    copy[key] = copySchema((source as Record<string | symbol, unknown>)[key])
  }
  return copy as S
}

/** Every `format` named anywhere in a JSON document. */
function formatsIn(node: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(node)) for (const item of node) formatsIn(item, found)
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'format' && typeof value === 'string') found.add(value)
      else formatsIn(value, found)
    }
  }
  return found
}

describe('format checkers', () => {
  test('the app checks uuid and email with the precompiled checkers, not the OpenAPI plugin’s Zod ones', () => {
    // Importing the app (app.ts → the docs module → the plugin) has installed them.
    expect(FormatRegistry.Get('uuid')).toBe(FAST_FORMATS.uuid)
    expect(FormatRegistry.Get('email')).toBe(FAST_FORMATS.email)
    // The plugin really registered its own (what installFastFormats displaced), so this guard is live.
    expect([...displacedFormats().keys()].sort()).toEqual(['email', 'uuid'])
  })

  test('they accept exactly what the plugin’s accepted, so no request is judged differently', () => {
    const samples: Record<keyof typeof FAST_FORMATS, string[]> = {
      uuid: [
        '11c28cf7-ec48-44c5-8d4a-32aa2c5a004e',
        '11C28CF7-EC48-44C5-8D4A-32AA2C5A004E',
        '018f6d2e-7c1a-7b3e-9f00-0123456789ab', // v7
        '00000000-0000-0000-0000-000000000000',
        'ffffffff-ffff-ffff-ffff-ffffffffffff',
        '00000000-0000-0000-0000-000000000001', // version 0: refused
        '11c28cf7-ec48-94c5-8d4a-32aa2c5a004e', // version 9: refused
        '11c28cf7-ec48-44c5-7d4a-32aa2c5a004e', // wrong variant
        'urn:uuid:11c28cf7-ec48-44c5-8d4a-32aa2c5a004e',
        '11c28cf7ec4844c58d4a32aa2c5a004e',
        '11c28cf7-ec48-44c5-8d4a-32aa2c5a004',
        ' 11c28cf7-ec48-44c5-8d4a-32aa2c5a004e',
        '',
        'not-a-uuid',
      ],
      email: [
        'ada@example.com',
        'a.b+tag@sub.example.org',
        "o'brien@example.ie",
        '.ada@example.com',
        'ada..b@example.com',
        'ada.@example.com',
        'ada@example',
        'ada@-example.com',
        'ada@example.c',
        'ada@@example.com',
        'ada example@example.com',
        'ada@exa_mple.com',
        '',
      ],
    }
    for (const [name, values] of Object.entries(samples) as [keyof typeof FAST_FORMATS, string[]][]) {
      const plugin = displacedFormats().get(name)
      expect(plugin).toBeFunction()
      const ours = values.map((v) => [v, FAST_FORMATS[name](v)])
      const theirs = values.map((v) => [v, plugin!(v)])
      expect(ours).toEqual(theirs)
    }
    // The samples hold both answers for each format.
    expect(samples.uuid.map(FAST_FORMATS.uuid)).toContain(true)
    expect(samples.uuid.map(FAST_FORMATS.uuid)).toContain(false)
  })
})

describe.each(BACKENDS)('the read path on %s', (kind) => {
  let backend: Backend
  let deps: AppDeps
  let app: ReturnType<typeof createApp>
  let admin: { authorization: string }
  let slug = ''
  let projectSlug = ''
  let projectId = ''
  let spy: ReturnType<typeof countFormatCalls>

  beforeAll(async () => {
    backend = await openBackend(kind)
    deps = { ...contentDeps(backend), runnerAvailability: async () => ({ docker: false, wasi: true }) }
    app = createApp(deps)
    admin = await adminHeaders(deps)
    for (let i = 0; i < 25; i++) {
      slug = `budget-${kind}-${i}`
      const res = await app.handle(
        req('/api/v1/posts', {
          method: 'POST',
          headers: admin,
          json: { slug, title: `Post ${i}`, markdown: `Body **${i}**`, tags: ['perf'], status: 'published' },
        }),
      )
      expect(res.status).toBe(201)
    }
    for (const name of ['budget-a', 'budget-b']) {
      const res = await app.handle(
        req('/api/v1/projects', {
          method: 'POST',
          headers: admin,
          json: { slug: name, title: name, sourcePath: 'calc', runners: ['wasi', 'docker'] },
        }),
      )
      expect(res.status).toBe(201)
      const body = (await res.json()) as { data: { id: string; slug: string } }
      projectSlug = body.data.slug
      projectId = body.data.id
    }
    spy = countFormatCalls()
  }, 60_000)
  afterEach(() => spy.reset())
  afterAll(async () => {
    spy.restore()
    await backend.close()
  })

  /** The public reads, and the format checks a fill does: each uuid (fast) and date-time (Elysia's) once. */
  const cases = () => [
    { path: '/api/v1/posts?limit=20', fill: { fast: 20, zod: 0, other: 20 } }, // id, publishedAt per item
    { path: `/api/v1/posts/${slug}`, fill: { fast: 1, zod: 0, other: 1 } },
    { path: '/api/v1/projects', fill: { fast: 2, zod: 0, other: 0 } }, // the id of each of the two projects
    { path: `/api/v1/projects/${projectSlug}`, fill: { fast: 1, zod: 0, other: 0 } },
  ]

  test('a cached public read is answered without validating anything: zero format checks per request', async () => {
    for (const { path } of cases()) {
      // The first request fills the caches and prepares the body: checked once, never with Zod.
      const first = await app.handle(req(path))
      expect({ path, status: first.status }).toEqual({ path, status: 200 })
      const body = await first.text()
      expect({ path, zod: spy.counts.zod }).toEqual({ path, zod: 0 })
      spy.reset()
      for (let i = 0; i < 50; i++) {
        const res = await app.handle(req(path))
        expect(res.status).toBe(200)
        expect(await res.text()).toBe(body)
      }
      // 50 cached answers, not one format check among them (validation per request was ~40 for a list).
      expect({ path, ...spy.counts }).toEqual({ path, fast: 0, zod: 0, other: 0 })
    }
  })

  test('filling the cache checks each uuid and date-time once, on the fast checkers', async () => {
    // Admin writes make every cached read stale: the next reads fill and prepare again.
    const patched = await app.handle(
      req(`/api/v1/projects/${projectId}`, { method: 'PATCH', headers: admin, json: { title: 'renamed' } }),
    )
    expect(patched.status).toBe(200)
    const created = await app.handle(
      req('/api/v1/posts', {
        method: 'POST',
        headers: admin,
        json: { slug: `fill-${kind}`, title: 'fill', markdown: 'x', status: 'published' },
      }),
    )
    expect(created.status).toBe(201)
    spy.reset()
    for (const { path, fill } of cases()) {
      const res = await app.handle(req(path))
      expect(res.status).toBe(200)
      expect({ path, ...spy.counts }).toEqual({ path, ...fill })
      spy.reset()
    }
  })

  test('admin routes validate ids and sign-in validates emails without building a Zod schema', async () => {
    const unknownId = await app.handle(
      req('/api/v1/posts/by-id/11c28cf7-ec48-44c5-8d4a-32aa2c5a004e', { headers: admin }),
    )
    expect(unknownId.status).toBe(404)
    const badId = await app.handle(req('/api/v1/posts/by-id/00000000-0000-0000-0000-000000000001', { headers: admin }))
    expect(badId.status).toBe(400)
    const login = await app.handle(
      req('/api/v1/auth/token', {
        method: 'POST',
        json: { email: 'nobody@example.com', password: 'wrong-password-123' },
      }),
    )
    expect(login.status).toBe(401)
    expect(spy.counts.fast).toBeGreaterThanOrEqual(3)
    expect(spy.counts.zod).toBe(0)
  })

  test('every format the API documents is checked without Zod', async () => {
    const doc = await (await app.handle(req('/api/openapi.json'))).json()
    // Elysia's own checkers, which the plugin does not replace (regular expressions, a number
    // test), and `binary`, which only documents an upload.
    const withoutZod = new Set([...Object.keys(FAST_FORMATS), 'date-time', 'integer', 'numeric', 'boolean', 'binary'])
    const unchecked = [...formatsIn(doc)].filter((f) => !withoutZod.has(f))
    // A new format here needs a precompiled checker in api/src/http/formats.ts: the OpenAPI
    // plugin's are Zod-backed and build a schema on every call.
    expect(unchecked).toEqual([])
  })

  test('a prepared answer carries every header a normal response has, and 304s still work', async () => {
    const path = `/api/v1/posts/${slug}`
    const res = await app.handle(req(path))
    expect(res.status).toBe(200)
    const etag = res.headers.get('etag')
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/)
    expect({
      type: res.headers.get('content-type'),
      cache: res.headers.get('cache-control'),
      nosniff: res.headers.get('x-content-type-options'),
      frames: res.headers.get('x-frame-options'),
      csp: res.headers.get('content-security-policy')?.includes("frame-ancestors 'none'"),
      requestId: res.headers.get('x-request-id')?.length,
      traceparent: res.headers.get('traceparent')?.startsWith('00-'),
    }).toEqual({
      type: 'application/json;charset=utf-8',
      cache: 'public, max-age=0, must-revalidate',
      nosniff: 'nosniff',
      frames: 'DENY',
      csp: true,
      requestId: 36,
      traceparent: true,
    })
    const again = await app.handle(req(path, { headers: { 'if-none-match': etag! } }))
    expect(again.status).toBe(304)
    expect(await again.text()).toBe('')
    expect(again.headers.get('etag')).toBe(etag)
    expect(again.headers.get('x-request-id')?.length).toBe(36)
  })
})

describe('prepared bodies', () => {
  test('are normalized and serialized exactly as Elysia answers the same object', async () => {
    const item = {
      id: '11c28cf7-ec48-44c5-8d4a-32aa2c5a004e',
      author: { name: 'Ada', id: 'u1', email: 'hidden@example.com' },
      slug: 'a',
      markdown: 'not part of the public list',
      title: 'A',
      summary: '',
      tags: ['x'],
      publishedAt: '2026-11-30T04:09:27.069Z',
      updatedAt: '2026-11-30T04:09:27.069Z',
    }
    const envelope = { meta: { nextCursor: null }, data: [item], error: null }
    // A copy of the model: Elysia marks a schema it builds a validator from (additionalProperties).
    const reference = new Elysia().get('/x', () => structuredClone(envelope), {
      response: { 200: copySchema(postsModel['posts.list']) },
    })
    const expected = await (await reference.handle(req('/x'))).text()
    const bodies = publicBodies(postsModel['posts.list'], (value: typeof envelope) => value)
    const set = { headers: {} as Record<string, string | number> }
    const res = bodies.respond(req('/x'), set, { value: structuredClone(envelope), etag: '"e"' }) as unknown as Response
    expect(await res.text()).toBe(expected)
    expect(expected).not.toContain('hidden@example.com')
  })

  test('a value that does not fit the schema is refused as Elysia refuses it, once per read', () => {
    const bodies = publicBodies(postsModel['posts.page'], (value: unknown) => value)
    const bad = { value: { data: { id: 'not-a-uuid' }, meta: null, error: null }, etag: '"e"' }
    expect(() => bodies.respond(req('/x'), { headers: {} }, bad)).toThrow()
  })
})
