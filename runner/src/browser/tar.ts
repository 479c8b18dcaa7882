/**
 * Reads the project tar the API serves (GET /api/v1/projects/:slug/files, made by
 * runner/src/remote/bundle.ts): ustar headers, GNU long names and pax `path` records. Regular
 * files and folders only; anything else (links) is left out.
 */
export interface TarEntry {
  path: string
  data?: Uint8Array
  mtimeMs: number
  dir?: boolean
}

const td = new TextDecoder()

function text(b: Uint8Array, at: number, len: number): string {
  const s = b.subarray(at, at + len)
  const nul = s.indexOf(0)
  return td.decode(nul < 0 ? s : s.subarray(0, nul))
}

function octal(b: Uint8Array, at: number, len: number): number {
  const s = text(b, at, len).trim()
  return s === '' ? 0 : Number.parseInt(s, 8)
}

export function readTar(tar: Uint8Array): TarEntry[] {
  const out: TarEntry[] = []
  let at = 0
  let longName: string | undefined
  while (at + 512 <= tar.length) {
    const h = tar.subarray(at, at + 512)
    if (h.every((x) => x === 0)) break
    const size = octal(h, 124, 12)
    const type = String.fromCharCode(h[156] || 0x30)
    const body = tar.subarray(at + 512, at + 512 + size)
    at += 512 + Math.ceil(size / 512) * 512
    if (type === 'L') {
      longName = text(body, 0, body.length)
      continue
    }
    if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(td.decode(body))
      if (m) longName = m[1]
      continue
    }
    if (type === 'g') continue
    const prefix = text(h, 345, 155)
    let name = longName ?? (prefix ? `${prefix}/${text(h, 0, 100)}` : text(h, 0, 100))
    longName = undefined
    name = name.replace(/^(\.\/)+/, '').replace(/\/+$/, '')
    if (name === '' || name === '.' || name.split('/').includes('..')) continue
    const mtimeMs = octal(h, 136, 12) * 1000
    if (type === '5') out.push({ path: name, mtimeMs, dir: true })
    else if (type === '0' || type === '\0') out.push({ path: name, data: body.slice(), mtimeMs })
  }
  return out
}
