/**
 * `node:fs` for the shell bundled into a browser Web Worker (docs/runners.md, "The browser
 * runner"): the few read-only calls the shared shell code makes on the project's folder (seeding
 * the workspace in memfs.ts, the help text in help.ts, the precompiled binaries) answered from the
 * project's files fetched once with the page. The web build maps `node:fs` to this module for the
 * worker bundle only (web/vite.config.ts); the server never loads it.
 */

interface Entry {
  kind: 'file' | 'dir'
  data?: Uint8Array
  mtimeMs: number
}

const entries = new Map<string, Entry>()

function clean(path: string): string {
  const parts: string[] = []
  for (const p of path.split('/')) {
    if (p === '' || p === '.') continue
    if (p === '..') parts.pop()
    else parts.push(p)
  }
  return `/${parts.join('/')}`
}

/** Makes `files` (paths relative to `root`) readable under `root`; parents are created. */
export function mount(
  root: string,
  files: { path: string; data?: Uint8Array; mtimeMs: number; dir?: boolean }[],
): void {
  const at = clean(root)
  const mkdirs = (path: string, mtimeMs: number) => {
    for (let p = path; !entries.has(p); p = clean(`${p}/..`)) {
      entries.set(p, { kind: 'dir', mtimeMs })
      if (p === '/') break
    }
  }
  mkdirs(at, Date.now())
  for (const f of files) {
    const path = clean(`${at}/${f.path}`)
    mkdirs(clean(`${path}/..`), f.mtimeMs)
    if (f.dir) entries.set(path, { kind: 'dir', mtimeMs: f.mtimeMs })
    else entries.set(path, { kind: 'file', data: f.data ?? new Uint8Array(0), mtimeMs: f.mtimeMs })
  }
}

function notFound(path: string): Error {
  return Object.assign(new Error(`ENOENT: no such file or directory, '${path}'`), { code: 'ENOENT' })
}

function get(path: string): Entry {
  const e = entries.get(clean(path))
  if (!e) throw notFound(path)
  return e
}

export function existsSync(path: string): boolean {
  return entries.has(clean(path))
}

export function statSync(path: string) {
  const e = get(path)
  return {
    mtimeMs: e.mtimeMs,
    size: e.data?.length ?? 0,
    isDirectory: () => e.kind === 'dir',
    isFile: () => e.kind === 'file',
  }
}

export function readFileSync(path: string, encoding?: string): Uint8Array | string {
  const e = get(path)
  if (e.kind !== 'file') throw Object.assign(new Error(`EISDIR: '${path}'`), { code: 'EISDIR' })
  return encoding ? new TextDecoder().decode(e.data) : e.data!
}

export function readdirSync(path: string, _options?: { withFileTypes?: boolean }) {
  const dir = clean(path)
  if (get(dir).kind !== 'dir') throw Object.assign(new Error(`ENOTDIR: '${path}'`), { code: 'ENOTDIR' })
  const prefix = dir === '/' ? '/' : `${dir}/`
  const out: { name: string; isDirectory: () => boolean; isFile: () => boolean }[] = []
  for (const [p, e] of entries) {
    if (!p.startsWith(prefix) || p === dir) continue
    const name = p.slice(prefix.length)
    if (name.includes('/')) continue
    out.push({ name, isDirectory: () => e.kind === 'dir', isFile: () => e.kind === 'file' })
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1))
}
