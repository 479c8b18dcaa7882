/**
 * The shell's builtins that only read or change the workspace and print: `echo`, `pwd`, `cd`, `ls`,
 * `cat`, `clear`, `help`, `history`, `stty`, and `rm`/`mkdir`/`touch` for make recipes. The shell
 * dispatches to them and keeps its own state (directory, status, exit); they never reach back.
 */
import { projectHelp } from '../help.ts'
import type { ProjectSpec, TerminalSize } from '../types.ts'
import { downloadBuiltin } from './files.ts'
import { HOME, tildePath, USER } from './home.ts'
import { columns } from './line-editor.ts'
import { basename, dirname, FsError, type MemFs } from './memfs.ts'
import { onlcr } from './tty.ts'
import { isWasm } from './wasm-limits.ts'

/** Every command the shell runs itself (for completion and for refusal messages). */
export const BUILTIN_NAMES = [
  'cat',
  'cd',
  'clear',
  'download',
  'echo',
  'exit',
  'fg',
  'help',
  'history',
  'jobs',
  'ls',
  'make',
  'pwd',
  'stty',
]

/** What a builtin works with. */
export interface BuiltinContext {
  fs: MemFs
  /** The directory the command runs in. */
  cwd: string
  size: TerminalSize
  project: ProjectSpec
  /** Lines typed so far, oldest first. */
  history: readonly string[]
  /** Shell text; `\n` becomes `\r\n` unless `translate` is false. */
  print(text: string, translate?: boolean): void
  /** Bytes ready for the terminal, as they are. */
  write(bytes: Uint8Array): void
  /** Large output (a file): resolves when the terminal can take more, so nothing piles up. */
  writeAsync?(bytes: Uint8Array): Promise<void>
}

export type Builtin = (args: string[], ctx: BuiltinContext) => number | Promise<number>

/** The builtins that need nothing but their context (`cd`, `exit`, `make` change the shell's state). */
export const BUILTINS = new Map<string, Builtin>([
  ['echo', echo],
  ['pwd', pwd],
  ['ls', ls],
  ['cat', cat],
  ['clear', clear],
  ['help', help],
  ['history', history],
  ['stty', stty],
  ['download', downloadBuiltin],
])

function echo(args: string[], ctx: BuiltinContext): number {
  const noNewline = args[0] === '-n'
  ctx.print(`${(noNewline ? args.slice(1) : args).join(' ')}${noNewline ? '' : '\n'}`)
  return 0
}

function pwd(_args: string[], ctx: BuiltinContext): number {
  ctx.print(`${ctx.cwd}\n`)
  return 0
}

function clear(_args: string[], ctx: BuiltinContext): number {
  ctx.print('\x1b[H\x1b[2J\x1b[3J', false)
  return 0
}

function help(_args: string[], ctx: BuiltinContext): number {
  // the same project help as the Docker runner's (runner/src/help.ts)
  ctx.print(projectHelp(ctx.project))
  return 0
}

function history(_args: string[], ctx: BuiltinContext): number {
  ctx.history.forEach((h, i) => {
    ctx.print(`${String(i + 1).padStart(5)}  ${h}\n`)
  })
  return 0
}

/** `cd [dir|-]`: where to go (`oldCwd` for `-`), or the status of a failure after its message. */
export function cd(args: string[], ctx: BuiltinContext, oldCwd: string): { path: string } | { status: number } {
  const target = args[0] === undefined ? HOME : args[0] === '-' ? oldCwd : args[0]
  const path = ctx.fs.resolve(ctx.cwd, target)
  const node = ctx.fs.stat(path)
  if (!node) {
    ctx.print(`cd: ${args[0]}: No such file or directory\n`)
    return { status: 1 }
  }
  if (node.kind !== 'dir') {
    ctx.print(`cd: ${args[0]}: Not a directory\n`)
    return { status: 1 }
  }
  if (args[0] === '-') ctx.print(`${tildePath(path)}\n`)
  return { path }
}

/** Chunk of a file written at a time by `cat`. */
const CAT_CHUNK = 64 * 1024

/** `cat < file`: the file as the terminal shows it, in chunks that wait for the terminal. */
export async function catInput(data: Uint8Array, ctx: BuiltinContext): Promise<number> {
  const state = { lastCr: false }
  for (let at = 0; at < data.length; at += CAT_CHUNK) {
    const chunk = onlcr(data.subarray(at, at + CAT_CHUNK), state)
    if (ctx.writeAsync) await ctx.writeAsync(chunk)
    else ctx.write(chunk)
  }
  return 0
}

function colour(fs: MemFs, path: string, name: string): string {
  const node = fs.stat(path)
  if (node?.kind === 'dir') return `\x1b[1;34m${name}\x1b[0m`
  if (node?.kind === 'file' && isWasm(node.data)) return `\x1b[1;32m${name}\x1b[0m`
  return name
}

