/**
 * Reads an uploaded project archive (.tar.gz/.tgz/.tar or .zip) one entry at a time, refusing what
 * could escape or exhaust the server (docs/projects.md, "Archive safety"): memory stays bounded by
 * the largest single file, whatever the archive says about itself.
 */
import { posix } from 'node:path'

export interface ArchiveLimits {
  /** Most entries (files, folders, links) an archive may hold. */
  maxEntries: number
  /** Most bytes all its files may inflate to (a zip bomb stops here). */
  maxUnpackedBytes: number
  /** Largest single file (the sandbox's file-size limit). */
  maxFileBytes: number
}

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = {
  maxEntries: 5_000,
  maxUnpackedBytes: 200 * 1024 * 1024,
  maxFileBytes: 64 * 1024 * 1024,
}

export type ArchiveEntry =
  | { kind: 'file'; path: string; mode: number; body: Uint8Array }
  | { kind: 'dir'; path: string }
  | { kind: 'symlink'; path: string; target: string }
  /** A tar hard link: the same bytes as an earlier file of the archive. */
  | { kind: 'hardlink'; path: string; target: string }

/** Why an archive was refused; `entry` names the offending entry when there is one. */
export class ArchiveError extends Error {
  constructor(
    readonly code: 'ARCHIVE_INVALID' | 'ARCHIVE_UNSAFE_ENTRY' | 'ARCHIVE_TOO_LARGE' | 'ARCHIVE_TOO_MANY_ENTRIES',
    message: string,
    readonly entry?: string,
  ) {
    super(message)
    this.name = 'ArchiveError'
  }
}

export type ArchiveFormat = 'tar.gz' | 'tar' | 'zip'

/** The format from the first bytes (never from the file name a client chose). */
export function sniffArchive(head: Uint8Array): ArchiveFormat | null {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz'
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'zip'
  if (head.length >= 262 && new TextDecoder().decode(head.subarray(257, 262)) === 'ustar') return 'tar'
  return null
}

/**
 * A path inside the project: relative, no `..`, no NUL or backslash, at most 1024 bytes. Returns
 * the normalized path ('' for the root itself), or throws naming the entry.
 */
export function safePath(raw: string): string {
  const unsafe = (why: string) => new ArchiveError('ARCHIVE_UNSAFE_ENTRY', `entry '${raw}' ${why}`, raw)
  if (raw.length > 1024) throw unsafe('has a path longer than 1024 characters')
  if (raw.includes('\0') || raw.includes('\\')) throw unsafe('has a NUL or backslash in its path')
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw)) throw unsafe('has an absolute path')
  if (raw.split('/').includes('..')) throw unsafe("escapes the project folder ('..')")
  const normal = posix.normalize(raw).replace(/\/+$/, '')
  return normal === '.' ? '' : normal.replace(/^\.\//, '')
}

/**
 * A symbolic link's target must resolve inside the project (relative, never absolute): returns the
 * target as given, or throws naming the link.
 */
export function safeLinkTarget(path: string, target: string): string {
  const outside = () => new ArchiveError('ARCHIVE_UNSAFE_ENTRY', `link '${path}' points outside the project`, path)
  if (target === '' || target.startsWith('/') || target.includes('\0')) throw outside()
  const resolved = posix.normalize(posix.join(posix.dirname(path), target))
  if (resolved === '..' || resolved.startsWith('../')) throw outside()
  return target
}

/** Reads exactly n bytes at a time from a stream of chunks, holding at most one chunk beyond. */
class ByteReader {
  private buffered: Uint8Array[] = []
  private size = 0
  private done = false
  constructor(private readonly source: AsyncIterator<Uint8Array>) {}

  private async fill(n: number): Promise<boolean> {
    while (this.size < n && !this.done) {
      const next = await this.source.next()
      if (next.done) this.done = true
      else if (next.value.length > 0) {
        this.buffered.push(next.value)
        this.size += next.value.length
      }
    }
    return this.size >= n
  }

