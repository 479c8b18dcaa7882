/**
 * The compile cache of clang-in-WebAssembly (docs/budgets.md, "Compile cache"): what a compile
 * produced, keyed by a SHA-256 of the compiler's version, the arguments and the preprocessed source
 * (for `-c`) or the bytes of every input (for a link). It is shared by the sessions of the process:
 * an unedited file hits whoever compiled it first, an edited one (or one whose headers changed)
 * has another preprocessed text and misses. Bounded in bytes, least recently used out first.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

/** Default size of the cache: objects, executables and their diagnostics. */
export const COMPILE_CACHE_BYTES = 64 * 1024 * 1024

export interface CacheEntry {
  /** Files the compile wrote, by path relative to its working directory. */
  files: [string, Uint8Array][]
  /** Its diagnostics (warnings), replayed on a hit. */
  output: Uint8Array
}

const sizeOf = (e: CacheEntry) => e.output.length + e.files.reduce((n, [p, b]) => n + p.length + b.length, 0)

/** How a command over a source maps to its preprocessed key: the included files and their hashes. */
export interface Manifest {
  key: string
  deps: [string, string][]
}

/** Manifests kept (a few hundred bytes each). */
export const MANIFESTS = 4096

export class CompileCache {
  /** Insertion order is recency: a hit moves its entry to the end. */
  readonly #entries = new Map<string, { entry: CacheEntry; size: number }>()
  readonly #manifests = new Map<string, Manifest>()
  #bytes = 0
  hits = 0
  misses = 0
  /** Keys found from a manifest, without running the preprocessor. */
  direct = 0
  /** Compiles answered by waiting for the same compile of another session (toolchain.ts). */
  shared = 0

  constructor(readonly maxBytes = COMPILE_CACHE_BYTES) {}

  /** Bytes held now (never above maxBytes). */
  get bytes(): number {
    return this.#bytes
  }

  get size(): number {
    return this.#entries.size
  }

  get(key: string): CacheEntry | undefined {
    const held = this.#entries.get(key)
    if (!held) {
      this.misses++
      return undefined
    }
    this.hits++
    this.#entries.delete(key)
    this.#entries.set(key, held)
    return held.entry
  }

  /** Stores an entry (one larger than the whole cache is not kept), evicting the least recently used. */
  set(key: string, entry: CacheEntry): void {
    const size = sizeOf(entry) + key.length
    if (size > this.maxBytes) return
    const old = this.#entries.get(key)
    if (old) {
      this.#bytes -= old.size
      this.#entries.delete(key)
    }
    while (this.#bytes + size > this.maxBytes) {
      const [oldest, held] = this.#entries.entries().next().value as [string, { size: number }]
      this.#entries.delete(oldest)
      this.#bytes -= held.size
    }
    this.#entries.set(key, { entry, size })
    this.#bytes += size
  }

  /** The manifest of a direct key (see toolchain.ts `#cacheKey`), if known. */
  manifest(direct: string): Manifest | undefined {
    const m = this.#manifests.get(direct)
    if (m) {
      this.#manifests.delete(direct)
      this.#manifests.set(direct, m)
    }
    return m
  }

  setManifest(direct: string, manifest: Manifest): void {
    this.#manifests.delete(direct)
    this.#manifests.set(direct, manifest)
    if (this.#manifests.size > MANIFESTS) this.#manifests.delete(this.#manifests.keys().next().value as string)
  }

  clear(): void {
    this.#manifests.clear()
    this.#entries.clear()
    this.#bytes = 0
  }
}

/** A SHA-256 over strings and bytes, each part length-prefixed (no two part lists collide). */
export function cacheKey(parts: (string | Uint8Array)[]): string {
  const h = createHash('sha256')
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part) : part
    h.update(`${bytes.length}:`)
    h.update(bytes)
  }
  return h.digest('hex')
}

/** SHA-256 of some bytes, hex. */
export function digest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

let version: string | undefined

/** The compiler's identity: @yowasp/clang's package name and version (LLVM and its headers with it). */
export function compilerVersion(): string {
  if (version) return version
  version = 'unknown'
  try {
    let dir = dirname(Bun.resolveSync('@yowasp/clang', import.meta.dir))
    for (let i = 0; i < 6 && !existsSync(join(dir, 'package.json')); i++) dir = dirname(dir)
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string }
    version = `${pkg.name}@${pkg.version}`
  } catch {}
  return version
}
