/**
 * Project files over the runner-service hop (docs/runners.md, "Imported projects on runner
 * services"). The API tars a project folder it laid out (an imported version) once, names the tar
 * by its SHA-256 and size in the signed open grant, and sends the bytes on the session's socket only
 * when the service asks (`send-project`): a service keeps each project it received, unpacked under
 * its cache folder by hash, so later sessions of that version open without a transfer. The service
 * checks the size while receiving and the hash before unpacking; a tar whose bytes do not match the
 * grant is refused and nothing is kept.
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import { RunnerError } from '../types.ts'

/** Largest project tar a service accepts, and the API sends (imports stop at 200 MiB unpacked). */
export const BUNDLE_LIMIT = 256 * 1024 * 1024
/** Bytes per binary frame of a transfer (the service takes frames of up to 128 KiB). */
export const BUNDLE_CHUNK = 64 * 1024
const SHA256 = /^[0-9a-f]{64}$/

export interface BundleRef {
  sha256: string
  bytes: number
}

/** Checks a reference from the wire before anything is asked for or written. */
export function checkBundleRef(ref: unknown, limit = BUNDLE_LIMIT): BundleRef {
  const r = ref as Partial<BundleRef> | null
  if (!r || typeof r.sha256 !== 'string' || !SHA256.test(r.sha256) || !Number.isInteger(r.bytes) || (r.bytes ?? 0) < 0)
    throw new RunnerError('INVALID_PROJECT', 'the project files reference is malformed')
  if ((r.bytes as number) > limit)
    throw new RunnerError(
      'PROJECT_TOO_LARGE',
      `the project's files (${r.bytes} bytes) are over this runner service's limit of ${limit} bytes`,
    )
  return { sha256: r.sha256, bytes: r.bytes as number }
}

// ---------------------------------------------------------------------------------------------
// API side: the tar of a laid-out folder, cached.

const made = new Map<string, { mtimeMs: number; bundle: Promise<{ ref: BundleRef; body: Uint8Array }> }>()
/** Tars kept in memory on the API side (an imported version's folder never changes). */
const MADE_CACHED = 8

/** The tar of `dir` (every file, `prebuilt/` included: WASI runs it) with its reference. */
export function makeBundle(dir: string, limit = BUNDLE_LIMIT): Promise<{ ref: BundleRef; body: Uint8Array }> {
  let mtimeMs: number
  try {
    mtimeMs = statSync(dir).mtimeMs
  } catch {
    return Promise.reject(new RunnerError('PROJECT_NOT_FOUND', `project directory ${dir} does not exist`))
  }
  const hit = made.get(dir)
  if (hit && hit.mtimeMs === mtimeMs) {
    made.delete(dir)
    made.set(dir, hit)
    return hit.bundle
  }
  const bundle = (async () => {
    const proc = Bun.spawn(['tar', '-C', dir, '--numeric-owner', '--exclude=./.git', '-cf', '-', '.'], {
      stdout: 'pipe',
      stderr: 'pipe',
    })
    const [out, err, code] = await Promise.all([
      new Response(proc.stdout).arrayBuffer(),
      new Response(proc.stderr).text(),
      proc.exited,
    ])
    if (code !== 0) throw new RunnerError('PROJECT_NOT_FOUND', `could not read ${dir}: ${err.trim()}`)
    const body = new Uint8Array(out)
    if (body.length > limit)
      throw new RunnerError('PROJECT_TOO_LARGE', `the project's files (${body.length} bytes) are over ${limit} bytes`)
    return { ref: { sha256: createHash('sha256').update(body).digest('hex'), bytes: body.length }, body }
  })()
  bundle.catch(() => made.delete(dir))
  made.set(dir, { mtimeMs, bundle })
  while (made.size > MADE_CACHED) made.delete(made.keys().next().value as string)
  return bundle
}

// ---------------------------------------------------------------------------------------------
// Service side: received tars, unpacked by hash.

export interface BundleStore {
  /** The unpacked folder of `ref` when this service has it (marks it used now). */
  get(ref: BundleRef): string | undefined
  /** A transfer of `ref`: push its bytes in order; `done` checks and unpacks them. */
  receive(ref: BundleRef): BundleReceiver
  /** A session uses the folder until `release` (kept out of eviction meanwhile). */
  hold(ref: BundleRef): () => void
  readonly dir: string
}

