/**
 * The one parser of a shell command line, shared by the command policy (`policy.ts`, both back
 * ends: the Docker line tracker checks what bash will run with it) and the WASI shell
 * (`wasi/command-line.ts`, which runs what it parses). docs/runners.md, "Command policy".
 *
 * It reads the subset of bash the sandboxes offer: lists (`;` `&&` `||`, a newline is `;`),
 * pipelines (`|`, `|&`), redirections (`<` `>` `>>` `2>` `2>>` `&>` `&>>` `2>&1` `>&2` `<<<`), single
 * and double quotes, backslash escapes, `$NAME` `${NAME}` `$?`, arithmetic `$((…))`, a leading `~`,
 * unquoted globs and `#` comments. What it recognises and refuses (`forbidden`): command
 * substitution (`$(…)`, backticks), process substitution (`<(…)`, `>(…)`), `${…}` other than
 * `${NAME}`, subshells and groups (`(`, `)`), here-documents (`<<`) and background jobs (`&`).
 *
 * Pure and linear in the line's length: no recursion on visitor input, no regular expression that
 * can backtrack.
 */

export type ListOp = ';' | '&&' | '||'

/** Part of a word, before expansion. */
export type Segment =
  /** Literal text; unquoted text may hold glob characters (`*`, `?`, `[`). */
  | { type: 'text'; text: string; quoted: boolean }
  /** `$NAME`, `${NAME}`, `$?`. */
  | { type: 'var'; name: string; quoted: boolean }
  /** `$((expr))`. */
  | { type: 'arith'; expr: string; quoted: boolean }
  /** A leading `~` (the home directory). */
  | { type: 'tilde' }

export interface Word {
  /** The word as typed. */
  raw: string
  segments: Segment[]
}

export type RedirectOp = '<' | '>' | '>>' | '<<<' | '>&' | '<&' | '<>' | '>|'

export interface Redirect {
  /** The file descriptor redirected (0 for `<`, 1 for `>`; `&>` is 1 followed by `2>&1`). */
  fd: number
  op: RedirectOp
  target: Word
}

export interface Command {
  words: Word[]
  /** In the order typed (bash applies them left to right). */
  redirects: Redirect[]
}

export interface Pipeline {
  /** How this pipeline links to the previous one (`;` for the first). */
  op: ListOp
  commands: Command[]
}

export interface Forbidden {
  /** The construct as typed (`$(`, `` ` ``, `<(`, `${x:-y}`, `(`, `<<`, `&`). */
  construct: string
  message: string
}

export interface ParsedLine {
  pipelines: Pipeline[]
  /** The first construct of the line the sandboxes refuse. */
  forbidden?: Forbidden
  /** The first syntax error (an unterminated quote, an empty command between operators…). */
  error?: string
}

const SUBSTITUTION = 'command substitution is not allowed here'
const PROCESS_SUBSTITUTION = 'process substitution (<(…), >(…)) is not allowed here'
// biome-ignore lint/suspicious/noTemplateCurlyInString: the shell syntax the message names
const BRACES = 'only ${NAME} expansions are allowed here'
const SUBSHELL = 'subshells and groups ( … ) are not allowed here'
const HEREDOC = 'here-documents (<<) are not supported here: use <<< or a file'
const BACKGROUND = 'background jobs (&) are not supported here'

const NAME_START = /[A-Za-z_]/
const NAME_CHAR = /[A-Za-z0-9_]/
const SPECIAL_VARS = '?$#!@*-0123456789'

/**
 * Parses a line. Never throws: syntax errors and refused constructs are reported in the result,
 * and parsing goes on past them, so the policy sees every command of a line bash would complete
 * on a continuation line (`ls &&` then `rm x`).
 */
