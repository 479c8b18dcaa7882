import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

/** A file or directory of the in-memory workspace. File bytes are never mutated in place. */
export type FsNode = { kind: 'file'; data: Uint8Array; mtime: number } | { kind: 'dir'; mtime: number }

/** Nested file tree, the shape @yowasp/clang takes and returns. */
export type Tree = { [name: string]: Tree | string | Uint8Array }

export class FsError extends Error {
  constructor(
    readonly path: string,
    readonly reason: 'ENOENT' | 'ENOTDIR' | 'EISDIR' | 'EEXIST' | 'ENOTEMPTY' | 'ENOSPC',
  ) {
    super(
      {
        ENOENT: 'No such file or directory',
        ENOTDIR: 'Not a directory',
        EISDIR: 'Is a directory',
        EEXIST: 'File exists',
        ENOTEMPTY: 'Directory not empty',
        ENOSPC: 'No space left on device',
      }[reason],
    )
  }
}

/** Normalizes an absolute path: no `.`/`..` segments, no trailing slash (except `/`). */
export function normalize(path: string): string {
  const out: string[] = []
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') out.pop()
    else out.push(part)
  }
  return `/${out.join('/')}`
}

export function dirname(path: string): string {
  const i = path.lastIndexOf('/')
  return i <= 0 ? '/' : path.slice(0, i)
}

export function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1)
}

/**
 * The per-session workspace: a flat map of absolute paths to nodes. Copying a seed is O(files) and
 * shares the (immutable) file bytes, so 100 idle sessions cost little.
 */
export class MemFs {
  readonly nodes: Map<string, FsNode>
  #clock = 0
  /** Bytes of all files (directories count nothing). */
  #used = 0

  /**
   * @param quota the workspace budget in bytes: a write that would exceed it fails with ENOSPC
   *   ("No space left on device"), docs/budgets.md. The seed counts against it.
   */
  constructor(
    nodes?: Map<string, FsNode>,
    readonly quota = Number.POSITIVE_INFINITY,
  ) {
    this.nodes = new Map(nodes ?? [['/', { kind: 'dir', mtime: 0 }]])
    for (const node of this.nodes.values()) if (node.kind === 'file') this.#used += node.data.length
  }

  /** Bytes the workspace's files take. */
  get used(): number {
    return this.#used
  }

  /** A strictly increasing timestamp (ms), so make sees every write as newer than the last. */
  now(): number {
    this.#clock = Math.max(Date.now(), this.#clock + 1)
    return this.#clock
  }

  resolve(cwd: string, path: string): string {
    return normalize(path.startsWith('/') ? path : `${cwd}/${path}`)
  }

  stat(path: string): FsNode | undefined {
    return this.nodes.get(normalize(path))
  }

  isDir(path: string): boolean {
    return this.stat(path)?.kind === 'dir'
  }

  readFile(path: string): Uint8Array {
    const node = this.stat(path)
    if (!node) throw new FsError(path, 'ENOENT')
    if (node.kind === 'dir') throw new FsError(path, 'EISDIR')
    return node.data
  }

  writeFile(path: string, data: Uint8Array | string, mtime = this.now()): void {
    const p = normalize(path)
    const parent = this.nodes.get(dirname(p))
    if (!parent) throw new FsError(path, 'ENOENT')
    if (parent.kind !== 'dir') throw new FsError(path, 'ENOTDIR')
    const old = this.nodes.get(p)
    if (old?.kind === 'dir') throw new FsError(path, 'EISDIR')
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data
    const used = this.#used - (old?.kind === 'file' ? old.data.length : 0) + bytes.length
    if (used > this.quota && bytes.length > (old?.kind === 'file' ? old.data.length : 0)) {
      throw new FsError(path, 'ENOSPC')
    }
    this.#used = used
    this.nodes.set(p, { kind: 'file', data: bytes, mtime })
  }

  mkdirp(path: string, mtime = this.now()): void {
    const p = normalize(path)
    if (p === '/') return
    const node = this.nodes.get(p)
    if (node?.kind === 'dir') return
    if (node) throw new FsError(path, 'EEXIST')
    this.mkdirp(dirname(p), mtime)
    this.nodes.set(p, { kind: 'dir', mtime })
  }

