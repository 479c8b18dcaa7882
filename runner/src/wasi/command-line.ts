/**
 * Parsing of a submitted shell line: `;`, `&&`, `||` between simple commands, single and double
 * quotes, backslash escapes, `$VAR`/`${VAR}`/`$?`, `~` and unquoted `*`/`?` globs (expanded against
 * the workspace by `expandGlobs`). Pipes, redirections and background jobs are refused with a clear
 * message (there is no shell behind).
 */
import type { MemFs } from './memfs.ts'

export type Operator = ';' | '&&' | '||'

export interface Word {
  text: string
  /** True when the word held an unquoted `*`, `?` or `[`: expand it against the file system. */
  glob: boolean
}

export interface SimpleCommand {
  /** Operator linking this command to the previous one (`;` for the first). */
  op: Operator
  words: Word[]
  /** `< file`: the program's standard input comes from this file. */
  input?: string
}

export class ParseError extends Error {}

export interface ExpandContext {
  home: string
  vars: (name: string) => string | undefined
}

export function parseLine(line: string, ctx: ExpandContext): SimpleCommand[] {
  const commands: SimpleCommand[] = []
  let words: Word[] = []
  let input: string | undefined
  let redirectNext = false
  let op: Operator = ';'
  let word = ''
  let inWord = false
  let glob = false
  const endWord = () => {
    if (inWord && redirectNext) {
      input = word
      redirectNext = false
    } else if (inWord) words.push({ text: word, glob })
    word = ''
    inWord = false
    glob = false
  }
  const endCommand = (next: Operator) => {
    endWord()
    if (redirectNext) throw new ParseError(`syntax error near unexpected token \`${next}'`)
    if (words.length === 0) throw new ParseError(`syntax error near unexpected token \`${next}'`)
    commands.push(input === undefined ? { op, words } : { op, words, input })
    words = []
    input = undefined
    op = next
  }
  const variable = (i: number): [string, number] => {
    const rest = line.slice(i + 1)
    if (rest.startsWith('?')) return [ctx.vars('?') ?? '', 2]
    const braced = /^\{([A-Za-z_][A-Za-z0-9_]*)\}/.exec(rest)
    if (braced) return [ctx.vars(braced[1]!) ?? '', braced[0].length + 1]
    const plain = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest)
    if (plain) return [ctx.vars(plain[0]) ?? '', plain[0].length + 1]
    return ['$', 1]
  }
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!
    if (ch === "'") {
      const end = line.indexOf("'", i + 1)
      if (end < 0) throw new ParseError("unexpected end of line while looking for matching `''")
      word += line.slice(i + 1, end)
      inWord = true
      i = end
      continue
    }
    if (ch === '"') {
      inWord = true
      let j = i + 1
      for (; j < line.length && line[j] !== '"'; j++) {
        const c = line[j]!
        if (c === '\\' && j + 1 < line.length && '"\\$`'.includes(line[j + 1]!)) {
          word += line[++j]
        } else if (c === '$') {
          const [value, used] = variable(j)
          word += value
          j += used - 1
        } else word += c
      }
      if (j >= line.length) throw new ParseError('unexpected end of line while looking for matching `"\'')
      i = j
      continue
    }
    if (ch === '\\') {
      if (i + 1 < line.length) word += line[++i]
      inWord = true
      continue
    }
    if (ch === ' ' || ch === '\t') {
      endWord()
      continue
    }
    if (ch === '$') {
      const [value, used] = variable(i)
      word += value
      inWord = true
      i += used - 1
      continue
    }
    if (ch === '~' && !inWord && (i + 1 === line.length || '/ \t;&|'.includes(line[i + 1]!))) {
      word += ctx.home
      inWord = true
      continue
    }
    const two = line.slice(i, i + 2)
    if (two === '&&' || two === '||') {
      endCommand(two)
      i++
      continue
    }
    if (ch === ';') {
      endCommand(';')
      continue
    }
    if (ch === '|') throw new ParseError('pipes are not supported in this sandbox')
    if (ch === '&') throw new ParseError('background jobs are not supported in this sandbox')
    if (ch === '<') {
      endWord()
      if (redirectNext || input !== undefined) throw new ParseError('only one input redirection is supported')
      redirectNext = true
      continue
    }
    if (ch === '>')
      throw new ParseError('output redirection is not supported in this sandbox (programs can write files)')
    if (ch === '*' || ch === '?' || ch === '[') glob = true
    word += ch
    inWord = true
  }
  endWord()
  if (redirectNext) throw new ParseError("syntax error near unexpected token `newline'")
  if (words.length > 0) commands.push(input === undefined ? { op, words } : { op, words, input })
  else if (commands.length > 0 && op !== ';') throw new ParseError('syntax error: unexpected end of line')
  return commands
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
