import { HOME } from './home.ts'
import type { Completion } from './line-editor.ts'
import type { MemFs } from './memfs.ts'

/** Tab completion: command names for the first word, file names (from `cwd`) otherwise. */
export function complete(line: string, cursor: number, at: { fs: MemFs; cwd: string; commands: string[] }): Completion {
  const before = line.slice(0, cursor)
  const start =
    Math.max(before.lastIndexOf(' '), before.lastIndexOf(';'), before.lastIndexOf('&'), before.lastIndexOf('|')) + 1
  const word = before.slice(start)
  const firstWord = before.slice(0, start).trim() === '' || /(&&|\|\||;)\s*$/.test(before.slice(0, start))
  if (firstWord && !word.includes('/')) {
    const unique = [...new Set(at.commands)].filter((n) => n.startsWith(word)).sort()
    return { start, candidates: unique.map((n) => `${n} `) }
  }
  const { fs } = at
  const expanded = word.startsWith('~') ? HOME + word.slice(1) : word
  const slash = expanded.lastIndexOf('/')
  const dirPart = slash < 0 ? '' : expanded.slice(0, slash + 1)
  const prefix = expanded.slice(slash + 1)
  const dir = fs.resolve(at.cwd, dirPart || '.')
  if (!fs.isDir(dir)) return { start, candidates: [] }
  const shownDir = slash < 0 ? '' : word.slice(0, word.lastIndexOf('/') + 1)
  const candidates = fs
    .list(dir)
    .filter((n) => n.startsWith(prefix) && (prefix.startsWith('.') || !n.startsWith('.')))
    .map((n) => `${shownDir}${n}${fs.isDir(`${dir}/${n}`) ? '/' : ' '}`)
  return { start, candidates }
}