  /** n bytes, or null at a clean end of stream (throws on a short read). */
  async read(n: number): Promise<Uint8Array | null> {
    if (n === 0) return new Uint8Array(0)
    if (!(await this.fill(n))) {
      if (this.size === 0) return null
      throw new ArchiveError('ARCHIVE_INVALID', 'the archive ends in the middle of an entry (truncated?)')
    }
    const out = new Uint8Array(n)
    let at = 0
    while (at < n) {
      const head = this.buffered[0] as Uint8Array
      const take = Math.min(head.length, n - at)
      out.set(head.subarray(0, take), at)
      at += take
      if (take === head.length) this.buffered.shift()
      else this.buffered[0] = head.subarray(take)
    }
    this.size -= n
    return out
  }

  async skip(n: number): Promise<void> {
    let left = n
    while (left > 0) {
      const chunk = Math.min(left, 1 << 20)
      if ((await this.read(chunk)) === null) throw new ArchiveError('ARCHIVE_INVALID', 'the archive is truncated')
      left -= chunk
    }
  }
}

const text = (bytes: Uint8Array) => {
  const end = bytes.indexOf(0)
  return new TextDecoder().decode(end >= 0 ? bytes.subarray(0, end) : bytes)
}

function octal(field: Uint8Array, what: string): number {
  // why: GNU tar writes sizes over 8 GiB in base-256 (high bit set); nothing that large is allowed
  if ((field[0] ?? 0) & 0x80) throw new ArchiveError('ARCHIVE_TOO_LARGE', `a tar ${what} is too large`)
  const s = text(field).trim()
  if (s === '') return 0
  if (!/^[0-7]+$/.test(s)) throw new ArchiveError('ARCHIVE_INVALID', `the archive has an invalid tar header (${what})`)
  return Number.parseInt(s, 8)
}

/** PAX extended header records: `<len> key=value\n`. */
function paxRecords(body: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {}
  const s = new TextDecoder().decode(body)
  let at = 0
  while (at < s.length) {
    const space = s.indexOf(' ', at)
    if (space < 0) break
    const len = Number.parseInt(s.slice(at, space), 10)
    if (!Number.isFinite(len) || len <= 0) break
    const record = s.slice(space + 1, at + len - 1)
    const eq = record.indexOf('=')
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1)
    at += len
  }
  return out
}

interface Budget {
  entries: number
  bytes: number
}

function countEntry(budget: Budget, limits: ArchiveLimits): void {
  budget.entries++
  if (budget.entries > limits.maxEntries) {
    throw new ArchiveError('ARCHIVE_TOO_MANY_ENTRIES', `the archive has more than ${limits.maxEntries} entries`)
  }
}

function countBytes(budget: Budget, limits: ArchiveLimits, n: number, path: string): void {
  if (n > limits.maxFileBytes) {
    throw new ArchiveError(
      'ARCHIVE_TOO_LARGE',
      `entry '${path}' is larger than ${limits.maxFileBytes} bytes unpacked`,
      path,
    )
  }
  budget.bytes += n
  if (budget.bytes > limits.maxUnpackedBytes) {
    throw new ArchiveError('ARCHIVE_TOO_LARGE', `the archive unpacks to more than ${limits.maxUnpackedBytes} bytes`)
  }
}

/** A stream's chunks as an iterator (the DOM typings the web build checks this file with lack the async iterator). */
async function* chunksOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      yield value
    }
  } finally {
    await reader.cancel().catch(() => {})
  }
}

const inflate = (stream: ReadableStream<Uint8Array>, format: 'gzip' | 'deflate-raw') =>
  stream.pipeThrough(new DecompressionStream(format) as unknown as TransformStream<Uint8Array, Uint8Array>)

