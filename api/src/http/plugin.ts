import { randomUUID } from 'node:crypto'
import { Elysia, type ValidationError } from 'elysia'
import type { Config } from '../config.ts'
import { asDependencyError, type DependencyMonitor } from '../health/dependencies.ts'
import type { Logger } from '../logger.ts'
import { MAX_UPLOAD_REQUEST } from '../terminal/files.ts'
import { errorBody } from './envelope.ts'

/** Uploads into a terminal session have their own bound (docs/api.md, "Terminal files"). */
const TERMINAL_FILES = /^\/api\/v1\/terminal\/sessions\/[^/]+\/files$/

import { AppError } from './errors.ts'

export interface RouteInfo {
  method: string
  path: string
}

export interface HttpPluginOptions {
  config: Pick<Config, 'appEnv' | 'bodyLimit' | 'uploadLimit' | 'corsOrigins'> &
    Partial<Pick<Config, 'projectUploadLimit'>>
  logger: Logger
  /** Routes of the finished app, to answer 405 with `Allow` instead of 404 for a known path. */
  routes: () => RouteInfo[]
  /** Told about every dependency outage a request runs into (one log line per outage, docs/faults.md). */
  dependencies?: DependencyMonitor | undefined
  /** The trace id of a request (api/src/tracing), for the outage's Problems entry. */
  traceIdOf?: ((request: Request) => string | undefined) | undefined
  /** Told about every unexpected error answered with a 500 (the Problems list, api/src/problems). */
  onUnexpected?: ((problem: UnexpectedError) => void) | undefined
}

/** A request that ended in a 500: what the Problems list groups it by. */
export interface UnexpectedError {
  error: unknown
  request: Request
  /** The matched route template (`/api/v1/posts/:slug`), or `unmatched`. */
  route: string
  code: string
}

interface RequestMeta {
  id: string
  start: number
}

const meta = new WeakMap<Request, RequestMeta>()

