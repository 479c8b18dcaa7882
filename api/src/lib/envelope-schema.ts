import { t } from 'elysia'

// TypeBox is not a direct dependency of api (isolated installs): name its types through `t`.
type TSchema = Parameters<typeof t.Array>[0]
type TNull = ReturnType<typeof t.Null>
type Envelope<D extends TSchema, M extends TSchema> = ReturnType<typeof t.Object<{ data: D; meta: M; error: TNull }>>

/**
 * Response schema of a successful envelope around `data`, with `meta` null or the given schema.
 * (http/envelope.ts `envelopeOf` erases the data type, which breaks handler typing and Eden.)
 */
export function envelopeSchema<D extends TSchema, M extends TSchema = TNull>(data: D, meta?: M): Envelope<D, M> {
  return t.Object({ data, meta: (meta ?? t.Null()) as M, error: t.Null() })
}
