import { globToRegExp } from './command-line.ts'
import type { MemFs } from './memfs.ts'

/**
 * A small make, interpreted in TypeScript over the session's MemFs. It covers what project
 * Makefiles use: variables (`=`, `:=`, `::=`, `?=`, `+=`, command-line `VAR=value`), `$(VAR)`,
 * `${VAR}`, substitution references, a few functions (wildcard, patsubst, subst, addprefix,
 * addsuffix, notdir, dir, basename, suffix, filter, filter-out, sort, strip, words, word,
 * firstword, lastword, foreach, if), explicit and `%` pattern rules (plus the built-in
 * `%.o: %.c` and `%: %.c`), `.PHONY`, automatic variables `$@ $< $^ $+ $? $*` (with D/F forms),
 * `ifdef`/`ifndef`/`ifeq`/`ifneq`/`else`/`endif`, recipe prefixes `@ - +` and mtime-based
 * up-to-date checks. Recipes are handed to the host, which runs the allowed commands.
 */

export interface MakeHost {
  fs: MemFs
  /** Absolute directory make starts in. */
  cwd: string
  /** make's own output: echoed commands and messages, with bare `\n`. */
  write(text: string): void
  /** Runs one expanded recipe line in `cwd`; resolves with its exit status. */
  exec(line: string, cwd: string): Promise<number>
  /** True once the user pressed Ctrl-C: make stops before the next command. */
  interrupted(): boolean
}

interface Variable {
  value: string
  recursive: boolean
  origin: 'default' | 'file' | 'command line'
}

interface RecipeLine {
  text: string
  lineno: number
}

interface Rule {
  targets: string[]
  prereqs: string[]
  orderOnly: string[]
  recipe: RecipeLine[]
  lineno: number
}

interface PatternRule {
  target: string
  prereqs: string[]
  recipe: RecipeLine[]
  lineno: number
}

export class MakeError extends Error {}

/**
 * Work one make run may spend expanding text: characters scanned plus characters produced.
 * Real Makefiles use a few thousand; nested `foreach` bombs hit it in well under a second and stop
 * with "make: expansion limit exceeded" (docs/budgets.md).
 */
export const MAKE_WORK_LIMIT = 4_000_000

const DEFAULT_VARS: Record<string, string> = {
  CC: 'cc',
  CXX: 'c++',
  RM: 'rm -f',
  MAKE: 'make',
  SHELL: '/bin/sh',
  AR: 'ar',
  ARFLAGS: 'rv',
}

const BUILTIN_PATTERNS: PatternRule[] = [
  {
    target: '%.o',
    prereqs: ['%.c'],
    recipe: [{ text: '$(CC) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<', lineno: 0 }],
    lineno: 0,
  },
  {
    target: '%',
    prereqs: ['%.c'],
    recipe: [{ text: '$(CC) $(CFLAGS) $(CPPFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)', lineno: 0 }],
    lineno: 0,
  },
]

/** A parsed Makefile: its variables, rules and default goal. */
export class Makefile {
  readonly vars = new Map<string, Variable>()
  readonly rules = new Map<string, Rule>()
  readonly patterns: PatternRule[] = []
  readonly phony = new Set<string>()
  defaultGoal: string | undefined
  auto: Record<string, string> = {}
  /** Expansion work spent so far (see MAKE_WORK_LIMIT). */
  work = 0
  readonly workLimit: number = MAKE_WORK_LIMIT

  constructor(
    readonly name: string,
    overrides: Record<string, string> = {},
    readonly fs?: MemFs,
    readonly cwd = '/',
  ) {
    for (const [k, v] of Object.entries(DEFAULT_VARS))
      this.vars.set(k, { value: v, recursive: false, origin: 'default' })
    for (const [k, v] of Object.entries(overrides))
      this.vars.set(k, { value: v, recursive: false, origin: 'command line' })
  }

