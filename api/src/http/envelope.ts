import { t } from 'elysia'

/** Every JSON response: `{ data, meta, error }` (docs/api.md). */
export interface Envelope<T, M = null> {
  data: T
  meta: M
  error: null
}

export interface ErrorBody {
  data: null
  meta: null
  error: { code: string; message: string; requestId: string; details?: unknown }
}

export function ok<T>(data: T): Envelope<T, null>
export function ok<T, M>(data: T, meta: M): Envelope<T, M>
export function ok<T, M>(data: T, meta?: M): Envelope<T, M | null> {
  return { data, meta: meta ?? null, error: null }
}

export function errorBody(code: string, message: string, requestId: string, details?: unknown): ErrorBody {
  return {
    data: null,
    meta: null,
    error: details === undefined ? { code, message, requestId } : { code, message, requestId, details },
  }
}

// TypeBox is not a direct dependency of api (isolated installs): name its types through `t`.
type TSchema = Parameters<typeof t.Array>[0]
type TNull = ReturnType<typeof t.Null>
type EnvelopeSchema<D extends TSchema, M extends TSchema> = ReturnType<
  typeof t.Object<{ data: D; meta: M; error: TNull }>
>

/** Response schema of a successful envelope around `data` (typed, so handlers and Eden see it). */
export function envelopeSchema<D extends TSchema, M extends TSchema = TNull>(data: D, meta?: M): EnvelopeSchema<D, M> {
  return t.Object({ data, meta: (meta ?? t.Null()) as M, error: t.Null() })
}

export const errorSchema = t.Object({
  data: t.Null(),
  meta: t.Null(),
  error: t.Object({
    code: t.String(),
    message: t.String(),
    requestId: t.String(),
    details: t.Optional(t.Any()),
  }),
})