function ls(args: string[], ctx: BuiltinContext): number {
  let long = false
  let all = false
  let one = false
  const paths: string[] = []
  for (const a of args) {
    if (a.startsWith('-') && a.length > 1) {
      for (const f of a.slice(1)) {
        if (f === 'l') long = true
        else if (f === 'a' || f === 'A') all = true
        else if (f === '1') one = true
        else if (f === 'h') {
        } else {
          ctx.print(`ls: invalid option -- '${f}'\nTry 'ls [-l] [-a] [path...]'.\n`)
          return 2
        }
      }
    } else paths.push(a)
  }
  if (paths.length === 0) paths.push('.')
  const { fs, cwd } = ctx
  let status = 0
  const files: string[] = []
  const dirs: string[] = []
  for (const p of paths) {
    const abs = fs.resolve(cwd, p)
    const node = fs.stat(abs)
    if (!node) {
      ctx.print(`ls: cannot access '${p}': No such file or directory\n`)
      status = 2
    } else if (node.kind === 'dir') dirs.push(p)
    else files.push(p)
  }
  const cols = ctx.size.cols
  const render = (entries: { name: string; path: string }[]) => {
    if (entries.length === 0) return
    if (long) {
      const sizes = entries.map((e) => {
        const n = fs.stat(e.path)!
        return n.kind === 'dir' ? 4096 : n.data.length
      })
      const width = Math.max(...sizes.map((s) => String(s).length))
      entries.forEach((e, i) => {
        const n = fs.stat(e.path)!
        const exec = n.kind === 'file' && isWasm(n.data)
        const mode = n.kind === 'dir' ? 'drwxr-xr-x' : exec ? '-rwxr-xr-x' : '-rw-r--r--'
        ctx.print(
          `${mode} 1 ${USER} ${USER} ${String(sizes[i]).padStart(width)} ${formatDate(n.mtime)} ${colour(fs, e.path, e.name)}\n`,
        )
      })
    } else if (one) {
      for (const e of entries) ctx.print(`${colour(fs, e.path, e.name)}\n`)
    } else {
      const byName = new Map(entries.map((e) => [e.name, e.path]))
      ctx.print(
        columns(
          entries.map((e) => e.name),
          cols,
          (name) => colour(fs, byName.get(name)!, name),
        ),
        false,
      )
    }
  }
  render(files.map((f) => ({ name: f, path: fs.resolve(cwd, f) })))
  dirs.forEach((d, i) => {
    const abs = fs.resolve(cwd, d)
    if (paths.length > 1) ctx.print(`${files.length > 0 || i > 0 ? '\n' : ''}${d}:\n`)
    const names = fs.list(abs).filter((n) => all || !n.startsWith('.'))
    if (all) names.unshift('.', '..')
    if (long) ctx.print(`total ${names.length * 4}\n`)
    render(names.map((n) => ({ name: n, path: fs.resolve(abs, n) })))
  })
  return status
}

async function cat(args: string[], ctx: BuiltinContext): Promise<number> {
  if (args.length === 0) {
    ctx.print('cat: reading from the terminal is not supported here; give a file name\n')
    return 1
  }
  let status = 0
  for (const a of args) {
    const node = ctx.fs.stat(ctx.fs.resolve(ctx.cwd, a))
    if (!node) {
      ctx.print(`cat: ${a}: No such file or directory\n`)
      status = 1
    } else if (node.kind === 'dir') {
      ctx.print(`cat: ${a}: Is a directory\n`)
      status = 1
    } else if (isWasm(node.data)) {
      ctx.print(`cat: ${a}: binary file (WebAssembly program) — run it with ./${basename(a)}\n`)
      status = 1
    } else await catInput(node.data, ctx)
  }
  return status
}

function stty(args: string[], ctx: BuiltinContext): number {
  const { rows, cols } = ctx.size
  if (args[0] === 'size') {
    ctx.print(`${rows} ${cols}\n`)
    return 0
  }
  if (args.length === 0) {
    ctx.print(`speed 38400 baud; rows ${rows}; columns ${cols}; line = 0;\n`)
    return 0
  }
  if (args[0] === 'sane') return 0
  ctx.print(`stty: only 'stty size' is available in this sandbox\n`)
  return 1
}

/** `rm`, `mkdir` and `touch` as make recipes use them, inside the home directory only. */
export function fileOp(name: 'rm' | 'mkdir' | 'touch', args: string[], ctx: BuiltinContext): number {
  const { fs } = ctx
  const flags = args.filter((a) => a.startsWith('-') && a.length > 1).join('')
  const paths = args.filter((a) => !a.startsWith('-') || a.length === 1)
  let status = 0
  for (const p of paths) {
    const abs = fs.resolve(ctx.cwd, p)
    if (!abs.startsWith(`${HOME}/`)) {
      ctx.print(`${name}: ${p}: Permission denied\n`)
      status = 1
      continue
    }
    if (name === 'rm') {
      const node = fs.stat(abs)
      if (!node) {
        if (!flags.includes('f')) {
          ctx.print(`rm: cannot remove '${p}': No such file or directory\n`)
          status = 1
        }
        continue
      }
      if (node.kind === 'dir' && !/[rR]/.test(flags)) {
        ctx.print(`rm: cannot remove '${p}': Is a directory\n`)
        status = 1
        continue
      }
      fs.remove(abs, true)
    } else if (name === 'mkdir') {
      if (flags.includes('p')) fs.mkdirp(abs)
      else if (fs.stat(abs)) {
        ctx.print(`mkdir: cannot create directory '${p}': File exists\n`)
        status = 1
      } else {
        if (!fs.isDir(dirname(abs))) throw new FsError(p, 'ENOENT')
        fs.mkdirp(abs)
      }
    } else {
      const node = fs.stat(abs)
      if (node?.kind === 'file') fs.writeFile(abs, node.data)
      else if (!node) fs.writeFile(abs, new Uint8Array())
    }
  }
  return status
}

function formatDate(ms: number): string {
  const d = new Date(ms)
  const month = d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' })
  const hh = String(d.getUTCHours()).padStart(2, '0')
  const mm = String(d.getUTCMinutes()).padStart(2, '0')
  return `${month} ${String(d.getUTCDate()).padStart(2)} ${hh}:${mm}`
}