/** An incoming X-Request-Id is kept only when short and made of safe characters. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/

/** The id of a request (generated in onRequest); for services that log outside the plugin. */
export function requestIdOf(request: Request): string {
  return meta.get(request)?.id ?? 'unknown'
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
const ACCEPTED_BODY_TYPES = ['application/json', 'multipart/form-data', 'application/x-www-form-urlencoded']

function securityHeaders(production: boolean): Record<string, string> {
  const headers: Record<string, string> = {
    // Scripts only from our origin (no inline script); styles may be inline because xterm.js
    // injects its theme as a <style> element.
    'content-security-policy': [
      "default-src 'self'",
      "script-src 'self' 'wasm-unsafe-eval'",
      "style-src 'self' 'unsafe-inline'",
      "img-src 'self' data: blob:",
      "font-src 'self' data:",
      "connect-src 'self'",
      "media-src 'self' blob:",
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'self'",
      "frame-ancestors 'none'",
    ].join('; '),
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'strict-origin-when-cross-origin',
    'cross-origin-opener-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
  }
  if (production) headers['strict-transport-security'] = 'max-age=63072000; includeSubDomains'
  return headers
}

function pathMatcher(path: string): RegExp {
  const pattern = path
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/')
  return new RegExp(`^${pattern}/?$`)
}

/**
 * plugin.http: request ids, structured access logs, security headers, CORS, body limits,
 * content-type checks, and the one global error mapper that turns everything into the envelope.
 */
export function httpPlugin(options: HttpPluginOptions) {
  const { config, logger } = options
  const headers = securityHeaders(config.appEnv === 'production')
  const cors = new Set(config.corsOrigins)
  let matchers: { method: string; re: RegExp }[] | undefined
  const allowedMethods = (path: string): string[] => {
    matchers ??= options.routes().map((r) => ({ method: r.method.toUpperCase(), re: pathMatcher(r.path) }))
    return [...new Set(matchers.filter((m) => m.re.test(path)).map((m) => m.method))]
  }

  const fail = (
    set: { status?: number | string; headers: Record<string, string | number> },
    request: Request,
    status: number,
    code: string,
    message: string,
    details?: unknown,
  ) => {
    set.status = status
    set.headers['content-type'] = 'application/json; charset=utf-8'
    set.headers['cache-control'] = 'no-store'
    return errorBody(code, message, requestIdOf(request), details)
  }

  return new Elysia({ name: 'plugin.http' })
    .onRequest(({ request, set }) => {
      const incoming = request.headers.get('x-request-id')
      const id = incoming && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID()
      meta.set(request, { id, start: performance.now() })
      set.headers['x-request-id'] = id
      Object.assign(set.headers, headers)

      const origin = request.headers.get('origin')
      if (origin && cors.has(origin)) {
        set.headers['access-control-allow-origin'] = origin
        set.headers.vary = 'Origin'
        set.headers['access-control-expose-headers'] = 'X-Request-Id, RateLimit, Retry-After, ETag'
        if (request.method === 'OPTIONS') {
          set.headers['access-control-allow-methods'] = 'GET, POST, PUT, PATCH, DELETE'
          set.headers['access-control-allow-headers'] = 'Authorization, Content-Type, X-Request-Id, If-None-Match'
          set.headers['access-control-max-age'] = '600'
          set.status = 204
          return new Response(null, { status: 204, headers: set.headers as Record<string, string> })
        }
      }

      const url = new URL(request.url)
      if (WRITE_METHODS.has(request.method) && url.pathname.startsWith('/api/')) {
        const limit =
          url.pathname === '/api/v1/projects/import'
            ? (config.projectUploadLimit ?? config.uploadLimit)
            : TERMINAL_FILES.test(url.pathname)
              ? MAX_UPLOAD_REQUEST
              : url.pathname.startsWith('/api/v1/media')
                ? config.uploadLimit
                : config.bodyLimit
        const length = Number(request.headers.get('content-length') ?? '0')
        if (length > limit) {
          return fail(set, request, 413, 'PAYLOAD_TOO_LARGE', `request body is larger than ${limit} bytes`, { limit })
        }
        const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
        const hasBody = length > 0 || request.body !== null
        if (hasBody && !ACCEPTED_BODY_TYPES.includes(type)) {
          return fail(
            set,
            request,
            415,
            'UNSUPPORTED_MEDIA_TYPE',
            `content type ${type ? `'${type}'` : '(none)'} is not supported; send application/json`,
          )
        }
      }
    })
    .onError({ as: 'global' }, ({ code, error, request, set, route }) => {
      // A dependency outage is a 503 with the dependency's code, never a 500 (docs/faults.md).
      const outage = asDependencyError(error)
      if (outage) {
        options.dependencies?.failed(outage.dependency, error, {
          requestId: requestIdOf(request),
          traceId: options.traceIdOf?.(request),
          route,
        })
        Object.assign(set.headers, outage.headers)
        return fail(set, request, outage.status, outage.code, outage.message, outage.details)
      }
      if (error instanceof AppError) {
        if (error.headers) Object.assign(set.headers, error.headers)
        return fail(set, request, error.status, error.code, error.message, error.details)
      }
      switch (code) {
        case 'PARSE':
          return fail(set, request, 400, 'MALFORMED_BODY', 'the request body could not be parsed; send valid JSON')
        case 'VALIDATION': {
          const v = error as ValidationError
          // Only paths and messages: never the submitted values (passwords, tokens).
          const details = v.all.map((e) => ({
            in: v.type,
            path: 'path' in e && e.path ? e.path : '/',
            message: 'message' in e ? String(e.message) : 'invalid value',
          }))
          return fail(set, request, 400, 'VALIDATION_FAILED', `invalid ${v.type}`, details)
        }
        case 'NOT_FOUND': {
          const path = new URL(request.url).pathname
          const allowed = allowedMethods(path)
          if (allowed.length > 0 && !allowed.includes(request.method)) {
            set.headers.allow = allowed.join(', ')
            return fail(set, request, 405, 'METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${path}`)
          }
          return fail(set, request, 404, 'NOT_FOUND', `no route for ${request.method} ${path}`)
        }
        case 'INVALID_COOKIE_SIGNATURE':
          return fail(set, request, 400, 'BAD_REQUEST', 'invalid cookie signature')
        case 'INVALID_FILE_TYPE':
          return fail(set, request, 415, 'UNSUPPORTED_MEDIA_TYPE', 'file type is not accepted')
      }
      // Errors with an HTTP status from libraries (e.g. a body over Bun's limit).
      const status = (error as { status?: unknown }).status
      if (typeof status === 'number' && status >= 400 && status < 500) {
        return fail(set, request, status, 'BAD_REQUEST', 'the request could not be processed')
      }
      logger.error({ requestId: requestIdOf(request), err: error }, 'unhandled error')
      try {
        options.onUnexpected?.({ error, request, route: route || 'unmatched', code: 'INTERNAL' })
      } catch {
        // Reporting must never change the answer.
      }
      return fail(set, request, 500, 'INTERNAL', 'something went wrong on our side; the request id identifies it')
    })
    .onAfterResponse({ as: 'global' }, ({ request, set }) => {
      const m = meta.get(request)
      const url = new URL(request.url)
      logger.info(
        {
          requestId: m?.id,
          method: request.method,
          path: url.pathname,
          status: typeof set.status === 'number' ? set.status : 200,
          durationMs: m ? Math.round((performance.now() - m.start) * 100) / 100 : undefined,
        },
        'request',
      )
    })
}