export function parseShellLine(line: string): ParsedLine {
  const result: ParsedLine = { pipelines: [] }
  const forbid = (construct: string, message: string) => {
    result.forbidden ??= { construct, message }
  }
  const fail = (message: string) => {
    result.error ??= message
  }

  let pipeline: Command[] = []
  let op: ListOp = ';'
  let command: Command = { words: [], redirects: [] }
  let segments: Segment[] = []
  let raw = ''
  let inWord = false
  let wordStart = 0
  /** Set after a redirection operator: the next word is its target. */
  let pendingRedirect: { fd: number; op: RedirectOp; extra?: Redirect } | undefined

  const text = (t: string, quoted: boolean) => {
    const last = segments[segments.length - 1]
    if (last?.type === 'text' && last.quoted === quoted) last.text += t
    else segments.push({ type: 'text', text: t, quoted })
  }
  const endWord = (at: number) => {
    if (!inWord) return
    raw = line.slice(wordStart, at)
    const word: Word = { raw, segments }
    if (pendingRedirect) {
      command.redirects.push({ fd: pendingRedirect.fd, op: pendingRedirect.op, target: word })
      if (pendingRedirect.extra) command.redirects.push(pendingRedirect.extra)
      pendingRedirect = undefined
    } else command.words.push(word)
    segments = []
    inWord = false
  }
  const startWord = (at: number) => {
    if (!inWord) {
      inWord = true
      wordStart = at
    }
  }
  const empty = (c: Command) => c.words.length === 0 && c.redirects.length === 0
  const endCommand = (next: string, at: number) => {
    endWord(at)
    if (pendingRedirect) {
      fail(`syntax error near unexpected token \`${next}'`)
      pendingRedirect = undefined
    }
    if (empty(command)) {
      fail(`syntax error near unexpected token \`${next}'`)
      return false
    }
    pipeline.push(command)
    command = { words: [], redirects: [] }
    return true
  }
  const endPipeline = (next: ListOp | 'newline', at: number) => {
    endWord(at)
    if (pendingRedirect) {
      fail(`syntax error near unexpected token \`${next}'`)
      pendingRedirect = undefined
    }
    if (!empty(command)) {
      pipeline.push(command)
      command = { words: [], redirects: [] }
    } else if (next !== 'newline') {
      // `ls | ;`, `; ls`, `ls && && x`
      fail(`syntax error near unexpected token \`${next}'`)
    } else if (pipeline.length > 0) return // `ls |` then a newline: the pipeline goes on
    if (pipeline.length > 0) {
      result.pipelines.push({ op, commands: pipeline })
      pipeline = []
      op = next === 'newline' ? ';' : next
    } else if (next !== 'newline') op = next
  }

  /** `$` at `i` (unquoted or inside double quotes): returns the index of its last character. */
  const dollar = (i: number, quoted: boolean): number => {
    const next = line[i + 1]
    if (next === '(' && line[i + 2] === '(') {
      // arithmetic: up to the `))` that closes it
      let depth = 0
      for (let j = i + 3; j < line.length; j++) {
        const c = line[j]
        if (c === '(') depth++
        else if (c === ')') {
          if (depth === 0 && line[j + 1] === ')') {
            const expr = line.slice(i + 3, j)
            checkInside(expr)
            segments.push({ type: 'arith', expr, quoted })
            return j + 1
          }
          if (depth > 0) depth--
        }
      }
      checkInside(line.slice(i + 3))
      fail("unexpected end of line while looking for matching `))'")
      return line.length - 1
    }
    if (next === '(') {
      forbid('$(', SUBSTITUTION)
      text('$(', quoted)
      return i + 1
    }
    if (next === '{') {
      const close = line.indexOf('}', i + 2)
      const name = close < 0 ? '' : line.slice(i + 2, close)
      if (close > 0 && isName(name)) {
        segments.push({ type: 'var', name, quoted })
        return close
      }
      forbid(close < 0 ? line.slice(i) : line.slice(i, close + 1), BRACES)
      text('${', quoted)
      return i + 1
    }
    if (next !== undefined && SPECIAL_VARS.includes(next)) {
      segments.push({ type: 'var', name: next, quoted })
      return i + 1
    }
    if (next !== undefined && NAME_START.test(next)) {
      let j = i + 2
      while (j < line.length && NAME_CHAR.test(line[j]!)) j++
      segments.push({ type: 'var', name: line.slice(i + 1, j), quoted })
      return j - 1
    }
    text('$', quoted)
    return i
  }
  /** Arithmetic text: no substitution may hide inside it. */
  const checkInside = (expr: string) => {
    for (let j = 0; j < expr.length; j++) {
      if (expr[j] === '`') forbid('`', SUBSTITUTION)
      else if (expr[j] === '$' && expr[j + 1] === '(' && expr[j + 2] !== '(') forbid('$(', SUBSTITUTION)
      else if (expr[j] === '$' && expr[j + 1] === '{') {
        const close = expr.indexOf('}', j + 2)
        if (close < 0 || !isName(expr.slice(j + 2, close))) forbid('${', BRACES)
      }
    }
  }

  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!
    if (ch === ' ' || ch === '\t') {
      endWord(i)
      continue
    }
    if (ch === '\n' || ch === '\r') {
      endPipeline('newline', i)
      continue
    }
    if (ch === '#' && !inWord) {
      // a comment to the end of the line
      const nl = line.indexOf('\n', i)
      if (nl < 0) break
      i = nl - 1
      continue
    }
    if (ch === "'") {
      startWord(i)
      const end = line.indexOf("'", i + 1)
      if (end < 0) {
        fail("unexpected end of line while looking for matching `''")
        text(line.slice(i + 1), true)
        i = line.length
        continue
      }
      // why: refused even where bash would not expand it: text the visitor writes into a file
      // (`cc -MT '${…}'`) may be read by make later (docs/budgets.md)
      checkInside(line.slice(i + 1, end))
      text(line.slice(i + 1, end), true)
      i = end
      continue
    }
    if (ch === '"') {
      startWord(i)
      // an empty quoted string is still a word
      text('', true)
      let j = i + 1
      for (; j < line.length && line[j] !== '"'; j++) {
        const c = line[j]!
        if (c === '\\' && j + 1 < line.length && '"\\$`\n'.includes(line[j + 1]!)) {
          j++
          if (line[j] !== '\n') text(line[j]!, true)
        } else if (c === '$') j = dollar(j, true)
        else if (c === '`') {
          forbid('`', SUBSTITUTION)
          text(c, true)
        } else text(c, true)
      }
      if (j >= line.length) fail('unexpected end of line while looking for matching `"\'')
      i = j
      continue
    }
    if (ch === '\\') {
      startWord(i)
      if (i + 1 < line.length) {
        i++
        if (line[i] !== '\n') text(line[i]!, true)
      }
      continue
    }
    if (ch === '`') {
      forbid('`', SUBSTITUTION)
      startWord(i)
      text(ch, false)
      continue
    }
    if (ch === '$') {
      startWord(i)
      i = dollar(i, false)
      continue
    }
    if (ch === '~' && !inWord && (i + 1 === line.length || '/ \t;&|<>\n'.includes(line[i + 1]!))) {
      startWord(i)
      segments.push({ type: 'tilde' })
      continue
    }
    if (ch === '(' || ch === ')') {
      forbid(ch, SUBSHELL)
      endWord(i)
      continue
    }
    if (ch === '<' || ch === '>') {
      // a word of digits right before the operator is its file descriptor (`2>`)
      let fd = ch === '<' ? 0 : 1
      if (inWord && segments.length === 1 && segments[0]!.type === 'text' && !segments[0]!.quoted) {
        const digits = segments[0]!.text
        if (/^[0-9]$/.test(digits) && line.slice(wordStart, i) === digits) {
          fd = Number(digits)
          segments = []
          inWord = false
        }
      }
      endWord(i)
      if (pendingRedirect) fail(`syntax error near unexpected token \`${ch}'`)
      const next = line[i + 1]
      let op: RedirectOp
      if (next === '(') {
        forbid(`${ch}(`, PROCESS_SUBSTITUTION)
        i++
        continue
      }
      if (ch === '<') {
        if (next === '<' && line[i + 2] === '<') {
          op = '<<<'
          i += 2
        } else if (next === '<') {
          forbid('<<', HEREDOC)
          i += line[i + 2] === '-' ? 2 : 1
          op = '<'
        } else if (next === '&') {
          op = '<&'
          i++
        } else if (next === '>') {
          op = '<>'
          i++
        } else op = '<'
      } else if (next === '>') {
        op = '>>'
        i++
      } else if (next === '&') {
        op = '>&'
        i++
      } else if (next === '|') {
        op = '>|'
        i++
      } else op = '>'
      pendingRedirect = { fd, op }
      continue
    }
    if (ch === '&' && line[i + 1] === '>') {
      // `&> file`, `&>> file`: stdout to the file, then stderr where stdout goes
      endWord(i)
      const append = line[i + 2] === '>'
      i += append ? 2 : 1
      pendingRedirect = {
        fd: 1,
        op: append ? '>>' : '>',
        extra: { fd: 2, op: '>&', target: literalWord('1') },
      }
      continue
    }
    const two = line.slice(i, i + 2)
    if (two === '&&' || two === '||') {
      endPipeline(two, i)
      i++
      continue
    }
    if (two === ';;' || two === ';&') {
      fail(`syntax error near unexpected token \`${two}'`)
      endPipeline(';', i)
      i++
      continue
    }
    if (ch === ';') {
      endPipeline(';', i)
      continue
    }
    if (ch === '|') {
      const both = line[i + 1] === '&'
      // `a |& b` is `a 2>&1 | b`
      if (both) command.redirects.push({ fd: 2, op: '>&', target: literalWord('1') })
      endCommand(both ? '|&' : '|', i)
      if (both) i++
      continue
    }
    if (ch === '&') {
      forbid('&', BACKGROUND)
      endPipeline(';', i)
      continue
    }
    startWord(i)
    text(ch, false)
  }
  endWord(line.length)
  if (pendingRedirect) {
    fail("syntax error near unexpected token `newline'")
    pendingRedirect = undefined
  }
  if (!empty(command)) pipeline.push(command)
  else if (pipeline.length > 0) fail('syntax error: unexpected end of line')
  if (pipeline.length > 0) result.pipelines.push({ op, commands: pipeline })
  else if (result.pipelines.length > 0 && op !== ';') fail('syntax error: unexpected end of line')
  return result
}