  get(name: string): string {
    if (name in this.auto) return this.auto[name]!
    const dMatch = /^([@<^+?*])([DF])$/.exec(name)
    if (dMatch) {
      const words = split(this.auto[dMatch[1]!] ?? '')
      return words
        .map((w) => {
          const i = w.lastIndexOf('/')
          if (dMatch[2] === 'D') return i < 0 ? '.' : w.slice(0, i) || '/'
          return w.slice(i + 1)
        })
        .join(' ')
    }
    const v = this.vars.get(name)
    if (!v) return ''
    return v.recursive ? this.expand(v.value) : v.value
  }

  /** Expands `$` references in `text`. */
  expand(text: string, depth = 0): string {
    if (depth > 64) throw new MakeError('Recursive variable references itself (eventually)')
    this.#spend(text.length)
    let out = ''
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]
      if (ch !== '$') {
        out += ch
        continue
      }
      const next = text[i + 1]
      if (next === undefined) break
      if (next === '$') {
        out += '$'
        i++
        continue
      }
      if (next === '(' || next === '{') {
        const close = next === '(' ? ')' : '}'
        let level = 1
        let j = i + 2
        for (; j < text.length && level > 0; j++) {
          if (text[j] === next) level++
          else if (text[j] === close) level--
        }
        if (level > 0) throw new MakeError('unterminated variable reference')
        const inner = text.slice(i + 2, j - 1)
        out += this.reference(inner, depth)
        i = j - 1
        continue
      }
      out += this.get(next)
      i++
    }
    this.#spend(out.length)
    return out
  }

  /** Charges expansion work; past the limit the run stops with "make: expansion limit exceeded". */
  #spend(units: number): void {
    this.work += units + 1
    if (this.work > this.workLimit) throw new MakeError('expansion limit exceeded')
  }

  private reference(inner: string, depth: number): string {
    const fn = /^([a-z-]+)[ \t]+([\s\S]*)$/.exec(inner)
    if (fn && FUNCTIONS.has(fn[1]!)) return this.call(fn[1]!, fn[2]!, depth)
    const name = this.expand(inner, depth + 1)
    const sub = /^([^:]+):([^=]*)=(.*)$/.exec(name)
    if (sub) {
      const [, varName, from, to] = sub
      return split(this.get(varName!))
        .map((w) => patsubst(from!.includes('%') ? from! : `%${from}`, to!.includes('%') ? to! : `%${to}`, w))
        .join(' ')
    }
    return this.get(name)
  }

  private call(name: string, rawArgs: string, depth: number): string {
    const args = splitArgs(rawArgs)
    const arg = (n: number) => this.expand(args[n] ?? '', depth + 1)
    switch (name) {
      case 'wildcard':
        return split(arg(0))
          .flatMap((p) => this.wildcard(p))
          .join(' ')
      case 'patsubst':
        return split(arg(2))
          .map((w) => patsubst(arg(0), arg(1), w))
          .join(' ')
      case 'subst': {
        const parts = arg(2).split(arg(0))
        const to = arg(1)
        // why: charge the result before building it, so one call cannot make a huge string
        this.#spend((parts.length - 1) * to.length)
        return parts.join(to)
      }
      case 'addprefix':
        return split(arg(1))
          .map((w) => arg(0) + w)
          .join(' ')
      case 'addsuffix':
        return split(arg(1))
          .map((w) => w + arg(0))
          .join(' ')
      case 'notdir':
        return split(arg(0))
          .map((w) => w.slice(w.lastIndexOf('/') + 1))
          .join(' ')
      case 'dir':
        return split(arg(0))
          .map((w) => (w.includes('/') ? w.slice(0, w.lastIndexOf('/') + 1) : './'))
          .join(' ')
      case 'basename':
        return split(arg(0))
          .map((w) => w.replace(/\.[^./]*$/, ''))
          .join(' ')
      case 'suffix':
        return split(arg(0))
          .map((w) => /\.[^./]*$/.exec(w)?.[0] ?? '')
          .filter(Boolean)
          .join(' ')
      case 'filter':
      case 'filter-out': {
        const pats = split(arg(0))
        const keep = name === 'filter'
        return split(arg(1))
          .filter((w) => pats.some((p) => patternStem(p, w) !== undefined) === keep)
          .join(' ')
      }
      case 'sort':
        return [...new Set(split(arg(0)))].sort().join(' ')
      case 'strip':
        return split(arg(0)).join(' ')
      case 'words':
        return String(split(arg(0)).length)
      case 'word':
        return split(arg(1))[Number(arg(0)) - 1] ?? ''
      case 'firstword':
        return split(arg(0))[0] ?? ''
      case 'lastword':
        return split(arg(0)).at(-1) ?? ''
      case 'foreach': {
        const varName = arg(0).trim()
        const saved = this.vars.get(varName)
        const out = split(arg(1)).map((w) => {
          this.vars.set(varName, { value: w, recursive: false, origin: 'file' })
          return this.expand(args[2] ?? '', depth + 1)
        })
        if (saved) this.vars.set(varName, saved)
        else this.vars.delete(varName)
        return out.join(' ')
      }
      case 'if':
        return arg(0).trim() ? arg(1) : arg(2)
      case 'info':
      case 'warning':
        return ''
      case 'error':
        throw new MakeError(arg(0))
      default:
        throw new MakeError(`the function '${name}' is not supported in this sandbox`)
    }
  }

  private wildcard(pattern: string): string[] {
    if (!this.fs) return []
    if (!/[*?[]/.test(pattern)) return this.fs.stat(this.fs.resolve(this.cwd, pattern)) ? [pattern] : []
    const slash = pattern.lastIndexOf('/')
    const dir = slash < 0 ? '' : pattern.slice(0, slash + 1)
    const re = globToRegExp(pattern.slice(slash + 1))
    const abs = this.fs.resolve(this.cwd, dir || '.')
    if (!this.fs.isDir(abs)) return []
    return this.fs
      .list(abs)
      .filter((n) => re.test(n) && !n.startsWith('.'))
      .map((n) => dir + n)
  }

  assign(name: string, op: string, value: string): void {
    const existing = this.vars.get(name)
    if (existing?.origin === 'command line') return
    switch (op) {
      case '=':
        this.vars.set(name, { value, recursive: true, origin: 'file' })
        break
      case ':=':
      case '::=':
        this.vars.set(name, { value: this.expand(value), recursive: false, origin: 'file' })
        break
      case '?=':
        if (!existing) this.vars.set(name, { value, recursive: true, origin: 'file' })
        break
      case '+=':
        if (!existing) this.vars.set(name, { value, recursive: true, origin: 'file' })
        else {
          const add = existing.recursive ? value : this.expand(value)
          this.vars.set(name, { ...existing, value: existing.value ? `${existing.value} ${add}` : add, origin: 'file' })
        }
        break
      default:
        throw new MakeError(`the assignment '${op}' is not supported in this sandbox`)
    }
  }

  /** Parses Makefile text into this object. */
  parse(text: string): this {
    const lines = text.replace(/\r\n/g, '\n').split('\n')
    let current: Rule[] | PatternRule[] | null = null
    const conds: { active: boolean; taken: boolean }[] = []
    const active = () => conds.every((c) => c.active)
    for (let i = 0; i < lines.length; i++) {
      const lineno = i + 1
      let line = lines[i]!
      while (line.endsWith('\\') && i + 1 < lines.length) {
        line = `${line.slice(0, -1)} ${lines[++i]!.trimStart()}`
      }
      if (line.startsWith('\t') && current) {
        if (active()) for (const r of current) r.recipe.push({ text: line.slice(1), lineno })
        continue
      }
      const stripped = stripComment(line).trim()
      if (stripped === '') continue
      const directive = /^(ifdef|ifndef|ifeq|ifneq|else|endif)\b\s*(.*)$/.exec(stripped)
      if (directive) {
        const [, word, rest] = directive
        if (word === 'endif') {
          if (!conds.pop()) throw new MakeError(`${this.name}:${lineno}: *** extraneous 'endif'.  Stop.`)
        } else if (word === 'else') {
          const top = conds.at(-1)
          if (!top) throw new MakeError(`${this.name}:${lineno}: *** extraneous 'else'.  Stop.`)
          top.active = !top.taken
          top.taken = true
        } else {
          const value = active() ? this.condition(word!, rest!) : false
          conds.push({ active: value, taken: value })
        }
        continue
      }
      if (!active()) continue
      current = null
      if (/^-?include\s/.test(stripped) || /^define\s/.test(stripped)) {
        throw new MakeError(
          `${this.name}:${lineno}: *** '${stripped.split(/\s/)[0]}' is not supported in this sandbox.  Stop.`,
        )
      }
      const assignment = /^(?:export\s+|override\s+)?([^:#=\s]+)\s*(::=|:=|\?=|\+=|!=|=)\s*(.*)$/.exec(stripped)
      if (assignment) {
        this.assign(assignment[1]!, assignment[2]!, assignment[3]!)
        continue
      }
      const colon = findRuleColon(stripped)
      if (colon < 0) throw new MakeError(`${this.name}:${lineno}: *** missing separator.  Stop.`)
      const targets = split(this.expand(stripped.slice(0, colon)))
      let rest = stripped.slice(colon + 1)
      if (rest.startsWith(':')) rest = rest.slice(1)
      let inline: string | undefined
      const semi = rest.indexOf(';')
      if (semi >= 0) {
        inline = rest.slice(semi + 1).trim()
        rest = rest.slice(0, semi)
      }
      const [normal, orderOnly = ''] = this.expand(rest).split('|')
      const prereqs = split(normal ?? '')
      if (targets.includes('.PHONY')) {
        for (const p of prereqs) this.phony.add(p)
        current = null
        continue
      }
      if (targets.some((t) => t.startsWith('.') && !t.includes('/') && /^\.[A-Z_]+$/.test(t))) {
        current = null // .SUFFIXES, .DEFAULT, .SILENT...: accepted and ignored
        continue
      }
      const recipe: RecipeLine[] = inline ? [{ text: inline, lineno }] : []
      if (targets.some((t) => t.includes('%'))) {
        const rules = targets.map((t) => ({ target: t, prereqs, recipe, lineno }))
        this.patterns.push(...rules)
        current = rules
        continue
      }
      const rules: Rule[] = []
      for (const t of targets) {
        let rule = this.rules.get(t)
        if (!rule) {
          rule = { targets: [t], prereqs: [], orderOnly: [], recipe: [], lineno }
          this.rules.set(t, rule)
        }
        rule.prereqs.push(...prereqs)
        rule.orderOnly.push(...split(orderOnly))
        if (recipe.length > 0 || rule.recipe.length === 0) {
          // why: a later rule with a recipe replaces the earlier recipe, as in GNU make
          if (recipe.length > 0) rule.recipe = recipe
          rules.push(rule)
        }
      }
      current = rules // recipe lines that follow attach to each target's own rule
      this.defaultGoal ??= targets.find((t) => !t.startsWith('.'))
    }
    if (conds.length > 0) throw new MakeError(`${this.name}: *** missing 'endif'.  Stop.`)
    return this
  }

  private condition(word: string, rest: string): boolean {
    if (word === 'ifdef' || word === 'ifndef') {
      const defined = this.get(this.expand(rest.trim())) !== ''
      return word === 'ifdef' ? defined : !defined
    }
    let a: string
    let b: string
    const paren = /^\((.*),(.*)\)$/.exec(rest.trim())
    const quoted = /^["'](.*)["']\s+["'](.*)["']$/.exec(rest.trim())
    if (paren) [a, b] = [paren[1]!, paren[2]!]
    else if (quoted) [a, b] = [quoted[1]!, quoted[2]!]
    else throw new MakeError(`invalid syntax in conditional: ${rest}`)
    const equal = this.expand(a).trim() === this.expand(b).trim()
    return word === 'ifeq' ? equal : !equal
  }
}

const FUNCTIONS = new Set([
  'wildcard',
  'patsubst',
  'subst',
  'addprefix',
  'addsuffix',
  'notdir',
  'dir',
  'basename',
  'suffix',
  'filter',
  'filter-out',
  'sort',
  'strip',
  'words',
  'word',
  'firstword',
  'lastword',
  'foreach',
  'if',
  'info',
  'warning',
  'error',
  'shell',
  'call',
  'eval',
  'origin',
  'value',
  'abspath',
  'realpath',
])

function split(s: string): string[] {
  return s.split(/\s+/).filter(Boolean)
}

function splitArgs(s: string): string[] {
  const out: string[] = []
  let level = 0
  let cur = ''
  for (const ch of s) {
    if (ch === '(' || ch === '{') level++
    else if (ch === ')' || ch === '}') level--
    if (ch === ',' && level === 0) {
      out.push(cur)
      cur = ''
    } else cur += ch
  }
  out.push(cur)
  return out
}

function stripComment(line: string): string {
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '#' && line[i - 1] !== '\\') return line.slice(0, i)
  }
  return line
}

/** The colon separating targets from prerequisites (skipping `$(...)` and drive-less paths). */
function findRuleColon(line: string): number {
  let level = 0
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]
    if (ch === '(' || ch === '{') level++
    else if (ch === ')' || ch === '}') level--
    else if (ch === ':' && level === 0) return i
  }
  return -1
}

