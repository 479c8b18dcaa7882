import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { randomUUID } from 'node:crypto'
import { Elysia, t } from 'elysia'
import { expect401, login, makeUser } from '../../test/auth-kit.ts'
import { BACKENDS, type Backend, openBackend, req, testDeps } from '../../test/harness.ts'
import { createApp } from '../app.ts'
import { ok } from '../http/envelope.ts'
import { httpPlugin } from '../http/plugin.ts'
import { createFilesystemStorage } from '../media/storage.ts'
import { SessionManager } from '../terminal/manager.ts'
import { runnerRegistryOf } from '../terminal/runners.ts'
import { adminRoutes, authModule, authPlugin, requiredRole } from './index.ts'

// Password hashing (argon2id) is deliberately slow, and slower on a loaded CI machine.
setDefaultTimeout(30_000)

/** Write routes that are public or only need a signed-in user (everything else must be admin/editor). */
const OPEN_WRITES = new Set([
  'POST /api/v1/auth/token',
  'POST /api/v1/auth/refresh',
  'POST /api/v1/auth/logout',
  'POST /api/v1/auth/password',
  'POST /api/v1/terminal/sessions',
  // authorized by the session's resume token, not a JWT: refused without it (watch.test.ts, files.test.ts)
  'POST /api/v1/terminal/sessions/:id/watch',
  'DELETE /api/v1/terminal/sessions/:id/watch',
  'POST /api/v1/terminal/sessions/:id/files',
  // a place in the waiting line: its 192-bit id is the credential, as a ticket is (queue.test.ts)
  'DELETE /api/v1/terminal/queue/:id',
])

const fill = (path: string) =>
  path
    .split('/')
    .map((seg) => (seg === ':id' ? randomUUID() : seg.startsWith(':') || seg === '*' ? 'x' : seg))
    .join('/')

describe.each(BACKENDS)('the auth macro (%s)', (kind) => {
  let backend: Backend
  let admin: string
  let editor: string
  const deps = () => ({ ...testDeps(backend), rateLimits: [], auth: { limits: { ipPoints: 10_000 } } })

  beforeAll(async () => {
    backend = await openBackend(kind)
    const app = createApp(deps())
    admin = (await login(app, (await makeUser(backend.database.db, 'admin')).email)).accessToken
    editor = (await login(app, (await makeUser(backend.database.db, 'editor')).email)).accessToken
  }, 60_000)
  afterAll(() => backend.close())

  const call = (app: { handle(r: Request): Promise<Response> }, method: string, path: string, token?: string) =>
    app.handle(
      req(path, {
        method,
        headers: token ? { authorization: `Bearer ${token}` } : {},
        ...(method === 'GET' || method === 'HEAD' ? {} : { json: {} }),
      }),
    )

  test('a module that uses authPlugin gets the macro; roles are enforced before body validation', async () => {
    const d = deps()
    const probe = new Elysia({ name: 'module.probe' })
      .use(authPlugin(d))
      .post('/api/v1/probe/admin', ({ user, body }) => ok({ role: user.role, title: body.title }), {
        auth: 'admin',
        body: t.Object({ title: t.String({ minLength: 3 }) }),
      })
      .get('/api/v1/probe/editor', ({ user }) => ok(user.role), { auth: 'editor' })
      .get('/api/v1/probe/user', ({ user, accessToken }) => ok({ role: user.role, sid: accessToken.sid }), {
        auth: true,
      })
    const app = new Elysia()
      .use(httpPlugin({ config: d.config, logger: d.logger, routes: () => [] }))
      .use(authModule(d)) // plugin.auth twice: deduped, still works
      .use(probe)

    // Anonymous with an invalid body: 401, not a 400 describing the schema.
    await expect401(await call(app, 'POST', '/api/v1/probe/admin'))
    const forbidden = await call(app, 'POST', '/api/v1/probe/admin', editor)
    expect(forbidden.status).toBe(403)
    expect(((await forbidden.json()) as { error: { code: string } }).error.code).toBe('INSUFFICIENT_ROLE')
    const created = await app.handle(
      req('/api/v1/probe/admin', {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}` },
        json: { title: 'hello' },
      }),
    )
    expect(await created.json()).toEqual({ data: { role: 'admin', title: 'hello' }, meta: null, error: null })
    expect((await call(app, 'POST', '/api/v1/probe/admin', admin)).status).toBe(400)

    await expect401(await call(app, 'GET', '/api/v1/probe/editor'))
    expect((await call(app, 'GET', '/api/v1/probe/editor', editor)).status).toBe(200)
    expect((await call(app, 'GET', '/api/v1/probe/editor', admin)).status).toBe(200)
    await expect401(await call(app, 'GET', '/api/v1/probe/user'))
    expect((await call(app, 'GET', '/api/v1/probe/user', editor)).status).toBe(200)

    expect(app.routes.map((r) => [r.path, requiredRole(r)]).filter(([p]) => p?.startsWith('/api/v1/probe'))).toEqual([
      ['/api/v1/probe/admin', 'admin'],
      ['/api/v1/probe/editor', 'editor'],
      ['/api/v1/probe/user', 'user'],
    ])
  })

  /** The full app, terminal routes included (mounted only with a session manager; no runners needed). */
  const fullApp = () => {
    const d = deps()
    const terminal = new SessionManager({
      config: d.config.terminal,
      runners: runnerRegistryOf([]),
      cache: backend.cache,
      db: backend.database.db,
      storage: createFilesystemStorage(`${d.config.dataDir}/media`),
      logger: d.logger,
    })
    return { app: createApp({ ...d, terminal }), close: () => terminal.close() }
  }

  test('walk: every admin route of the full app is 401 anonymous and 403 for an editor', async () => {
    const { app, close } = fullApp()
    const routes = adminRoutes(app.routes).filter((r) => r.method !== 'WS')
    try {
      // docs/api.md lists admin routes in several modules: an empty list means the macro is not applied.
      expect(routes.length).toBeGreaterThan(0)
      for (const route of routes) {
        const path = fill(route.path)
        const anonymous = await call(app, route.method, path)
        expect({ route: `${route.method} ${route.path}`, status: anonymous.status }).toEqual({
          route: `${route.method} ${route.path}`,
          status: 401,
        })
        expect(anonymous.headers.get('www-authenticate')).toBe('Bearer')
        const asEditor = await call(app, route.method, path, editor)
        expect({ route: `${route.method} ${route.path}`, status: asEditor.status }).toEqual({
          route: `${route.method} ${route.path}`,
          status: 403,
        })
      }
    } finally {
      await close()
    }
  })

  test('walk: no write route of the full app is open unless it is on the short public list', async () => {
    const { app, close } = fullApp()
    await close()
    const open = app.routes
      .filter((r) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method) && r.path.startsWith('/api/'))
      .filter((r) => requiredRole(r) !== 'admin' && requiredRole(r) !== 'editor')
      .map((r) => `${r.method} ${r.path}`)
      .filter((r) => !OPEN_WRITES.has(r))
    expect(open).toEqual([])
  })

  test('OpenAPI marks protected routes with bearer security', async () => {
    const app = createApp(deps())
    const spec = (await (await app.handle(req('/api/openapi.json'))).json()) as {
      paths: Record<string, Record<string, { security?: unknown }>>
    }
    expect(spec.paths['/api/v1/auth/me']?.get?.security).toEqual([{ bearerAuth: [] }])
    expect(spec.paths['/api/v1/auth/token']?.post?.security).toBeUndefined()
  })
})
