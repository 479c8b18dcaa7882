/**
 * The one place that turns API error codes (and transport failures) into words for people.
 * Codes are the API's stable UPPER_SNAKE strings (docs/api.md, "Error codes"); the client adds NETWORK,
 * OFFLINE and TIMEOUT for failures that never reached the server.
 */

/** An API failure: the envelope's error, or a transport failure with a client-side code. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 0,
    readonly requestId?: string,
    readonly details?: unknown,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

const MESSAGES: Record<string, string> = {
  // transport
  NETWORK: 'The server could not be reached. Check your connection and try again.',
  OFFLINE: 'You are offline. This will work again once your connection is back.',
  TIMEOUT: 'The server took too long to answer. Please try again.',
  // auth
  INVALID_CREDENTIALS: 'That email and password do not match an account.',
  UNAUTHORIZED: 'Please sign in to continue.',
  TOKEN_EXPIRED: 'Your session has expired. Please sign in again.',
  TOKEN_INVALID: 'Your session is no longer valid. Please sign in again.',
  TOKEN_REVOKED: 'You were signed out. Please sign in again.',
  REFRESH_REUSED: 'For your safety you were signed out everywhere. Please sign in again.',
  FORBIDDEN: 'Your account is not allowed to do that.',
  INSUFFICIENT_ROLE: 'Your account is not allowed to do that: it needs the admin role.',
  INVALID_TOKEN: 'Your session is no longer valid. Please sign in again.',
  INVALID_REFRESH_TOKEN: 'Your session has ended. Please sign in again.',
  AUTH_UNAVAILABLE: 'Signing in is unavailable for a moment. Please try again shortly.',
  WRONG_PASSWORD: 'The current password is not correct.',
  INVALID_CURSOR: 'That page of results is out of date. Reload the list.',
  POST_NOT_FOUND: 'That post does not exist (any more).',
  MEDIA_NOT_FOUND: 'That file does not exist (any more).',
  RECORDING_NOT_FOUND: 'There is no recording for that session.',
  DEMO_NOT_FOUND: 'This project has no demo recording.',
  EMPTY_FILE: 'That file is empty.',
  OPEN_FAILED: 'The terminal could not be started. Please try again.',
  // generic HTTP
  NOT_FOUND: 'We could not find that.',
  VALIDATION_FAILED: 'Some fields are not valid. Check them and try again.',
  MALFORMED_BODY: 'The request could not be read.',
  CONFLICT: 'That conflicts with something that already exists.',
  SLUG_TAKEN: 'That slug is already used by another item.',
  PAYLOAD_TOO_LARGE: 'That file is too large.',
  UNSUPPORTED_MEDIA_TYPE: 'That file type is not accepted.',
  RATE_LIMITED: 'Too many requests in a short time. Wait a moment and try again.',
  TOO_MANY_REQUESTS: 'Too many requests in a short time. Wait a moment and try again.',
  SERVICE_UNAVAILABLE: 'The service is temporarily unavailable. Please try again shortly.',
  INTERNAL: 'Something went wrong on our side. Please try again.',
  WEB_NOT_BUILT: 'The site has not been built yet.',
  // terminal
  TERMINAL_DISABLED: 'Live terminals are switched off at the moment. Please come back later.',
  FEATURE_DISABLED: 'This feature is switched off at the moment. Please come back later.',
  QUOTA_EXCEEDED: 'You have reached the limit of live terminals for now. Close another one or try again later.',
  SESSION_QUOTA: 'You have reached the limit of live terminals for now. Close another one or try again later.',
  TOO_MANY_SESSIONS: 'You have reached the limit of live terminals for now. Close another one or try again later.',
  CAPACITY_REACHED: 'All terminals are busy right now. Please try again in a minute.',
  RUNNER_BUSY: 'All terminals are busy right now. Please try again in a minute.',
  DATABASE_UNAVAILABLE: 'The site cannot reach its database for a moment. Please try again in a few seconds.',
  CACHE_UNAVAILABLE: 'The site is briefly unavailable. Please try again in a few seconds.',
  STORAGE_UNAVAILABLE: 'File storage is unavailable for a moment. Please try again in a few seconds.',
  PROBLEM_NOT_FOUND: 'That problem no longer exists.',
  RUNNER_UNAVAILABLE: 'That runner is not available right now. Try the other one, or come back later.',
  RUNNER_NOT_AVAILABLE: 'That runner is not available right now. Try the other one, or come back later.',
  PROJECT_NOT_FOUND: 'That project does not exist (any more).',
  RUNNER_NOT_SUPPORTED: 'This project does not run on that runner. Pick another one.',
  SESSION_LIMIT_IP:
    'You already have the maximum number of live terminals open. Close one (or wait for it to end) and try again.',
  SESSION_LIMIT_GLOBAL: 'All terminals are in use right now. Please try again in a minute.',
  QUEUE_LIMIT_IP: 'You are already waiting for terminals in other tabs. Wait in one of those.',
  QUEUE_FULL: 'All terminals are in use and the waiting line is full. Please try again in a few minutes.',
  QUEUE_PLACE_GONE: 'Your place in line was given up (the page stopped asking for a while). Start the terminal again.',
  SESSION_GONE: 'That terminal session has ended or was idle too long. Start a new one.',
  SESSION_REPLACED: 'This terminal was opened in another tab or window. Reconnect here to take it back.',
  ORIGIN_REFUSED: 'Terminals can only be opened from this site.',
  RUNNER_ERROR: 'The terminal could not be started. Please try again.',
  SESSION_NOT_FOUND: 'That terminal session has ended.',
  SESSION_ENDED: 'That terminal session has ended.',
  TICKET_INVALID: 'The terminal link expired before it was used. Start a new session.',
  RESUME_INVALID: 'That terminal session can no longer be resumed.',
  COMMAND_REFUSED: 'That command is not allowed in this sandbox.',
}

/** Words for a person, from any thrown value. Unknown codes fall back to the server's message. */
export function messageFor(err: unknown): string {
  if (err instanceof ApiError) return MESSAGES[err.code] ?? err.message ?? MESSAGES.INTERNAL!
  if (err instanceof Error && err.name === 'AbortError') return MESSAGES.TIMEOUT!
  // A page's code chunk could not be downloaded (offline, or a deploy replaced the files).
  if (err instanceof Error && /dynamically imported module|Importing a module script failed/i.test(err.message)) {
    return navigator.onLine
      ? 'This page could not be loaded; the site may have been updated. Reload the page.'
      : MESSAGES.OFFLINE!
  }
  return MESSAGES.INTERNAL!
}

/** Words for an error code alone (terminal control messages carry a code and a message). */
export function messageForCode(code: string, fallback?: string): string {
  return MESSAGES[code] ?? fallback ?? MESSAGES.INTERNAL!
}

/** True for failures worth retrying for an idempotent read. */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof ApiError)) return false
  return (
    err.code === 'NETWORK' ||
    err.code === 'TIMEOUT' ||
    err.status === 502 ||
    err.status === 503 ||
    err.status === 504 ||
    err.status === 429
  )
}
