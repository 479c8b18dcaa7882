import { treaty } from '@elysiajs/eden'
import type { App } from '../../../api/src/app.ts'
import { ApiError, isTransient } from './errors.ts'
import { reportReachable } from './network.ts'

/**
 * The one typed API client (docs/conventions.md rule 11): Eden Treaty over the API's `App` type, so a
 * changed route breaks the build. Every call goes through `apiFetch`, which adds the bearer token,
 * a timeout, retries with backoff for idempotent reads, and one transparent refresh on a 401.
 */

const TIMEOUT_MS = 15_000
const MAX_RETRIES = 3

/** What the client needs from the auth store; connected by AuthProvider (avoids an import cycle). */
export interface AuthHooks {
  /** A usable access token (refreshing first when it is about to expire), or undefined. */
  accessToken(): Promise<string | undefined>
  /** Rotates the tokens; concurrent callers share one in-flight refresh. False when signed out. */
  refresh(): Promise<boolean>
}

let auth: AuthHooks = { accessToken: async () => undefined, refresh: async () => false }

export function connectAuth(hooks: AuthHooks): void {
  auth = hooks
}

const origin = typeof location === 'undefined' ? 'http://localhost' : location.origin

/** Routes that carry credentials in the body: never add a bearer token or refresh on their 401. */
const CREDENTIAL_ROUTES = /\/api\/v1\/auth\/(token|refresh)$/

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const backoff = (attempt: number) => Math.min(4000, 300 * 3 ** attempt) * (0.75 + Math.random() * 0.5)

function retryAfterMs(res: Response): number | undefined {
  const raw = res.headers.get('retry-after')
  if (!raw || !/^\d+$/.test(raw)) return undefined
  const ms = Number(raw) * 1000
  return ms <= 5000 ? ms : undefined
}

/** One attempt with a timeout; transport failures become ApiError NETWORK / OFFLINE / TIMEOUT. */
async function attempt(url: string, init: RequestInit, token: string | undefined, timeoutMs: number) {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), timeoutMs)
  const outer = init.signal
  const forward = () => controller.abort()
  outer?.addEventListener('abort', forward, { once: true })
  const headers = new Headers(init.headers)
  if (token && !headers.has('authorization')) headers.set('authorization', `Bearer ${token}`)
  try {
    const res = await fetch(url, { ...init, headers, signal: controller.signal })
    reportReachable(true)
    return res
  } catch (err) {
    if (outer?.aborted) throw err
    if (controller.signal.aborted) throw new ApiError('TIMEOUT', 'the request timed out')
    reportReachable(false)
    throw new ApiError(navigator.onLine ? 'NETWORK' : 'OFFLINE', 'the server could not be reached')
  } finally {
    clearTimeout(timer)
    outer?.removeEventListener('abort', forward)
  }
}

/** `fetch` with auth, timeout, retries for GET/HEAD and refresh-then-retry-once on 401. */
export async function apiFetch(input: RequestInfo | URL, init: RequestInit = {}, timeoutMs = TIMEOUT_MS) {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
  const method = (init.method ?? 'GET').toUpperCase()
  const idempotent = method === 'GET' || method === 'HEAD'
  const credentialRoute = CREDENTIAL_ROUTES.test(new URL(url, origin).pathname)
  let tries = 0
  let refreshed = false
  for (;;) {
    const token = credentialRoute ? undefined : await auth.accessToken()
    let res: Response
    try {
      res = await attempt(url, init, token, timeoutMs)
    } catch (err) {
      if (idempotent && isTransient(err) && tries < MAX_RETRIES) {
        await sleep(backoff(tries++))
        continue
      }
      throw err
    }
    if (res.status === 401 && token && !refreshed) {
      refreshed = true
      // Another request may have rotated the tokens meanwhile: then just retry with the new one.
      const current = await auth.accessToken()
      if (current && current !== token) continue
      if (await auth.refresh()) continue
      return res
    }
    if (idempotent && [429, 502, 503, 504].includes(res.status) && tries < MAX_RETRIES) {
      await sleep(retryAfterMs(res) ?? backoff(tries))
      tries++
      continue
    }
    return res
  }
}

// parseDate off: dates stay ISO strings, as the route schemas declare them.
export const client = treaty<App>(origin, { fetcher: apiFetch as typeof fetch, parseDate: false })

/**
 * Eden merges `/posts/:slug` (public) and `/posts/:id` (admin) into one dynamic segment whose type
 * names both; at run time the call must pass exactly ONE key (two keys make Eden send a request
 * with the method "POSTS"). One key, typed as the merged shape.
 */
export const segment = (value: string) => ({ slug: value }) as unknown as { id: string; slug: string }

/**
 * `App` registers the terminal module conditionally (`deps.terminal ? … : empty`), so its type is a
 * union; the site always talks to a server with terminals, so pick the member that has them.
 */
export const v1 = client.api.v1 as Extract<typeof client.api.v1, { terminal: unknown }>

/** The success envelope. */
export interface Envelope<T, M = unknown> {
  data: T
  meta: M
  error: null
}

interface TreatyLike<R> {
  data: R | null
  error: { status: unknown; value: unknown } | null
  status: number
}

/** Turns an error response into an ApiError carrying the envelope's code and request id. */
export function toApiError(status: number, body: unknown): ApiError {
  const e = (body as { error?: { code?: unknown; message?: unknown; requestId?: unknown; details?: unknown } } | null)
    ?.error
  if (e && typeof e.code === 'string') {
    return new ApiError(
      e.code,
      typeof e.message === 'string' ? e.message : e.code,
      status,
      typeof e.requestId === 'string' ? e.requestId : undefined,
      e.details,
    )
  }
  const code =
    status === 401 ? 'UNAUTHORIZED' : status === 404 ? 'NOT_FOUND' : status >= 500 ? 'INTERNAL' : 'BAD_REQUEST'
  return new ApiError(code, `the server answered ${status}`, status)
}

/** Awaits a treaty call and returns its envelope, or throws an ApiError. */
export async function unwrap<R>(call: Promise<TreatyLike<R>>): Promise<NonNullable<R>> {
  const res = await call
  if (res.error || res.data == null) throw toApiError(res.status, res.error?.value)
  return res.data as NonNullable<R>
}

type PostSegment = ReturnType<typeof v1.posts>
type ProjectSegment = ReturnType<typeof v1.projects>
/** `/posts/:slug`: the public post page. */
export const postBySlug = (slug: string) => v1.posts(segment(slug)) as Extract<PostSegment, { get: unknown }>
/** `/posts/:id`: the admin's edit, delete and restore of one post. */
export const postById = (id: string) => v1.posts(segment(id)) as Extract<PostSegment, { patch: unknown }>
/** `/projects/:slug`: the public project page. */
export const projectBySlug = (slug: string) => v1.projects(segment(slug)) as Extract<ProjectSegment, { get: unknown }>
/** `/projects/:id`: the admin's edit of one project. */
export const projectById = (id: string) => v1.projects(segment(id)) as Extract<ProjectSegment, { patch: unknown }>
