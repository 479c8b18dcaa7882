import type { AppDeps } from '../src/app.ts'
import { authServiceFor } from '../src/auth/index.ts'
import { ensureAdmin } from '../src/bootstrap.ts'
import { type Backend, testDeps } from './harness.ts'

/** Test deps for the content suites: no request budgets (suites create hundreds of rows). */
export function contentDeps(backend: Backend, env: Record<string, string> = {}): AppDeps {
  return { ...testDeps(backend, env), rateLimits: [] }
}

const ADMIN = { adminEmail: 'content-admin@shellfolio.test', adminPassword: 'content-admin-password-0123' }

/** Creates (once per database) the admin account and returns `Authorization` headers for it. */
export async function adminHeaders(deps: AppDeps): Promise<{ authorization: string }> {
  await ensureAdmin(deps.database.db, ADMIN)
  const pair = await authServiceFor(deps).login({
    email: ADMIN.adminEmail,
    password: ADMIN.adminPassword,
    ip: '127.0.0.1',
  })
  return { authorization: `Bearer ${pair.accessToken}` }
}
