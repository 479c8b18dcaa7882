import { expect } from 'bun:test'
import { createHmac, randomUUID } from 'node:crypto'
import { createUser, type Role } from '../src/auth/users.ts'
import type { Db } from '../src/db/index.ts'
import { req } from './harness.ts'

/** Test helpers for the auth suites (not used by the app). */

export const PASSWORD = 'correct horse battery staple'

export interface Handler {
  handle(request: Request): Promise<Response>
}

export async function makeUser(db: Db, role: Role = 'admin', password = PASSWORD) {
  const email = `${role}-${randomUUID().slice(0, 8)}@example.test`
  const user = await createUser(db, { email, password, role })
  return { ...user, password }
}

export interface Pair {
  accessToken: string
  refreshToken: string
  tokenType: string
  expiresIn: number
}

export async function login(app: Handler, email: string, password = PASSWORD, ip = '203.0.113.1'): Promise<Pair> {
  const res = await app.handle(
    req('/api/v1/auth/token', { method: 'POST', json: { email, password }, headers: { 'x-forwarded-for': ip } }),
  )
  expect(res.status).toBe(200)
  return ((await res.json()) as { data: Pair }).data
}

export const refresh = (app: Handler, refreshToken: string) =>
  app.handle(req('/api/v1/auth/refresh', { method: 'POST', json: { refreshToken } }))

export const me = (app: Handler, accessToken: string) =>
  app.handle(req('/api/v1/auth/me', { headers: { authorization: `Bearer ${accessToken}` } }))

/** Asserts the 401 envelope every auth failure must be. */
export async function expect401(res: Response, code = 'INVALID_TOKEN') {
  expect(res.status).toBe(401)
  expect(res.headers.get('www-authenticate')).toBe('Bearer')
  const body = (await res.json()) as { data: unknown; error: { code: string } }
  expect(body.data).toBeNull()
  expect(body.error.code).toBe(code)
}

export function decodePayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'))
}

/** Signs a JWT by hand, so tests can forge what a library would refuse to produce. */
export function forge(
  payload: Record<string, unknown>,
  options: { alg?: 'HS256' | 'HS384' | 'HS512' | 'none'; secret?: string; header?: Record<string, unknown> } = {},
): string {
  const alg = options.alg ?? 'HS256'
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
  const input = `${b64({ alg, typ: 'JWT', ...options.header })}.${b64(payload)}`
  if (alg === 'none') return `${input}.`
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg]
  return `${input}.${createHmac(hash, options.secret ?? '')
    .update(input)
    .digest('base64url')}`
}
