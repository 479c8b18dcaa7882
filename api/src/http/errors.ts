/**
 * Domain errors carry an HTTP status and a stable UPPER_SNAKE code; the global error plugin
 * (plugin.http) maps every one of them, and every unknown error, to the envelope.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message)
    this.name = 'AppError'
  }
}

export class BadRequestError extends AppError {
  constructor(message: string, details?: unknown, code = 'BAD_REQUEST') {
    super(400, code, message, details)
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'authentication required', code = 'UNAUTHORIZED') {
    super(401, code, message, undefined, { 'WWW-Authenticate': 'Bearer' })
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'you are not allowed to do this', code = 'FORBIDDEN') {
    super(403, code, message)
  }
}

export class NotFoundError extends AppError {
  constructor(message = 'not found', code = 'NOT_FOUND') {
    super(404, code, message)
  }
}

export class ConflictError extends AppError {
  constructor(message: string, code = 'CONFLICT') {
    super(409, code, message)
  }
}

export class TooManyRequestsError extends AppError {
  constructor(message: string, retryAfterSeconds: number, headers: Record<string, string> = {}) {
    super(429, 'RATE_LIMITED', message, { retryAfterSeconds }, { 'Retry-After': String(retryAfterSeconds), ...headers })
  }
}

/** A 503: always with a `Retry-After` (default 5 s) so clients and proxies know when to ask again. */
export class ServiceUnavailableError extends AppError {
  constructor(message: string, code = 'SERVICE_UNAVAILABLE', retryAfterSeconds = 5) {
    super(503, code, message, undefined, { 'Retry-After': String(retryAfterSeconds) })
  }
}

/** The parts a request may depend on; each has its own 503 code (docs/faults.md). */
export type Dependency = 'database' | 'cache' | 'storage' | 'runner'

export const DEPENDENCY_CODES: Record<Dependency, string> = {
  database: 'DATABASE_UNAVAILABLE',
  cache: 'CACHE_UNAVAILABLE',
  storage: 'STORAGE_UNAVAILABLE',
  runner: 'RUNNER_UNAVAILABLE',
}

const DEPENDENCY_WORDS: Record<Dependency, string> = {
  database: 'the database is not answering right now',
  cache: 'the cache is not answering right now',
  storage: 'file storage is not answering right now',
  runner: 'the runner is not answering right now',
}

/** Seconds a client is asked to wait before retrying a request refused by an outage. */
export const DEPENDENCY_RETRY_AFTER_SECONDS = 5

/**
 * A dependency outage, not a bug: 503 with the dependency's code and a `Retry-After`
 * (docs/faults.md). Raised by adapters that know their failure, or built by the error mapper from a
 * driver's error (`classifyDependencyError`, api/src/health/dependencies.ts). `cause` is kept for
 * the log, never shown to the client.
 */
export class DependencyUnavailableError extends AppError {
  constructor(
    readonly dependency: Dependency,
    cause?: unknown,
    message = `${DEPENDENCY_WORDS[dependency]}; try again in a few seconds`,
  ) {
    super(
      503,
      DEPENDENCY_CODES[dependency],
      message,
      { dependency, retryAfterSeconds: DEPENDENCY_RETRY_AFTER_SECONDS },
      { 'Retry-After': String(DEPENDENCY_RETRY_AFTER_SECONDS) },
    )
    this.name = 'DependencyUnavailableError'
    if (cause !== undefined) this.cause = cause
  }
}
