import { t } from 'elysia'

// TypeBox is not a direct dependency of api (isolated installs): name its types through `t`.
type Literals<T extends readonly string[]> = { -readonly [K in keyof T]: ReturnType<typeof t.Literal<T[K]>> }

/**
 * A union of the string constants in `values` (OpenAPI: an `anyOf` of consts), typed as their
 * union. Not `t.UnionEnum`: that one carries a `default` (its first value), which Elysia fills in
 * for an optional field the client left out.
 */
export function literalUnion<const T extends readonly string[]>(values: T) {
  return t.Union<Literals<T>>(values.map((value) => t.Literal(value)) as [...Literals<T>])
}