async function* tarEntries(stream: ReadableStream<Uint8Array>, limits: ArchiveLimits): AsyncGenerator<ArchiveEntry> {
  const reader = new ByteReader(chunksOf(stream))
  const budget: Budget = { entries: 0, bytes: 0 }
  let longName: string | undefined
  let longLink: string | undefined
  let pax: Record<string, string> = {}
  for (;;) {
    const header = await reader.read(512)
    if (header === null || header.every((b) => b === 0)) return // end-of-archive blocks
    const size = octal(header.subarray(124, 136), 'size')
    const type = String.fromCharCode(header[156] || 0x30)
    const padded = Math.ceil(size / 512) * 512
    // Metadata entries describe the next entry; their bodies are small.
    if (type === 'L' || type === 'K' || type === 'x' || type === 'g') {
      if (size > 64 * 1024) throw new ArchiveError('ARCHIVE_INVALID', 'the archive has an oversized tar metadata entry')
      const body = (await reader.read(padded)) ?? new Uint8Array(0)
      const value = body.subarray(0, size)
      if (type === 'L') longName = text(value)
      else if (type === 'K') longLink = text(value)
      else if (type === 'x') pax = paxRecords(value)
      continue
    }
    const prefix = text(header.subarray(345, 500))
    const short = text(header.subarray(0, 100))
    const rawName = pax.path ?? longName ?? (prefix ? `${prefix}/${short}` : short)
    const rawLink = pax.linkpath ?? longLink ?? text(header.subarray(157, 257))
    const realSize = pax.size !== undefined ? Number(pax.size) : size
    longName = longLink = undefined
    pax = {}
    countEntry(budget, limits)
    const path = safePath(rawName)
    const mode = octal(header.subarray(100, 108), 'mode') & 0o7777
    if (type === '0' || type === '7') {
      countBytes(budget, limits, realSize, rawName)
      const body = (await reader.read(realSize)) ?? new Uint8Array(0)
      await reader.skip(Math.ceil(realSize / 512) * 512 - realSize)
      if (path === '') throw new ArchiveError('ARCHIVE_UNSAFE_ENTRY', `entry '${rawName}' has no name`, rawName)
      yield { kind: 'file', path, mode, body }
      continue
    }
    await reader.skip(padded)
    if (type === '5') {
      if (path !== '') yield { kind: 'dir', path }
    } else if (type === '2') {
      yield { kind: 'symlink', path, target: safeLinkTarget(path, rawLink) }
    } else if (type === '1') {
      const target = safePath(rawLink)
      if (target === '')
        throw new ArchiveError('ARCHIVE_UNSAFE_ENTRY', `link '${rawName}' points outside the project`, rawName)
      yield { kind: 'hardlink', path, target }
    } else {
      const what = { '3': 'a character device', '4': 'a block device', '6': 'a FIFO' }[type] ?? `of tar type '${type}'`
      throw new ArchiveError(
        'ARCHIVE_UNSAFE_ENTRY',
        `entry '${rawName}' is ${what}, which a project cannot hold`,
        rawName,
      )
    }
  }
}

/** The bytes of a stream, stopping (and throwing) as soon as they exceed `max`. */
async function readAtMost(stream: ReadableStream<Uint8Array>, max: number, path: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of chunksOf(stream)) {
    size += chunk.length
    if (size > max) {
      throw new ArchiveError('ARCHIVE_TOO_LARGE', `entry '${path}' inflates past what its header declares`, path)
    }
    chunks.push(chunk)
  }
  const out = new Uint8Array(size)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

const S_IFMT = 0o170000
/** What a Unix file type a project cannot hold is called, or undefined for files, folders and links. */
function forbiddenType(type: number): string | undefined {
  if (type === 0o010000) return 'a FIFO'
  if (type === 0o020000) return 'a character device'
  if (type === 0o060000) return 'a block device'
  if (type === 0o140000) return 'a socket'
  return undefined
}