  /** Removes a file, or a directory with `recursive`. */
  remove(path: string, recursive = false): void {
    const p = normalize(path)
    const node = this.nodes.get(p)
    if (!node) throw new FsError(path, 'ENOENT')
    if (node.kind === 'dir') {
      const children = this.list(p)
      if (!recursive && children.length > 0) throw new FsError(path, 'ENOTEMPTY')
      for (const c of children) this.remove(`${p}/${c}`, true)
    } else this.#used -= node.data.length
    this.nodes.delete(p)
  }

  /** Names in a directory, sorted. */
  list(path: string): string[] {
    const p = normalize(path)
    const node = this.nodes.get(p)
    if (!node) throw new FsError(path, 'ENOENT')
    if (node.kind !== 'dir') throw new FsError(path, 'ENOTDIR')
    const prefix = p === '/' ? '/' : `${p}/`
    const names: string[] = []
    for (const key of this.nodes.keys()) {
      if (key.length > prefix.length && key.startsWith(prefix) && !key.includes('/', prefix.length)) {
        names.push(key.slice(prefix.length))
      }
    }
    return names.sort()
  }

  /** Every path strictly under `dir` (files and directories). */
  walk(dir: string): string[] {
    const p = normalize(dir)
    const prefix = p === '/' ? '/' : `${p}/`
    return [...this.nodes.keys()].filter((k) => k.startsWith(prefix) && k !== p).sort()
  }

  /** The subtree under `dir` as a nested tree (for the compiler). */
  toTree(dir: string): Tree {
    const root: Tree = {}
    const base = normalize(dir)
    for (const path of this.walk(base)) {
      const node = this.nodes.get(path)!
      const parts = path.slice(base === '/' ? 1 : base.length + 1).split('/')
      let at = root
      for (const part of parts.slice(0, -1)) at = at[part] as Tree
      at[parts.at(-1)!] = node.kind === 'dir' ? {} : node.data
    }
    return root
  }

  /** Writes back files of `tree` under `dir` that differ from what is there; returns the changed paths. */
  applyTree(dir: string, tree: Tree): string[] {
    const changed: string[] = []
    const visit = (at: string, t: Tree) => {
      for (const [name, value] of Object.entries(t)) {
        const path = `${at === '/' ? '' : at}/${name}`
        if (value instanceof Uint8Array || typeof value === 'string') {
          const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value
          const old = this.stat(path)
          if (old?.kind === 'file' && (old.data === bytes || equalBytes(old.data, bytes))) continue
          this.mkdirp(at)
          this.writeFile(path, bytes)
          changed.push(path)
        } else {
          this.mkdirp(path)
          visit(path, value)
        }
      }
    }
    visit(normalize(dir), tree)
    return changed
  }
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

const SKIP_DIRS = new Set(['prebuilt', 'golden', '.git', 'node_modules'])

/**
 * Reads a project's sources from the host into nodes placed under `target`. `prebuilt/` and
 * `golden/` are left out; so are host executables (ELF): they cannot run here and would only confuse.
 */
export function seedFromHost(sourceDir: string, target: string): Map<string, FsNode> {
  const nodes = new Map<string, FsNode>()
  const visit = (hostDir: string, dir: string, top: boolean) => {
    const mtime = statSync(hostDir).mtimeMs
    nodes.set(dir, { kind: 'dir', mtime })
    for (const entry of readdirSync(hostDir, { withFileTypes: true })) {
      const host = join(hostDir, entry.name)
      const path = `${dir}/${entry.name}`
      if (entry.isDirectory()) {
        if (top && SKIP_DIRS.has(entry.name)) continue
        visit(host, path, false)
      } else if (entry.isFile()) {
        const data = new Uint8Array(readFileSync(host))
        if (data[0] === 0x7f && data[1] === 0x45 && data[2] === 0x4c && data[3] === 0x46) continue
        nodes.set(path, { kind: 'file', data, mtime: statSync(host).mtimeMs })
      }
    }
  }
  visit(sourceDir, normalize(target), true)
  return nodes
}