function patternStem(pattern: string, word: string): string | undefined {
  const pct = pattern.indexOf('%')
  if (pct < 0) return pattern === word ? '' : undefined
  const pre = pattern.slice(0, pct)
  const post = pattern.slice(pct + 1)
  if (word.length >= pre.length + post.length && word.startsWith(pre) && word.endsWith(post)) {
    return word.slice(pre.length, word.length - post.length)
  }
  return undefined
}

function patsubst(from: string, to: string, word: string): string {
  const stem = patternStem(from, word)
  if (stem === undefined) return word
  return to.includes('%') ? to.replace('%', stem) : to
}

interface MakeArgs {
  goals: string[]
  overrides: Record<string, string>
  dir: string | undefined
  file: string | undefined
  silent: boolean
  dryRun: boolean
  always: boolean
  keepGoing: boolean
}

export function parseMakeArgs(args: string[]): MakeArgs {
  const out: MakeArgs = {
    goals: [],
    overrides: {},
    dir: undefined,
    file: undefined,
    silent: false,
    dryRun: false,
    always: false,
    keepGoing: false,
  }
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === '-C' || a === '-f') {
      const v = args[++i]
      if (v === undefined) throw new MakeError(`option requires an argument -- '${a.slice(1)}'`)
      if (a === '-C') out.dir = v
      else out.file = v
    } else if (a.startsWith('-C') && a.length > 2) out.dir = a.slice(2)
    else if (a.startsWith('-f') && a.length > 2) out.file = a.slice(2)
    else if (a === '-s' || a === '--silent' || a === '--quiet') out.silent = true
    else if (a === '-n' || a === '--dry-run' || a === '--just-print') out.dryRun = true
    else if (a === '-B' || a === '--always-make') out.always = true
    else if (a === '-k' || a === '--keep-going') out.keepGoing = true
    else if (/^-j\d*$/.test(a) || a === '--jobs' || a.startsWith('--jobs=')) {
      if (a === '-j' && /^\d+$/.test(args[i + 1] ?? '')) i++
    } else if (a.startsWith('-')) throw new MakeError(`invalid option -- '${a.replace(/^-+/, '')}'`)
    else if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(a)) {
      const eq = a.indexOf('=')
      out.overrides[a.slice(0, eq)] = a.slice(eq + 1)
    } else out.goals.push(a)
  }
  return out
}

