/**
 * Builds project archives byte by byte for the import suites, including the hostile ones no archiver
 * would write on request (entries escaping the root, devices, links out of the project).
 */

export interface TarEntry {
  name: string
  body?: string | Uint8Array
  /** tar type flag: '0' file (default), '1' hard link, '2' symlink, '3' char device, '5' dir, '6' FIFO */
  type?: string
  linkname?: string
  mode?: number
}

const enc = new TextEncoder()

function field(h: Uint8Array, at: number, len: number, value: string) {
  h.set(enc.encode(value).subarray(0, len), at)
}

const octal = (n: number, len: number) => `${n.toString(8).padStart(len - 1, '0')}\0`

/** One ustar header. */
export function tarHeader(e: TarEntry, size: number): Uint8Array {
  const h = new Uint8Array(512)
  field(h, 0, 100, e.name)
  field(h, 100, 8, octal(e.mode ?? (e.type === '5' ? 0o755 : 0o644), 8))
  field(h, 108, 8, octal(1000, 8))
  field(h, 116, 8, octal(1000, 8))
  field(h, 124, 12, octal(size, 12))
  field(h, 136, 12, octal(Math.floor(Date.now() / 1000), 12))
  field(h, 148, 8, '        ')
  field(h, 156, 1, e.type ?? '0')
  field(h, 157, 100, e.linkname ?? '')
  field(h, 257, 6, 'ustar\0')
  field(h, 263, 2, '00')
  let sum = 0
  for (const b of h) sum += b
  field(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `)
  return h
}

/** An uncompressed tar of the entries. */
export function tar(entries: TarEntry[]): Uint8Array {
  const parts: Uint8Array[] = []
  for (const e of entries) {
    const body = typeof e.body === 'string' ? enc.encode(e.body) : (e.body ?? new Uint8Array(0))
    parts.push(tarHeader(e, body.length), body, new Uint8Array((512 - (body.length % 512)) % 512))
  }
  parts.push(new Uint8Array(1024))
  return Buffer.concat(parts)
}

export const tgz = (entries: TarEntry[]) => Bun.gzipSync(tar(entries) as Uint8Array<ArrayBuffer>)

/** A project's files (path → text) as a .tar.gz with project.json written from `manifest`. */
export function projectTgz(manifest: Record<string, unknown>, files: Record<string, string> = {}): Uint8Array {
  return tgz([
    { name: 'project.json', body: JSON.stringify(manifest, null, 2) },
    ...Object.entries(files).map(([name, body]) => ({ name, body, mode: name.endsWith('.sh') ? 0o755 : 0o644 })),
  ])
}

export interface ZipEntry {
  name: string
  body?: string | Uint8Array
  /** Unix mode with type bits (0o120777 a symlink, 0o020644 a char device); default a regular file. */
  unixMode?: number
  /** Deflate the body (default stored). */
  deflate?: boolean
  /** Lie about the inflated size (a zip bomb's header). */
  declaredSize?: number
}

/** A zip archive of the entries, made on "Unix" so the type bits count. */
export function zip(entries: ZipEntry[]): Uint8Array {
  const locals: Uint8Array[] = []
  const centrals: Uint8Array[] = []
  let offset = 0
  for (const e of entries) {
    const name = enc.encode(e.name)
    const raw = typeof e.body === 'string' ? enc.encode(e.body) : (e.body ?? new Uint8Array(0))
    const data = e.deflate ? Bun.deflateSync(raw as Uint8Array<ArrayBuffer>) : raw
    const crc = Bun.hash.crc32(raw as Uint8Array<ArrayBuffer>) >>> 0
    const size = e.declaredSize ?? raw.length
    const local = new Uint8Array(30 + name.length)
    const lv = new DataView(local.buffer)
    lv.setUint32(0, 0x04034b50, true)
    lv.setUint16(4, 20, true)
    lv.setUint16(8, e.deflate ? 8 : 0, true)
    lv.setUint32(14, crc, true)
    lv.setUint32(18, data.length, true)
    lv.setUint32(22, size, true)
    lv.setUint16(26, name.length, true)
    local.set(name, 30)
    const central = new Uint8Array(46 + name.length)
    const cv = new DataView(central.buffer)
    cv.setUint32(0, 0x02014b50, true)
    cv.setUint16(4, (3 << 8) | 20, true)
    cv.setUint16(6, 20, true)
    cv.setUint16(10, e.deflate ? 8 : 0, true)
    cv.setUint32(16, crc, true)
    cv.setUint32(20, data.length, true)
    cv.setUint32(24, size, true)
    cv.setUint16(28, name.length, true)
    cv.setUint32(38, ((e.unixMode ?? (e.name.endsWith('/') ? 0o040755 : 0o100644)) << 16) >>> 0, true)
    cv.setUint32(42, offset, true)
    central.set(name, 46)
    locals.push(local, data)
    centrals.push(central)
    offset += local.length + data.length
  }
  const cd = Buffer.concat(centrals)
  const end = new Uint8Array(22)
  const ev = new DataView(end.buffer)
  ev.setUint32(0, 0x06054b50, true)
  ev.setUint16(8, entries.length, true)
  ev.setUint16(10, entries.length, true)
  ev.setUint32(12, cd.length, true)
  ev.setUint32(16, offset, true)
  return Buffer.concat([...locals, cd, end])
}

/**
 * A .tar.gz whose files inflate to `files × bytesEach` zero bytes, compressed as it is produced, so
 * the test never holds the unpacked size in memory.
 */
export async function zeroBombTgz(files: number, bytesEach: number): Promise<Uint8Array> {
  const chunk = new Uint8Array(1 << 20)
  let file = 0
  let left = -1
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (left <= 0) {
        if (left === 0) controller.enqueue(new Uint8Array((512 - (bytesEach % 512)) % 512))
        if (file === files) {
          controller.enqueue(new Uint8Array(1024))
          controller.close()
          return
        }
        controller.enqueue(tarHeader({ name: `zeros-${file++}.bin` }, bytesEach))
        left = bytesEach
        return
      }
      const n = Math.min(left, chunk.length)
      controller.enqueue(chunk.subarray(0, n))
      left -= n
    },
  })
  const gz = source.pipeThrough(new CompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>)
  return new Uint8Array(await new Response(gz).arrayBuffer())
}
