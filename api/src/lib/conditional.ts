import { getSchemaValidator, type TSchema, ValidationError } from 'elysia'
import { BadRequestError } from '../http/errors.ts'
import { type CachedRead, matchesEtag } from './read-cache.ts'

type SetLike = { status?: number | string; headers: Record<string, string | number> }

/** What a cached read answers with: the envelope serialized once, and the read's ETag. */
interface PreparedBody {
  json: string
  etag: string
}

const JSON_TYPE = 'application/json;charset=utf-8'

/**
 * The response for a prepared body: a bodiless 304 when the client's If-None-Match already holds
 * this version, else the JSON. ETag and a short shared cache lifetime either way.
 */
function respondWith(request: Request, set: SetLike, prepared: PreparedBody): Response {
  const headers = set.headers as Record<string, string>
  headers.etag = prepared.etag
  // Revalidate every time: content changes on admin writes, and the ETag makes it cheap.
  headers['cache-control'] = 'public, max-age=0, must-revalidate'
  // Every header goes on this Response, and set.headers is emptied: Elysia merges non-empty
  // set.headers into a returned Response by building a second Response and Headers per request
  // (a fifth of a cached read's CPU); with nothing to merge it sends this one as it is.
  set.headers = {}
  if (matchesEtag(request.headers.get('if-none-match'), prepared.etag)) {
    set.status = 304
    return new Response(null, { status: 304, headers })
  }
  headers['content-type'] = JSON_TYPE
  return new Response(prepared.json, { status: 200, headers })
}

/** A deep copy of a TypeBox schema, its symbol keys (TypeBox's Kind) included. */
function copySchema<S>(source: S): S {
  if (source === null || typeof source !== 'object') return source
  if (Array.isArray(source)) return source.map(copySchema) as S
  const copy: Record<string | symbol, unknown> = {}
  for (const key of [...Object.keys(source), ...Object.getOwnPropertySymbols(source)]) {
    copy[key] = copySchema((source as Record<string | symbol, unknown>)[key])
  }
  return copy as S
}

/**
 * The answers of one public, cached GET route: `envelope` builds the response body from a cached
 * read, which is checked against `schema` — the route's declared 200 schema, normalized exactly as
 * Elysia does for a returned object (Clean, then Check) — and serialized, **once per read**. Every
 * later request that gets the same read object (a local hit of the read cache) is answered with
 * that string, or a 304, without building, validating or serializing anything again.
 *
 * Why here and not in the read cache: the shared cache (Redis) keeps plain values, the same for
 * every instance and every version during a rolling deploy, and the envelope and its schema belong
 * to the route. The route's `response` schemas stay declared, so the OpenAPI document is unchanged;
 * Elysia does not validate a returned Response — this check, at fill time, takes its place.
 */
export function publicBodies<T, B>(schema: TSchema, envelope: (value: T) => B) {
  // A copy: building a validator marks the schema's objects `additionalProperties: false`, and the
  // model is also what the OpenAPI document is generated from.
  const validator = getSchemaValidator(copySchema(schema), { normalize: true })
  // Keyed by the read object: a read that leaves the read cache frees its body.
  const bodies = new WeakMap<CachedRead<T>, PreparedBody>()

  const prepare = (read: CachedRead<T>): PreparedBody => {
    let body: unknown = envelope(read.value)
    try {
      // As Elysia normalizes a response: a value Clean cannot handle is left to Check to refuse.
      if (validator.Clean) body = validator.Clean(body)
    } catch {}
    // The same error Elysia throws for a response that does not fit its schema.
    if (!validator.Check(body)) throw new ValidationError('response', validator, body)
    const prepared = { json: JSON.stringify(body), etag: read.etag }
    bodies.set(read, prepared)
    return prepared
  }

  return {
    /**
     * The answer for `read`: 304, or the prepared JSON. Typed as the envelope so the route's
     * response type (and the typed client's) stays the schema's; Elysia sends the Response as is.
     */
    respond(request: Request, set: SetLike, read: CachedRead<T>): B {
      return respondWith(request, set, bodies.get(read) ?? prepare(read)) as unknown as B
    },
  }
}

/**
 * Rejects a query parameter given more than once (Elysia silently keeps one of them), so
 * `?limit=5&limit=500` is a 400 rather than a guess.
 */
export function rejectRepeatedQuery(request: Request, names: readonly string[]): void {
  // Public reads call this on every request: parse only the query string, once.
  const url = request.url
  const start = url.indexOf('?')
  if (start === -1) return
  const seen = new Set<string>()
  const twice = new Set<string>()
  for (const name of new URLSearchParams(url.slice(start + 1)).keys()) {
    if (seen.has(name)) twice.add(name)
    seen.add(name)
  }
  const repeated = names.filter((n) => twice.has(n))
  if (repeated.length > 0) {
    throw new BadRequestError(
      `query parameter ${repeated.map((n) => `'${n}'`).join(', ')} must be given at most once`,
      repeated.map((n) => ({ in: 'query', path: `/${n}`, message: 'given more than once' })),
      'VALIDATION_FAILED',
    )
  }
}