/** Runs `make args...` against `host.fs`; resolves with make's exit status (0, 1 or 2). */
export async function runMake(args: string[], host: MakeHost): Promise<number> {
  const fs = host.fs
  let opts: MakeArgs
  try {
    opts = parseMakeArgs(args)
  } catch (e) {
    host.write(`make: ${(e as Error).message}\n`)
    return 2
  }
  const cwd = opts.dir ? fs.resolve(host.cwd, opts.dir) : host.cwd
  if (!fs.isDir(cwd)) {
    host.write(`make: *** ${opts.dir}: No such file or directory.  Stop.\n`)
    return 2
  }
  if (opts.dir) host.write(`make: Entering directory '${cwd}'\n`)
  const status = await makeIn(cwd, opts, host)
  if (opts.dir) host.write(`make: Leaving directory '${cwd}'\n`)
  return status
}

async function makeIn(cwd: string, opts: MakeArgs, host: MakeHost): Promise<number> {
  const fs = host.fs
  const candidates = opts.file ? [opts.file] : ['GNUmakefile', 'makefile', 'Makefile']
  const found = candidates.find((f) => fs.stat(fs.resolve(cwd, f))?.kind === 'file')
  if (opts.file && !found) {
    host.write(
      `make: ${opts.file}: No such file or directory\nmake: *** No rule to make target '${opts.file}'.  Stop.\n`,
    )
    return 2
  }
  const mk = new Makefile(found ?? '(builtin)', opts.overrides, fs, cwd)
  try {
    if (found) mk.parse(new TextDecoder().decode(fs.readFile(fs.resolve(cwd, found))))
  } catch (e) {
    host.write(`make: ${(e as Error).message}\n`)
    return 2
  }
  const goals = opts.goals.length > 0 ? opts.goals : mk.defaultGoal ? [mk.defaultGoal] : []
  if (goals.length === 0) {
    host.write(
      found ? 'make: *** No targets.  Stop.\n' : 'make: *** No targets specified and no makefile found.  Stop.\n',
    )
    return 2
  }
  const runner = new Updater(mk, cwd, opts, host)
  for (const goal of goals) {
    const before = runner.commandsRun
    let result: Result
    try {
      result = await runner.update(goal, undefined)
    } catch (e) {
      host.write(`make: ${(e as Error).message}\n`)
      return 2
    }
    if (!result.ok) return 2
    if (runner.commandsRun === before) {
      const rule = mk.rules.get(goal)
      const hasRecipe = (rule?.recipe.length ?? 0) > 0 || result.viaPattern
      if (hasRecipe && !mk.phony.has(goal)) host.write(`make: '${goal}' is up to date.\n`)
      else host.write(`make: Nothing to be done for '${goal}'.\n`)
    }
  }
  return 0
}