function isName(s: string): boolean {
  if (!s || !NAME_START.test(s[0]!)) return false
  for (const c of s) if (!NAME_CHAR.test(c)) return false
  return true
}

export function literalWord(text: string): Word {
  return { raw: text, segments: [{ type: 'text', text, quoted: true }] }
}

/** The word's text when it holds no expansion (variables, arithmetic, `~`, globs); else undefined. */
export function literalText(word: Word): string | undefined {
  let out = ''
  for (const s of word.segments) {
    if (s.type !== 'text') return undefined
    if (!s.quoted && /[*?[]/.test(s.text)) return undefined
    out += s.text
  }
  return out
}

/** True when the word has an unquoted glob character. */
export function hasGlob(word: Word): boolean {
  return word.segments.some((s) => s.type === 'text' && !s.quoted && /[*?[]/.test(s.text))
}

export class ArithmeticError extends Error {}

/** Nesting of parentheses in `$((…))` at most (the evaluator recurses on them). */
const MAX_ARITH_DEPTH = 64

/**
 * Evaluates bash integer arithmetic (`+ - * / % **`, unary `+ - !  ~`, comparisons, `&& ||`,
 * parentheses, variable names and numbers) with 64-bit wrap-around, as bash does.
 */
export function evaluateArithmetic(expr: string, vars: (name: string) => string | undefined): bigint {
  const tokens = expr.match(/\s+|\d+|[A-Za-z_][A-Za-z0-9_]*|\*\*|<=|>=|==|!=|&&|\|\||<<|>>|\$\??[A-Za-z_0-9]*|./g) ?? []
  const toks = tokens.filter((t) => !/^\s+$/.test(t))
  let pos = 0
  let depth = 0
  const wrap = (n: bigint) => BigInt.asIntN(64, n)
  const peek = () => toks[pos]
  const take = () => toks[pos++]
  const value = (name: string): bigint => {
    const v = (vars(name) ?? '').trim()
    if (v === '') return 0n
    if (!/^-?\d+$/.test(v)) throw new ArithmeticError(`${v}: syntax error: operand expected`)
    return wrap(BigInt(v))
  }
  const primary = (): bigint => {
    const t = take()
    if (t === undefined) throw new ArithmeticError('syntax error: operand expected')
    if (t === '(') {
      if (++depth > MAX_ARITH_DEPTH) throw new ArithmeticError('expression nested too deeply')
      const v = ternary()
      depth--
      if (take() !== ')') throw new ArithmeticError("syntax error: missing `)'")
      return v
    }
    if (t === '-') return wrap(-unary())
    if (t === '+') return unary()
    if (t === '!') return unary() === 0n ? 1n : 0n
    if (t === '~') return wrap(~unary())
    if (/^\d+$/.test(t)) return wrap(BigInt(t))
    if (t.startsWith('$')) return value(t.slice(1))
    if (/^[A-Za-z_]/.test(t)) return value(t)
    throw new ArithmeticError(`syntax error: operand expected (error token is "${t}")`)
  }
  const unary = (): bigint => {
    if (++depth > MAX_ARITH_DEPTH) throw new ArithmeticError('expression nested too deeply')
    const v = primary()
    depth--
    return v
  }
  const power = (): bigint => {
    const base = unary()
    if (peek() !== '**') return base
    take()
    const exp = power()
    if (exp < 0n) throw new ArithmeticError('exponent less than 0')
    let result = 1n
    let b = base
    let e = exp
    while (e > 0n) {
      if (e & 1n) result = wrap(result * b)
      b = wrap(b * b)
      e >>= 1n
    }
    return result
  }
  const binary = (next: () => bigint, ops: Record<string, (a: bigint, b: bigint) => bigint>) => (): bigint => {
    let left = next()
    for (let t = peek(); t !== undefined && t in ops; t = peek()) {
      take()
      left = wrap(ops[t]!(left, next()))
    }
    return left
  }
  const divide = (a: bigint, b: bigint, rem: boolean) => {
    if (b === 0n) throw new ArithmeticError('division by 0')
    return rem ? a % b : a / b
  }
  const b = (x: boolean) => (x ? 1n : 0n)
  const mul = binary(power, {
    '*': (x, y) => x * y,
    '/': (x, y) => divide(x, y, false),
    '%': (x, y) => divide(x, y, true),
  })
  const add = binary(mul, { '+': (x, y) => x + y, '-': (x, y) => x - y })
  const shift = binary(add, { '<<': (x, y) => x << (y & 63n), '>>': (x, y) => x >> (y & 63n) })
  const cmp = binary(shift, {
    '<': (x, y) => b(x < y),
    '>': (x, y) => b(x > y),
    '<=': (x, y) => b(x <= y),
    '>=': (x, y) => b(x >= y),
  })
  const eq = binary(cmp, { '==': (x, y) => b(x === y), '!=': (x, y) => b(x !== y) })
  const band = binary(eq, { '&': (x, y) => x & y })
  const bxor = binary(band, { '^': (x, y) => x ^ y })
  const bor = binary(bxor, { '|': (x, y) => x | y })
  const and = binary(bor, { '&&': (x, y) => b(x !== 0n && y !== 0n) })
  const or = binary(and, { '||': (x, y) => b(x !== 0n || y !== 0n) })
  const ternary = (): bigint => {
    const cond = or()
    if (peek() !== '?') return cond
    take()
    const yes = ternary()
    if (take() !== ':') throw new ArithmeticError("syntax error: `:' expected")
    const no = ternary()
    return cond !== 0n ? yes : no
  }
  if (toks.length === 0) return 0n
  const v = ternary()
  if (pos < toks.length)
    throw new ArithmeticError(`syntax error in expression (error token is "${toks.slice(pos).join('')}")`)
  return v
}
