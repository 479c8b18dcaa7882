import { FormatRegistry } from 'elysia/type-system'

/**
 * String formats our schemas use, checked with one precompiled regular expression each.
 *
 * Why: `@elysiajs/openapi` registers, when it is imported, TypeBox format functions for `uuid`,
 * `email` and others that build a Zod schema on every call (`check(string().uuid(), value)`).
 * TypeBox looks formats up at check time, so every validated `uuid` field of every request paid for
 * a Zod construction: ~70% of the CPU of a cached 20-item list (see docs/performance.md). These
 * checkers accept exactly what the plugin's do — the expressions are Zod 4's own (the version the
 * plugin bundles) — so no request is judged differently, only faster.
 *
 * `date-time` is Elysia's own checker (regular expressions, no Zod) and stays as it is.
 */
export const FAST_FORMATS = {
  /** Zod 4 `z.uuid()`: RFC 9562 versions 1–8 with the variant bits, plus the nil and max UUIDs. */
  uuid: matcher(
    /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$/,
  ),
  /** Zod 4 `z.email()` (its default, "html5-like" pattern). */
  email: matcher(/^(?!\.)(?!.*\.\.)([A-Za-z0-9_'+\-.]*)[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9-]*\.)+[A-Za-z]{2,}$/),
} as const satisfies Record<string, (value: string) => boolean>

export type FastFormat = keyof typeof FAST_FORMATS

function matcher(re: RegExp): (value: string) => boolean {
  return (value) => typeof value === 'string' && re.test(value)
}

const displaced = new Map<FastFormat, (value: string) => boolean>()

/**
 * Registers FAST_FORMATS over whatever is registered (the OpenAPI plugin's Zod-backed functions).
 * Call it after `@elysiajs/openapi` has been imported (the docs module does): the plugin overwrites
 * these names unconditionally when its module is evaluated. Idempotent.
 */
export function installFastFormats(): void {
  for (const [name, check] of Object.entries(FAST_FORMATS) as [FastFormat, (value: string) => boolean][]) {
    const previous = FormatRegistry.Get(name)
    if (previous === check) continue
    if (previous && !displaced.has(name)) displaced.set(name, previous)
    FormatRegistry.Set(name, check)
  }
}

/** The functions installFastFormats replaced (the plugin's), so a test can prove both agree. */
export function displacedFormats(): ReadonlyMap<FastFormat, (value: string) => boolean> {
  return displaced
}
