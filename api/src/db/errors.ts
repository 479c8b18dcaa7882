/**
 * True for a PostgreSQL unique violation (SQLSTATE 23505), whether the driver's error comes bare or
 * wrapped by drizzle (`cause`). PostgreSQL and PGlite report the same code.
 */
export function isUniqueViolation(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; depth++) {
    if (e.code === '23505') return true
    e = e.cause as typeof e
  }
  return false
}
