import { t } from 'elysia'

/** Every JSON response: `{ data, meta, error }` (DESIGN.md §5). */
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

/** Response schema helper for OpenAPI: the envelope around `data`. */
export const envelopeOf = <T extends Parameters<typeof t.Object>[0] | ReturnType<typeof t.Any>>(data: T) =>
  t.Object({ data: data as never, meta: t.Any(), error: t.Null() })

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