export interface BundleReceiver {
  /** Adds bytes; throws PROJECT_TOO_LARGE beyond the size the grant named. */
  push(chunk: Uint8Array): void
  readonly received: number
  /** Checks size and hash, unpacks, returns the folder. */
  done(): Promise<string>
  /** Drops what was received (the socket closed, a timeout). */
  abort(): void
}

/**
 * Projects this service received, unpacked under `dir/<sha256>` (written to a temporary folder and
 * renamed, so never seen half-unpacked). At most `maxEntries` folders are kept; the least recently
 * used one no session holds goes first.
 */
export function createBundleStore(dir: string, maxEntries = 64): BundleStore {
  mkdirSync(dir, { recursive: true })
  // Leftovers of a previous process that stopped mid-transfer.
  for (const name of readdirSync(dir))
    if (name.startsWith('.tmp-')) rmSync(join(dir, name), { recursive: true, force: true })
  const holds = new Map<string, number>()
  const pathOf = (sha256: string) => join(dir, sha256)

  const evict = () => {
    const entries = readdirSync(dir)
      .filter((n) => SHA256.test(n))
      .map((n) => ({ n, at: statSync(pathOf(n)).mtimeMs }))
      .sort((a, b) => a.at - b.at)
    let excess = entries.length - maxEntries
    for (const e of entries) {
      if (excess <= 0) break
      if ((holds.get(e.n) ?? 0) > 0) continue
      rmSync(pathOf(e.n), { recursive: true, force: true })
      excess--
    }
  }

  return {
    dir,
    get(ref) {
      const path = pathOf(ref.sha256)
      if (!existsSync(path)) return undefined
      const now = new Date()
      utimesSync(path, now, now)
      return path
    },
    hold(ref) {
      holds.set(ref.sha256, (holds.get(ref.sha256) ?? 0) + 1)
      let released = false
      return () => {
        if (released) return
        released = true
        const n = (holds.get(ref.sha256) ?? 1) - 1
        if (n > 0) holds.set(ref.sha256, n)
        else holds.delete(ref.sha256)
      }
    },
    receive(ref) {
      const tmp = join(dir, `.tmp-${ref.sha256.slice(0, 16)}-${crypto.randomUUID().slice(0, 8)}`)
      const tarPath = `${tmp}.tar`
      const hash = createHash('sha256')
      const writer = Bun.file(tarPath).writer()
      let received = 0
      let aborted = false
      const cleanup = () => {
        rmSync(tarPath, { force: true })
        rmSync(tmp, { recursive: true, force: true })
      }
      return {
        get received() {
          return received
        },
        push(chunk) {
          if (aborted) return
          if (received + chunk.length > ref.bytes) {
            this.abort()
            throw new RunnerError(
              'PROJECT_TOO_LARGE',
              `the project's files are larger than the ${ref.bytes} bytes announced`,
            )
          }
          received += chunk.length
          hash.update(chunk)
          writer.write(chunk)
        },
        async done() {
          try {
            await writer.end()
            if (received !== ref.bytes)
              throw new RunnerError(
                'INVALID_PROJECT',
                `the project's files ended after ${received} of ${ref.bytes} bytes`,
              )
            if (hash.digest('hex') !== ref.sha256)
              throw new RunnerError('INVALID_PROJECT', "the project's files do not match their SHA-256")
            const existing = pathOf(ref.sha256)
            if (existsSync(existing)) return existing
            mkdirSync(tmp)
            // why: the hash matched the signed grant, so this is the API's own tar; still, never
            // take its owners (this service may run as root) and never write outside the folder
            const proc = Bun.spawn(['tar', '-x', '--no-same-owner', '-C', tmp, '-f', tarPath], {
              stdout: 'ignore',
              stderr: 'pipe',
            })
            const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited])
            if (code !== 0)
              throw new RunnerError('INVALID_PROJECT', `could not unpack the project's files: ${err.trim()}`)
            try {
              renameSync(tmp, existing)
            } catch (e) {
              // another session's transfer of the same version finished first
              if (!existsSync(existing)) throw e
            }
            evict()
            return existing
          } finally {
            cleanup()
          }
        },
        abort() {
          if (aborted) return
          aborted = true
          void Promise.resolve(writer.end()).finally(cleanup)
        },
      }
    },
  }
}
