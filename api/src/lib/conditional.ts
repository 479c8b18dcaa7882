import { BadRequestError } from '../http/errors.ts'
import { type CachedRead, matchesEtag } from './read-cache.ts'

type SetLike = { status?: number | string; headers: Record<string, string | number> }

/**
 * Answers a public GET from a cached read: sets ETag and a short shared cache lifetime, and
 * returns a bodiless 304 when the client's If-None-Match already holds this version.
 * `body` builds the envelope only when it is needed.
 */
export function conditional<T, B>(request: Request, set: SetLike, read: CachedRead<T>, body: (value: T) => B): B {
  set.headers.etag = read.etag
  // Revalidate every time: content changes on admin writes, and the ETag makes it cheap.
  set.headers['cache-control'] = 'public, max-age=0, must-revalidate'
  if (matchesEtag(request.headers.get('if-none-match'), read.etag)) {
    set.status = 304
    // Typed as the body so the route's response schema stays the 200 one; Elysia sends no body.
    return new Response(null, { status: 304, headers: set.headers as Record<string, string> }) as unknown as B
  }
  return body(read.value)
}

/**
 * Rejects a query parameter given more than once (Elysia silently keeps one of them), so
 * `?limit=5&limit=500` is a 400 rather than a guess.
 */
export function rejectRepeatedQuery(request: Request, names: readonly string[]): void {
  const params = new URL(request.url).searchParams
  const repeated = names.filter((n) => params.getAll(n).length > 1)
  if (repeated.length > 0) {
    throw new BadRequestError(
      `query parameter ${repeated.map((n) => `'${n}'`).join(', ')} must be given at most once`,
      repeated.map((n) => ({ in: 'query', path: `/${n}`, message: 'given more than once' })),
      'VALIDATION_FAILED',
    )
  }
}
