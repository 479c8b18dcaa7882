import { randomUUID } from 'node:crypto'
import { Elysia, t } from 'elysia'
import type { Cache } from '../cache/index.ts'
import type { Config } from '../config.ts'
import type { Database } from '../db/index.ts'
import { clientIp } from '../http/client-ip.ts'
import { ok } from '../http/envelope.ts'
import { ForbiddenError } from '../http/errors.ts'
import type { Logger } from '../logger.ts'
import type { LoginLimits } from './login-guard.ts'
import { authModels } from './model.ts'
import { type AuthService, createAuthService, hasRole } from './service.ts'
import type { Role } from './users.ts'

export type { AccessTokenInfo, AuthService, AuthUser, TokenPair } from './service.ts'
export type { Role } from './users.ts'

/** What the auth plugin and module need (a subset of AppDeps). */
export interface AuthDeps {
  config: Pick<Config, 'jwtSecret' | 'trustProxyHops'>
  logger: Logger
  database: Database
  cache: Cache
  /** Login throttling overrides (tests use small numbers). */
  auth?: { limits?: Partial<LoginLimits> }
}

/** The OpenAPI `detail` extension the auth macro stamps on every protected route. */
export const AUTH_DETAIL_KEY = 'x-shellfolio-auth'

const services = new WeakMap<AuthDeps, { id: string; service: AuthService }>()

/** One service per deps object, so every module that uses the plugin shares it. */
export function authServiceFor(deps: AuthDeps): AuthService {
  return entryFor(deps).service
}

function entryFor(deps: AuthDeps) {
  let entry = services.get(deps)
  if (!entry) {
    entry = {
      id: randomUUID(),
      service: createAuthService({
        db: deps.database.db,
        cache: deps.cache,
        logger: deps.logger,
        secret: deps.config.jwtSecret,
        limits: deps.auth?.limits,
      }),
    }
    services.set(deps, entry)
  }
  return entry
}

/**
 * plugin.auth: the `auth` macro. A route declares `{ auth: 'admin' }`, `{ auth: 'editor' }` (admins
 * pass too) or `{ auth: true }` (any signed-in user) and gets `user` ({ id, email, role,
 * displayName }) and `accessToken` ({ jti, sid, exp }) in its context. Missing or bad credentials
 * are a 401 envelope with `WWW-Authenticate: Bearer`, a role too low is a 403. The check applies to
 * exactly the routes that ask for it (macro hooks are per route, never a leaky local hook), so
 * `.use(authPlugin(deps))` in any module is enough: the named plugin dedupes.
 */
export function authPlugin(deps: AuthDeps) {
  const { id, service } = entryFor(deps)
  // Credentials are checked in `transform`, before body validation, so an anonymous caller gets a
  // 401 rather than a 400 that describes the admin route's schema; `resolve` hands the result on.
  const checked = new WeakMap<Request, Awaited<ReturnType<AuthService['authenticate']>>>()
  return new Elysia({ name: 'plugin.auth', seed: id }).macro({
    auth: (role: Role | true) => ({
      detail: { security: [{ bearerAuth: [] }], [AUTH_DETAIL_KEY]: role === true ? 'user' : role },
      async transform({ request }) {
        const result = await service.authenticate(request.headers.get('authorization'))
        if (!hasRole(result.user, role)) throw new ForbiddenError(`this needs the ${role} role`, 'INSUFFICIENT_ROLE')
        checked.set(request, result)
      },
      async resolve({ request }) {
        const result = checked.get(request) ?? (await service.authenticate(request.headers.get('authorization')))
        if (!hasRole(result.user, role)) throw new ForbiddenError(`this needs the ${role} role`, 'INSUFFICIENT_ROLE')
        return { user: result.user, accessToken: result.token }
      },
    }),
  })
}

/** The role a route requires ('admin' | 'editor' | 'user'), or undefined for a public route. */
export function requiredRole(route: { hooks?: unknown }): string | undefined {
  const detail = (route.hooks as { detail?: Record<string, unknown> } | undefined)?.detail
  const role = detail?.[AUTH_DETAIL_KEY]
  return typeof role === 'string' ? role : undefined
}

/** Every admin-only route of an app (for the route-walking test and audits). */
export function adminRoutes<R extends { method: string; path: string; hooks?: unknown }>(routes: R[]): R[] {
  return routes.filter((r) => requiredRole(r) === 'admin')
}

const noStore = { 'cache-control': 'no-store', pragma: 'no-cache' }

/** module.auth: /api/v1/auth/{token,refresh,logout,password,me} (docs/api.md). */
export function authModule(deps: AuthDeps) {
  const service = authServiceFor(deps)
  const ipOf = (request: Request, server: { requestIP(r: Request): { address: string } | null } | null) =>
    clientIp(request, server?.requestIP(request)?.address, deps.config.trustProxyHops)
  return new Elysia({ name: 'module.auth', prefix: '/api/v1/auth', seed: entryFor(deps).id })
    .use(authPlugin(deps))
    .model(authModels)
    .post(
      '/token',
      async ({ body, request, server, set }) => {
        const pair = await service.login({ email: body.email, password: body.password, ip: ipOf(request, server) })
        Object.assign(set.headers, noStore)
        return ok(pair)
      },
      {
        body: 'auth.login',
        response: { 200: 'auth.tokens' },
        detail: { tags: ['auth'], summary: 'Sign in with email and password' },
      },
    )
    .post(
      '/refresh',
      async ({ body, set }) => {
        const pair = await service.refresh(body.refreshToken)
        Object.assign(set.headers, noStore)
        return ok(pair)
      },
      {
        body: 'auth.refresh',
        response: { 200: 'auth.tokens' },
        detail: { tags: ['auth'], summary: 'Rotate a refresh token' },
      },
    )
    .post(
      '/logout',
      async ({ body, request, set }) => {
        await service.logout({ authorization: request.headers.get('authorization'), refreshToken: body?.refreshToken })
        set.status = 204
        Object.assign(set.headers, noStore)
        return null
      },
      {
        body: t.Optional(authModels['auth.logout']),
        detail: { tags: ['auth'], summary: 'End the session (access token and/or refresh token)' },
      },
    )
    .post(
      '/password',
      async ({ body, user, request, server, set }) => {
        const pair = await service.changePassword({
          userId: user.id,
          currentPassword: body.currentPassword,
          newPassword: body.newPassword,
          ip: ipOf(request, server),
        })
        Object.assign(set.headers, noStore)
        return ok(pair)
      },
      {
        auth: true,
        body: 'auth.password',
        response: { 200: 'auth.tokens' },
        detail: { tags: ['auth'], summary: 'Change the password; ends every other session' },
      },
    )
    .get(
      '/me',
      ({ user, set }) => {
        set.headers['cache-control'] = 'no-store'
        return ok(user)
      },
      { auth: true, response: { 200: 'auth.me' }, detail: { tags: ['auth'], summary: 'The signed-in user' } },
    )
}