interface Result {
  ok: boolean
  /** The target's mtime after the update (Infinity when it was remade or is phony). */
  mtime: number
  viaPattern?: boolean
}

class Updater {
  commandsRun = 0
  readonly #memo = new Map<string, Promise<Result>>()

  constructor(
    readonly mk: Makefile,
    readonly cwd: string,
    readonly opts: MakeArgs,
    readonly host: MakeHost,
  ) {}

  #path(target: string): string {
    return this.host.fs.resolve(this.cwd, target)
  }

  #mtime(target: string): number | undefined {
    return this.host.fs.stat(this.#path(target))?.mtime
  }

  update(target: string, parent: string | undefined): Promise<Result> {
    let p = this.#memo.get(target)
    if (!p) {
      p = this.#update(target, parent)
      this.#memo.set(target, p)
    }
    return p
  }

  /** An explicit rule with a recipe, else a pattern rule whose prerequisites exist or can be made. */
  #findRule(
    target: string,
    depth = 0,
  ):
    | { prereqs: string[]; orderOnly: string[]; recipe: RecipeLine[]; stem: string; lineno: number; pattern: boolean }
    | undefined {
    const explicit = this.mk.rules.get(target)
    if (explicit && explicit.recipe.length > 0) {
      return { ...explicit, stem: '', pattern: false }
    }
    if (this.mk.phony.has(target) || depth > 2) {
      return explicit ? { ...explicit, stem: '', pattern: false } : undefined
    }
    for (const pr of [...this.mk.patterns, ...BUILTIN_PATTERNS]) {
      const stem = patternStem(pr.target, target)
      if (stem === undefined || stem === '') continue
      const prereqs = pr.prereqs.map((p) => p.replace('%', stem))
      const makeable = prereqs.every(
        (p) => this.#mtime(p) !== undefined || this.mk.rules.has(p) || (p !== target && this.#findRule(p, depth + 1)),
      )
      if (!makeable) continue
      return {
        prereqs: [...prereqs, ...(explicit?.prereqs ?? [])],
        orderOnly: explicit?.orderOnly ?? [],
        recipe: pr.recipe,
        stem,
        lineno: pr.lineno,
        pattern: true,
      }
    }
    return explicit ? { ...explicit, stem: '', pattern: false } : undefined
  }

  async #update(target: string, parent: string | undefined): Promise<Result> {
    const { mk, host } = this
    const rule = this.#findRule(target)
    const phony = mk.phony.has(target)
    if (!rule) {
      const mtime = this.#mtime(target)
      if (mtime !== undefined && !phony) return { ok: true, mtime }
      if (phony) return { ok: true, mtime: Number.POSITIVE_INFINITY }
      host.write(
        parent
          ? `make: *** No rule to make target '${target}', needed by '${parent}'.  Stop.\n`
          : `make: *** No rule to make target '${target}'.  Stop.\n`,
      )
      return { ok: false, mtime: 0 }
    }
    let newest = 0
    const newer: string[] = []
    const own = this.#mtime(target)
    for (const p of rule.prereqs) {
      const r = await this.update(p, target)
      if (!r.ok) return r
      newest = Math.max(newest, r.mtime)
      if (own === undefined || r.mtime > own) newer.push(p)
    }
    for (const p of rule.orderOnly) {
      const r = await this.update(p, target)
      if (!r.ok) return r
    }
    const stale = phony || this.opts.always || own === undefined || newest > own
    if (!stale || rule.recipe.length === 0) {
      const mtime = this.#mtime(target) ?? (phony || rule.recipe.length === 0 ? Number.POSITIVE_INFINITY : 0)
      return { ok: true, mtime: phony ? Number.POSITIVE_INFINITY : mtime, viaPattern: rule.pattern }
    }
    mk.auto = {
      '@': target,
      '<': rule.prereqs[0] ?? '',
      '^': [...new Set(rule.prereqs)].join(' '),
      '+': rule.prereqs.join(' '),
      '?': [...new Set(newer)].join(' '),
      '*': rule.stem,
    }
    for (const line of rule.recipe) {
      if (host.interrupted()) {
        host.write(`make: *** [${mk.name}:${line.lineno}: ${target}] Interrupt\n`)
        return { ok: false, mtime: 0 }
      }
      let text: string
      try {
        text = mk.expand(line.text)
      } catch (e) {
        host.write(`make: ${(e as Error).message}\n`)
        return { ok: false, mtime: 0 }
      }
      let silent = this.opts.silent
      let ignore = false
      for (;;) {
        const t = text.trimStart()
        if (t.startsWith('@')) silent = true
        else if (t.startsWith('-')) ignore = true
        else if (!t.startsWith('+')) break
        text = t.slice(1)
      }
      text = text.trim()
      if (!text) continue
      this.commandsRun++
      if (!silent || this.opts.dryRun) host.write(`${text}\n`)
      if (this.opts.dryRun) continue
      const status = await host.exec(text, this.cwd)
      if (host.interrupted()) {
        host.write(`make: *** [${mk.name}:${line.lineno}: ${target}] Interrupt\n`)
        return { ok: false, mtime: 0 }
      }
      if (status !== 0) {
        if (ignore) {
          host.write(`make: [${mk.name}:${line.lineno}: ${target}] Error ${status} (ignored)\n`)
          continue
        }
        host.write(`make: *** [${mk.name}:${line.lineno}: ${target}] Error ${status}\n`)
        return { ok: false, mtime: 0 }
      }
    }
    this.commandsRun = Math.max(this.commandsRun, 1)
    return { ok: true, mtime: Number.POSITIVE_INFINITY, viaPattern: rule.pattern }
  }
}
