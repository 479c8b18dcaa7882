/** `node:path`'s `join` for the browser worker bundle (see host-fs.ts). */
export function join(...parts: string[]): string {
  const out: string[] = []
  const absolute = parts[0]?.startsWith('/') ?? false
  for (const p of parts.join('/').split('/')) {
    if (p === '' || p === '.') continue
    if (p === '..') out.pop()
    else out.push(p)
  }
  return (absolute ? '/' : '') + out.join('/')
}

export const sep = '/'