async function* zipEntries(bytes: Uint8Array, limits: ArchiveLimits): AsyncGenerator<ArchiveEntry> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  // The end-of-central-directory record is within the last 22 + 65535 (comment) bytes.
  let eocd = -1
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65_535); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i
      break
    }
  }
  if (eocd < 0) throw new ArchiveError('ARCHIVE_INVALID', 'the zip archive has no central directory (truncated?)')
  const count = view.getUint16(eocd + 10, true)
  let at = view.getUint32(eocd + 16, true)
  if (count === 0xffff || at === 0xffffffff) {
    throw new ArchiveError('ARCHIVE_INVALID', 'zip64 archives are not supported; use .tar.gz')
  }
  if (count > limits.maxEntries) {
    throw new ArchiveError('ARCHIVE_TOO_MANY_ENTRIES', `the archive has more than ${limits.maxEntries} entries`)
  }
  const budget: Budget = { entries: 0, bytes: 0 }
  const invalid = () => new ArchiveError('ARCHIVE_INVALID', 'the zip central directory is corrupt')
  for (let n = 0; n < count; n++) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== 0x02014b50) throw invalid()
    const madeBy = view.getUint16(at + 4, true) >> 8
    const flags = view.getUint16(at + 8, true)
    const method = view.getUint16(at + 10, true)
    const crc = view.getUint32(at + 16, true)
    const compressed = view.getUint32(at + 20, true)
    const declared = view.getUint32(at + 24, true)
    const nameLen = view.getUint16(at + 28, true)
    const extraLen = view.getUint16(at + 30, true)
    const commentLen = view.getUint16(at + 32, true)
    const external = view.getUint32(at + 38, true)
    const local = view.getUint32(at + 42, true)
    const rawName = new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLen))
    at += 46 + nameLen + extraLen + commentLen
    countEntry(budget, limits)
    const path = safePath(rawName)
    // why: only archives made on Unix carry a file type in the external attributes
    const unixMode = madeBy === 3 ? external >>> 16 : 0
    const type = unixMode & S_IFMT
    const forbidden = forbiddenType(type)
    if (forbidden) {
      throw new ArchiveError(
        'ARCHIVE_UNSAFE_ENTRY',
        `entry '${rawName}' is ${forbidden}, which a project cannot hold`,
        rawName,
      )
    }
    if (rawName.endsWith('/') || type === 0o040000) {
      if (path !== '') yield { kind: 'dir', path }
      continue
    }
    if (flags & 1) throw new ArchiveError('ARCHIVE_INVALID', `entry '${rawName}' is encrypted`, rawName)
    if (method !== 0 && method !== 8) {
      throw new ArchiveError(
        'ARCHIVE_INVALID',
        `entry '${rawName}' uses an unsupported compression method (${method})`,
        rawName,
      )
    }
    if (local + 30 > bytes.length || view.getUint32(local, true) !== 0x04034b50) throw invalid()
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true)
    if (start + compressed > bytes.length) throw invalid()
    countBytes(budget, limits, declared, rawName)
    const raw = bytes.subarray(start, start + compressed)
    const body =
      method === 0
        ? raw
        : await readAtMost(
            inflate(new Blob([raw as Uint8Array<ArrayBuffer>]).stream(), 'deflate-raw'),
            declared,
            rawName,
          )
    if (body.length !== declared || Bun.hash.crc32(body) >>> 0 !== crc) {
      throw new ArchiveError('ARCHIVE_INVALID', `entry '${rawName}' is corrupt (size or checksum mismatch)`, rawName)
    }
    if (type === 0o120000) {
      yield { kind: 'symlink', path, target: safeLinkTarget(path, new TextDecoder().decode(body)) }
      continue
    }
    yield { kind: 'file', path, mode: unixMode & 0o7777 || 0o644, body }
  }
}

/**
 * The entries of an archive, in archive order. Throws ArchiveError on the first entry that is
 * unsafe, or as soon as a limit is passed (before inflating further).
 */
export function readArchive(
  archive: Blob,
  format: ArchiveFormat,
  limits = DEFAULT_ARCHIVE_LIMITS,
): AsyncIterable<ArchiveEntry> {
  if (format === 'zip') {
    return {
      async *[Symbol.asyncIterator]() {
        yield* zipEntries(new Uint8Array(await archive.arrayBuffer()), limits)
      },
    }
  }
  return {
    [Symbol.asyncIterator]: () => {
      let stream = archive.stream() as ReadableStream<Uint8Array>
      if (format === 'tar.gz') stream = inflate(stream, 'gzip')
      // why: a gzip stream that is not a tar fails in the header parser with a clear message
      return wrapGzipErrors(tarEntries(stream, limits))
    },
  }
}

/** Turns the decompressor's own errors (not gzip, corrupt) into ArchiveError. */
async function* wrapGzipErrors(inner: AsyncGenerator<ArchiveEntry>): AsyncGenerator<ArchiveEntry> {
  try {
    yield* inner
  } catch (err) {
    if (err instanceof ArchiveError) throw err
    throw new ArchiveError(
      'ARCHIVE_INVALID',
      `the archive could not be read: ${err instanceof Error ? err.message : String(err)}`,
    )
  }
}
