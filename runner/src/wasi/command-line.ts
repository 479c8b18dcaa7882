/**
 * The WASI shell's side of the command line: the line is parsed by the parser the command policy
 * uses too (`../shell-syntax.ts`), and each command's words are expanded here when it runs —
 * variables, `$?`, arithmetic `$((…))`, `~` and globs against the workspace (`expandWords`).
 */
import {
  ArithmeticError,
  type Command,
  evaluateArithmetic,
  type ListOp,
  type Pipeline,
  parseShellLine,
  type Redirect,
  type Word as SyntaxWord,
} from '../shell-syntax.ts'
import type { MemFs } from './memfs.ts'

export type { Command, ListOp, Pipeline, Redirect }

export interface Word {
  text: string
  /** True when the word held an unquoted `*`, `?` or `[`: expand it against the file system. */
  glob: boolean
}

export class ParseError extends Error {}

export interface ExpandContext {
  home: string
  vars: (name: string) => string | undefined
}

/** Parses a line for running: a syntax error or a refused construct throws `ParseError`. */
export function parseLine(line: string): Pipeline[] {
  const parsed = parseShellLine(line)
  if (parsed.error) throw new ParseError(parsed.error)
  if (parsed.forbidden) throw new ParseError(parsed.forbidden.message)
  return parsed.pipelines
}

/**
 * Expands one word: undefined when it vanishes (an unquoted variable that is empty). Arithmetic
 * errors throw `ParseError` (`division by 0`).
 */
export function expandWord(word: SyntaxWord, ctx: ExpandContext): Word | undefined {
  let text = ''
  let glob = false
  let quoted = false
  for (const s of word.segments) {
    if (s.type === 'tilde') text += ctx.home
    else if (s.type === 'text') {
      text += s.text
      if (s.quoted) quoted = true
      else if (/[*?[]/.test(s.text)) glob = true
    } else if (s.type === 'var') {
      text += ctx.vars(s.name) ?? ''
      if (s.quoted) quoted = true
    } else {
      try {
        text += String(evaluateArithmetic(s.expr, ctx.vars))
      } catch (e) {
        if (e instanceof ArithmeticError) throw new ParseError(`${s.expr.trim()}: ${e.message}`)
        throw e
      }
      if (s.quoted) quoted = true
    }
  }
  if (text === '' && !quoted && word.segments.some((s) => s.type === 'var')) return undefined
  return { text, glob }
}

/** The words of a command, expanded, with globs replaced by their matches in `fs`. */
export function expandWords(words: SyntaxWord[], ctx: ExpandContext, fs: MemFs, cwd: string): string[] {
  const out: Word[] = []
  for (const w of words) {
    const e = expandWord(w, ctx)
    if (e) out.push(e)
  }
  return expandGlobs(out, fs, cwd)
}

/** Matches a glob pattern (`*`, `?`, `[...]`) against one path segment. */
export function globToRegExp(glob: string): RegExp {
  let re = '^'
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!
    if (ch === '*') re += '[^/]*'
    else if (ch === '?') re += '[^/]'
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 1)
      if (end < 0) re += '\\['
      else {
        re += `[${glob
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\')}]`
        i = end
      }
    } else re += ch.replace(/[.+^${}()|\]\\]/g, '\\$&')
  }
  return new RegExp(`${re}$`)
}

/** The words of a command with each glob replaced by its sorted matches in `fs` (kept when none match). */
export function expandGlobs(words: Word[], fs: MemFs, cwd: string): string[] {
  const out: string[] = []
  for (const w of words) {
    if (!w.glob) {
      out.push(w.text)
      continue
    }
    const matches = glob(w.text, fs, cwd)
    if (matches.length === 0) out.push(w.text)
    else out.push(...matches)
  }
  return out
}

function glob(pattern: string, fs: MemFs, cwd: string): string[] {
  let results = [pattern.startsWith('/') ? '/' : '']
  const parts = pattern.split('/').filter((p, i) => p !== '' || i === 0)
  for (const part of parts) {
    if (part === '') continue
    const next: string[] = []
    for (const prefix of results) {
      const dir = fs.resolve(cwd, prefix || '.')
      if (!/[*?[]/.test(part)) {
        const candidate = prefix === '' ? part : prefix === '/' ? `/${part}` : `${prefix}/${part}`
        if (fs.stat(fs.resolve(cwd, candidate))) next.push(candidate)
        continue
      }
      if (!fs.isDir(dir)) continue
      const re = globToRegExp(part)
      for (const name of fs.list(dir)) {
        if (name.startsWith('.') && !part.startsWith('.')) continue
        if (re.test(name)) next.push(prefix === '' ? name : prefix === '/' ? `/${name}` : `${prefix}/${name}`)
      }
    }
    results = next
  }
  return results.sort()
}
