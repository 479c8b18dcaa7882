import { checkLine } from '../policy.ts'
import type { ProjectSpec, TerminalSize } from '../types.ts'
import { globToRegExp, ParseError, parseLine, type SimpleCommand, type Word } from './command-line.ts'
import { type Completion, columns, type Key, KeyDecoder, LineEditor } from './line-editor.ts'
import { runMake } from './make.ts'
import { basename, dirname, FsError, type MemFs } from './memfs.ts'
import { GUEST_HOME, type HostPool, ProgramRun } from './program.ts'
import type { Toolchain } from './toolchain.ts'
import { capMemory, isWasm } from './wasm-limits.ts'

export const HOME = '/home/coder'
const USER = 'coder'
const HOST = 'shellfolio'

const BUILTINS = ['cat', 'cd', 'clear', 'echo', 'exit', 'help', 'history', 'ls', 'make', 'pwd', 'stty']
const COMPILERS = new Set(['cc', 'gcc', 'clang', 'c++', 'g++', 'clang++'])
/** Real commands people try; refusing them says "not allowed" rather than "not found". */
const KNOWN_COMMANDS = new Set([
  'rm',
  'mv',
  'cp',
  'mkdir',
  'rmdir',
  'touch',
  'chmod',
  'chown',
  'ln',
  'bash',
  'sh',
  'zsh',
  'sudo',
  'su',
  'curl',
  'wget',
  'ssh',
  'scp',
  'nc',
  'python',
  'python3',
  'node',
  'bun',
  'perl',
  'vim',
  'vi',
  'nano',
  'less',
  'more',
  'head',
  'tail',
  'grep',
  'find',
  'sed',
  'awk',
  'ps',
  'kill',
  'top',
  'env',
  'export',
  'git',
  'apt',
  'apt-get',
  'dd',
  'mount',
  'tar',
  'gdb',
  'valgrind',
  'clang',
  'g++',
  'c++',
  'ar',
  'ld',
  'file',
  'which',
  'whoami',
  'uname',
  'date',
  'yes',
  'sleep',
  'true',
  'false',
  'printf',
  'test',
  'source',
  'exec',
  'eval',
])

const te = new TextEncoder()
/** Placeholder for `$?` between parsing and running a command. */
const STATUS_MARK = '\u0000status\u0000'

/** Bytes that switch a program into "full-screen" mode: alternate screen, hidden cursor, clear. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes on purpose
const FULL_SCREEN = /\x1b\[\?1049h|\x1b\[\?25l|\x1b\[2J|\x1b\[\?47h/

export interface ShellOptions {
  fs: MemFs
  project: ProjectSpec
  env: Record<string, string>
  size: () => TerminalSize
  /** Output of the shell itself (small, bounded). */
  write: (data: Uint8Array) => void
  /** Program output; resolves when the session can take more (flow control). */
  writeAsync: (data: Uint8Array) => Promise<void>
  /** The shell exited (`exit N`, Ctrl-D). */
  exit: (code: number) => void
  toolchain: Toolchain
  /** Processes that run programs. */
  hosts: HostPool
  /** The precompiled binary `prebuilt/<name>.wasm` of the project, if there is one. */
  prebuilt: (name: string) => Promise<Uint8Array | undefined>
  programTimeLimitMs: number
  memoryLimit: number
}

interface Context {
  cwd: string
  /** Inside a make recipe: make-internal commands (rm -f...) are available. */
  recipe: boolean
}

const capped = new WeakMap<Uint8Array, Uint8Array>()

/**
 * The restricted shell: a line editor at the prompt, builtins and `make` in TypeScript, programs as
 * WebAssembly instances. No process exists until a program runs, so an idle session is a few objects.
 */
export class Shell {
  readonly editor: LineEditor
  cwd: string
  #oldCwd: string
  #status = 0
  readonly #decoder = new KeyDecoder()
  readonly #queue: Key[] = []
  #busy = false
  #interrupted = false
  #program: ProgramRun | undefined
  #programLine: string[] = []
  #raw = false
  #closed = false
  #column0 = true

  constructor(readonly o: ShellOptions) {
    this.cwd = HOME
    this.#oldCwd = HOME
    this.editor = new LineEditor({
      write: (text) => this.#print(text, false),
      prompt: () => this.prompt(),
      columns: () => this.o.size().cols,
      complete: (line, cursor) => this.complete(line, cursor),
    })
  }

  get projectDir(): string {
    return `${HOME}/projects/${this.o.project.slug}`
  }

  /** `~/projects/minirt` style path. */
  display(path: string): string {
    if (path === HOME) return '~'
    if (path.startsWith(`${HOME}/`)) return `~${path.slice(HOME.length)}`
    return path
  }

  prompt(): string {
    return `\x1b[1;32m${USER}@${HOST}\x1b[0m:\x1b[1;34m${this.display(this.cwd)}\x1b[0m$ `
  }

  start(): void {
    this.#print(
      `\x1b[2mShellfolio WASI shell — project \x1b[0m\x1b[1m${this.o.project.slug}\x1b[0m\x1b[2m is in ~/projects/${this.o.project.slug}. Type \x1b[0mhelp\x1b[2m for commands.\x1b[0m\n`,
    )
    this.editor.start()
  }

  /** Ends the shell (session killed): stops a running program. */
  close(): void {
    this.#closed = true
    this.#interrupted = true
    this.#program?.interrupt()
  }

  /** Terminal input. */
  input(data: Uint8Array | string): void {
    if (this.#closed) return
    for (const key of this.#decoder.decode(data)) {
      if (key.type === 'ctrl-c' && this.#busy) {
        this.#interrupt()
        continue
      }
      this.#queue.push(key)
    }
    this.#drain()
  }

  #interrupt(): void {
    this.#interrupted = true
    this.#queue.length = 0
    this.#programLine = []
    if (this.#program) this.#program.interrupt()
  }

  #drain(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      if (this.#program) {
        this.#programKey(this.#queue.shift()!)
        continue
      }
      if (this.#busy) return
      const result = this.editor.handle(this.#queue.shift()!)
      if (!result) continue
      if (result.type === 'eof') {
        this.#print('exit\n')
        this.#exit(0)
        return
      }
      if (result.type === 'interrupt') {
        this.#status = 130
        this.editor.start()
        continue
      }
      this.#busy = true
      this.#interrupted = false
      void this.#submit(result.line).finally(() => {
        this.#busy = false
        this.#interrupted = false
        if (this.#closed) return
        this.editor.start()
        this.#drain()
      })
    }
  }

  #exit(code: number): void {
    if (this.#closed) return
    this.#closed = true
    this.o.exit(code)
  }

  /** Terminal line discipline while a program runs: canonical with echo, raw for full-screen programs. */
  #programKey(key: Key): void {
    const program = this.#program!
    program.touch()
    if (this.#raw) {
      const bytes = keyBytes(key)
      if (key.type === 'ctrl-d') program.closeStdin()
      else if (bytes) program.write(te.encode(bytes))
      return
    }
    switch (key.type) {
      case 'text':
        this.#programLine.push(...key.text)
        this.#print(key.text, false)
        break
      case 'backspace':
        if (this.#programLine.length > 0) {
          this.#programLine.pop()
          this.#print('\b \b', false)
        }
        break
      case 'ctrl-u':
        this.#print('\b \b'.repeat(this.#programLine.length), false)
        this.#programLine = []
        break
      case 'enter': {
        const line = `${this.#programLine.join('')}\n`
        this.#programLine = []
        this.#print('\r\n', false)
        this.#column0 = true
        program.write(te.encode(line))
        break
      }
      case 'ctrl-d':
        if (this.#programLine.length === 0) program.closeStdin()
        else {
          program.write(te.encode(this.#programLine.join('')))
          this.#programLine = []
        }
        break
      default:
        break
    }
  }

  /** Writes shell text, translating `\n` to `\r\n`. */
  #print(text: string, translate = true): void {
    if (text.length === 0) return
    const out = translate ? text.replace(/\r?\n/g, '\r\n') : text
    this.#column0 = out.endsWith('\n')
    this.o.write(te.encode(out))
  }

  async #submit(line: string): Promise<void> {
    if (!line.trim()) return
    this.editor.addHistory(line)
    const verdict = checkLine(line, this.o.project.policy)
    if (!verdict.ok) {
      this.#refuse(verdict.command, verdict.message)
      return
    }
    let commands: SimpleCommand[]
    try {
      commands = parseLine(line, this.#expandContext())
    } catch (e) {
      if (!(e instanceof ParseError)) throw e
      this.#print(`shellfolio: ${e.message}\n`)
      this.#status = 2
      return
    }
    await this.#runList(commands, { cwd: this.cwd, recipe: false })
  }

  #refuse(command: string, message: string): void {
    this.#status = 126
    const known = KNOWN_COMMANDS.has(command) || BUILTINS.includes(command) || COMPILERS.has(command)
    if (command.includes('/') || known || !/^[\w.+-]+$/.test(command)) this.#print(`shellfolio: ${message}\n`)
    else {
      this.#status = 127
      this.#print(`command not found: ${command} — type help\n`)
    }
  }

  #expandContext() {
    return {
      home: HOME,
      vars: (name: string) => {
        if (name === '?') return STATUS_MARK
        if (name === 'HOME') return HOME
        if (name === 'USER') return USER
        if (name === 'PWD') return this.cwd
        if (name === 'COLUMNS') return String(this.o.size().cols)
        if (name === 'LINES') return String(this.o.size().rows)
        return this.o.env[name]
      },
    }
  }

  async #runList(commands: SimpleCommand[], ctx: Context): Promise<number> {
    let status = 0
    for (const cmd of commands) {
      if (this.#closed) break
      if (this.#interrupted && !ctx.recipe) break
      if (cmd.op === '&&' && status !== 0) continue
      if (cmd.op === '||' && status === 0) continue
      // why: `$?` is expanded when the command runs, not when the line is parsed
      const words = cmd.words.map((w) => ({ ...w, text: w.text.replaceAll(STATUS_MARK, String(this.#status)) }))
      status = await this.#runCommand(this.#expandGlobs(words, ctx.cwd), ctx, cmd.input)
      this.#status = status
    }
    return status
  }

  #expandGlobs(words: Word[], cwd: string): string[] {
    const out: string[] = []
    for (const w of words) {
      if (!w.glob) {
        out.push(w.text)
        continue
      }
      const matches = this.#glob(w.text, cwd)
      if (matches.length === 0) out.push(w.text)
      else out.push(...matches)
    }
    return out
  }

  #glob(pattern: string, cwd: string): string[] {
    const fs = this.o.fs
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

  async #runCommand(argv: string[], ctx: Context, input?: string): Promise<number> {
    const [name, ...args] = argv
    if (name === undefined) return 0
    const out = (text: string) => this.#print(text)
    try {
      let stdin: Uint8Array | undefined
      if (input !== undefined) {
        stdin = this.o.fs.readFile(this.o.fs.resolve(ctx.cwd, input))
        if (name === 'cat' && args.length === 0) {
          this.o.write(onlcr(stdin, { lastCr: false }))
          return 0
        }
      }
      switch (name) {
        case 'echo': {
          const noNewline = args[0] === '-n'
          out(`${(noNewline ? args.slice(1) : args).join(' ')}${noNewline ? '' : '\n'}`)
          return 0
        }
        case 'pwd':
          out(`${ctx.cwd}\n`)
          return 0
        case 'cd':
          return this.#cd(args, ctx)
        case 'ls':
          return this.#ls(args, ctx.cwd)
        case 'cat':
          return this.#cat(args, ctx.cwd)
        case 'clear':
          this.#print('\x1b[H\x1b[2J\x1b[3J', false)
          return 0
        case 'help':
          out(this.#help())
          return 0
        case 'history':
          this.editor.history.forEach((h, i) => {
            out(`${String(i + 1).padStart(5)}  ${h}\n`)
          })
          return 0
        case 'exit': {
          if (ctx.recipe) break
          const code = args[0] === undefined ? this.#status : Number.parseInt(args[0], 10)
          if (Number.isNaN(code)) {
            out(`exit: ${args[0]}: numeric argument required\n`)
            this.#exit(2)
            return 2
          }
          this.#exit(code & 0xff)
          return code & 0xff
        }
        case 'stty':
          return this.#stty(args)
        case 'make':
          return await runMake(args, {
            fs: this.o.fs,
            cwd: ctx.cwd,
            write: (text) => this.#print(text),
            exec: (line, cwd) => this.#recipe(line, cwd),
            interrupted: () => this.#interrupted,
          })
        case 'true':
        case ':':
          if (ctx.recipe) return 0
          break
        case 'false':
          if (ctx.recipe) return 1
          break
        case 'rm':
        case 'mkdir':
        case 'touch':
          if (ctx.recipe) return this.#fileOp(name, args, ctx.cwd)
          break
      }
      if (COMPILERS.has(name)) return await this.#compile(argv, ctx.cwd)
      if (name.includes('/')) return await this.#runProgram(name, args, ctx.cwd, stdin)
      if (ctx.recipe) {
        out(`make: ${name}: not available in this sandbox (recipes may use cc, rm, mkdir, touch, echo)\n`)
        return 127
      }
      out(`command not found: ${name} — type help\n`)
      return 127
    } catch (e) {
      if (e instanceof FsError) {
        out(`${name}: ${e.path}: ${e.message}\n`)
        return 1
      }
      throw e
    }
  }

  async #recipe(line: string, cwd: string): Promise<number> {
    let commands: SimpleCommand[]
    try {
      commands = parseLine(line, this.#expandContext())
    } catch (e) {
      this.#print(`make: ${(e as Error).message}\n`)
      return 2
    }
    return this.#runList(commands, { cwd, recipe: true })
  }

  #cd(args: string[], ctx: Context): number {
    const target = args[0] === undefined ? HOME : args[0] === '-' ? this.#oldCwd : args[0]
    const path = this.o.fs.resolve(ctx.cwd, target)
    const node = this.o.fs.stat(path)
    if (!node) {
      this.#print(`cd: ${args[0]}: No such file or directory\n`)
      return 1
    }
    if (node.kind !== 'dir') {
      this.#print(`cd: ${args[0]}: Not a directory\n`)
      return 1
    }
    if (args[0] === '-') this.#print(`${this.display(path)}\n`)
    if (ctx.recipe) {
      ctx.cwd = path
      return 0
    }
    this.#oldCwd = ctx.cwd
    this.cwd = path
    ctx.cwd = path
    return 0
  }

  #colour(path: string, name: string): string {
    const node = this.o.fs.stat(path)
    if (node?.kind === 'dir') return `\x1b[1;34m${name}\x1b[0m`
    if (node?.kind === 'file' && isWasm(node.data)) return `\x1b[1;32m${name}\x1b[0m`
    return name
  }

  #ls(args: string[], cwd: string): number {
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
            this.#print(`ls: invalid option -- '${f}'\nTry 'ls [-l] [-a] [path...]'.\n`)
            return 2
          }
        }
      } else paths.push(a)
    }
    if (paths.length === 0) paths.push('.')
    const fs = this.o.fs
    let status = 0
    const files: string[] = []
    const dirs: string[] = []
    for (const p of paths) {
      const abs = fs.resolve(cwd, p)
      const node = fs.stat(abs)
      if (!node) {
        this.#print(`ls: cannot access '${p}': No such file or directory\n`)
        status = 2
      } else if (node.kind === 'dir') dirs.push(p)
      else files.push(p)
    }
    const cols = this.o.size().cols
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
          this.#print(
            `${mode} 1 ${USER} ${USER} ${String(sizes[i]).padStart(width)} ${formatDate(n.mtime)} ${this.#colour(e.path, e.name)}\n`,
          )
        })
      } else if (one) {
        for (const e of entries) this.#print(`${this.#colour(e.path, e.name)}\n`)
      } else {
        const byName = new Map(entries.map((e) => [e.name, e.path]))
        this.#print(
          columns(
            entries.map((e) => e.name),
            cols,
            (name) => this.#colour(byName.get(name)!, name),
          ),
          false,
        )
      }
    }
    render(files.map((f) => ({ name: f, path: fs.resolve(cwd, f) })))
    dirs.forEach((d, i) => {
      const abs = fs.resolve(cwd, d)
      if (paths.length > 1) this.#print(`${files.length > 0 || i > 0 ? '\n' : ''}${d}:\n`)
      const names = fs.list(abs).filter((n) => all || !n.startsWith('.'))
      if (all) names.unshift('.', '..')
      if (long) this.#print(`total ${names.length * 4}\n`)
      render(names.map((n) => ({ name: n, path: fs.resolve(abs, n) })))
    })
    return status
  }

  #cat(args: string[], cwd: string): number {
    if (args.length === 0) {
      this.#print('cat: reading from the terminal is not supported here; give a file name\n')
      return 1
    }
    let status = 0
    for (const a of args) {
      const node = this.o.fs.stat(this.o.fs.resolve(cwd, a))
      if (!node) {
        this.#print(`cat: ${a}: No such file or directory\n`)
        status = 1
      } else if (node.kind === 'dir') {
        this.#print(`cat: ${a}: Is a directory\n`)
        status = 1
      } else if (isWasm(node.data)) {
        this.#print(`cat: ${a}: binary file (WebAssembly program) — run it with ./${basename(a)}\n`)
        status = 1
      } else {
        this.o.write(onlcr(node.data, { lastCr: false }))
        this.#column0 = node.data.length === 0 || node.data[node.data.length - 1] === 0x0a
      }
    }
    return status
  }

  #stty(args: string[]): number {
    const { rows, cols } = this.o.size()
    if (args[0] === 'size') {
      this.#print(`${rows} ${cols}\n`)
      return 0
    }
    if (args.length === 0) {
      this.#print(`speed 38400 baud; rows ${rows}; columns ${cols}; line = 0;\n`)
      return 0
    }
    if (args[0] === 'sane') return 0
    this.#print(`stty: only 'stty size' is available in this sandbox\n`)
    return 1
  }

  #fileOp(name: string, args: string[], cwd: string): number {
    const fs = this.o.fs
    const flags = args.filter((a) => a.startsWith('-') && a.length > 1).join('')
    const paths = args.filter((a) => !a.startsWith('-') || a.length === 1)
    let status = 0
    for (const p of paths) {
      const abs = fs.resolve(cwd, p)
      if (!abs.startsWith(`${HOME}/`)) {
        this.#print(`${name}: ${p}: Permission denied\n`)
        status = 1
        continue
      }
      if (name === 'rm') {
        const node = fs.stat(abs)
        if (!node) {
          if (!flags.includes('f')) {
            this.#print(`rm: cannot remove '${p}': No such file or directory\n`)
            status = 1
          }
          continue
        }
        if (node.kind === 'dir' && !/[rR]/.test(flags)) {
          this.#print(`rm: cannot remove '${p}': Is a directory\n`)
          status = 1
          continue
        }
        fs.remove(abs, true)
      } else if (name === 'mkdir') {
        if (flags.includes('p')) fs.mkdirp(abs)
        else if (fs.stat(abs)) {
          this.#print(`mkdir: cannot create directory '${p}': File exists\n`)
          status = 1
        } else {
          if (!fs.isDir(dirname(abs))) throw new FsError(p, 'ENOENT')
          fs.mkdirp(abs)
        }
      } else if (name === 'touch') {
        const node = fs.stat(abs)
        if (node?.kind === 'file') fs.writeFile(abs, node.data)
        else if (!node) fs.writeFile(abs, new Uint8Array())
      }
    }
    return status
  }

  async #compile(argv: string[], cwd: string): Promise<number> {
    const lastNl = { lastCr: false }
    return this.o.toolchain.compile({
      argv,
      fs: this.o.fs,
      cwd,
      memoryLimit: this.o.memoryLimit,
      output: (bytes) => {
        this.o.write(onlcr(bytes, lastNl))
        this.#column0 = bytes[bytes.length - 1] === 0x0a
      },
    })
  }

  async #runProgram(path: string, args: string[], cwd: string, stdin?: Uint8Array): Promise<number> {
    const fs = this.o.fs
    const abs = fs.resolve(cwd, path)
    const name = basename(abs)
    let node = fs.stat(abs)
    let wasm: Uint8Array | undefined
    if (node?.kind === 'dir') {
      this.#print(`shellfolio: ${path}: Is a directory\n`)
      return 126
    }
    if (node?.kind === 'file') {
      if (!isWasm(node.data)) {
        this.#print(`shellfolio: ${path}: cannot execute: not a WebAssembly program (build it with make)\n`)
        return 126
      }
      wasm = capped.get(node.data)
      if (!wasm) {
        wasm = capMemory(node.data, this.o.memoryLimit)
        capped.set(node.data, wasm)
      }
    } else if (dirname(abs) === this.projectDir) {
      wasm = await this.o.prebuilt(name)
      if (wasm) {
        this.#print(`\x1b[2m(${name} is not built yet: running the precompiled binary; type make to build it)\x1b[0m\n`)
      }
    }
    if (!wasm) {
      this.#print(`shellfolio: ${path}: No such file or directory\n`)
      return 127
    }
    node = undefined
    const size = this.o.size()
    const state = { lastCr: false }
    let lastByte = 0x0a
    const run = new ProgramRun({
      hosts: this.o.hosts,
      wasm,
      args: [...args],
      fs,
      home: HOME,
      cwd,
      env: {
        TERM: 'xterm-256color',
        COLORTERM: 'truecolor',
        HOME: GUEST_HOME,
        USER,
        ...this.o.env,
        COLUMNS: String(size.cols),
        LINES: String(size.rows),
      },
      timeLimitMs: this.o.programTimeLimitMs,
      output: (chunk) => {
        if (chunk.length === 0) return
        if (!this.#raw && FULL_SCREEN.test(latin1(chunk))) this.#raw = true
        lastByte = chunk[chunk.length - 1]!
        return this.o.writeAsync(onlcr(chunk, state))
      },
      programName: name,
    })
    this.#program = run
    this.#programLine = []
    this.#raw = false
    if (stdin) {
      // `< file`: the file is the whole input; typed keys only reach Ctrl-C
      run.write(stdin)
      run.closeStdin()
    }
    this.#drain()
    const end = await run.done
    this.#program = undefined
    const wasRaw = this.#raw
    this.#raw = false
    this.#programLine = []
    if (wasRaw) this.#print('\x1b[0m\x1b[?25h\x1b[?1049l', false)
    if (lastByte !== 0x0a && !this.#column0) this.#print('\n')
    else if (lastByte !== 0x0a) this.#print('\r\n', false)
    switch (end.kind) {
      case 'exited':
        return end.code
      case 'interrupted':
        this.#print('^C\n')
        return 130
      case 'timeout':
        this.#print(
          `shellfolio: time limit exceeded (${Math.round(this.o.programTimeLimitMs / 1000)} s): ${name} was stopped\n`,
        )
        return 124
      case 'failed':
        this.#print(`shellfolio: ${name}: ${end.message}\n`)
        return 126
    }
  }

  #help(): string {
    const allowed = this.o.project.policy.allow.join(', ')
    return [
      '\x1b[1mShellfolio shell\x1b[0m — a small shell in your browser; programs run as WebAssembly.',
      '',
      '  ls [-l] [-a] [path]   list files            cd [dir]      change directory',
      '  cat file...           print files           pwd           print the current directory',
      '  make [target]         build (the Makefile)  ./program     run a program built by make',
      '  echo text             print text            clear         clear the screen (also Ctrl-L)',
      '  history               past commands         stty size     terminal rows and columns',
      '  exit [N]              end the session       help          this text',
      '',
      "Combine with ';', '&&' and '||'; './program < file' reads input from a file.",
      'Keys: arrows, Home/End, Tab completes, Ctrl-A/E/U/W/K, Ctrl-L clears, Ctrl-C interrupts, Ctrl-D ends input.',
      `Try: cd projects/${this.o.project.slug} && make`,
      `Allowed here: ${allowed}`,
      '',
    ].join('\n')
  }

  /** Tab completion: command names for the first word, file names otherwise. */
  complete(line: string, cursor: number): Completion {
    const before = line.slice(0, cursor)
    const start =
      Math.max(before.lastIndexOf(' '), before.lastIndexOf(';'), before.lastIndexOf('&'), before.lastIndexOf('|')) + 1
    const word = before.slice(start)
    const firstWord = before.slice(0, start).trim() === '' || /(&&|\|\||;)\s*$/.test(before.slice(0, start))
    if (firstWord && !word.includes('/')) {
      const names = [...BUILTINS, ...this.o.project.policy.allow.filter((p) => !p.includes('*'))]
      const unique = [...new Set(names)].filter((n) => n.startsWith(word)).sort()
      return { start, candidates: unique.map((n) => `${n} `) }
    }
    const fs = this.o.fs
    const expanded = word.startsWith('~') ? HOME + word.slice(1) : word
    const slash = expanded.lastIndexOf('/')
    const dirPart = slash < 0 ? '' : expanded.slice(0, slash + 1)
    const prefix = expanded.slice(slash + 1)
    const dir = fs.resolve(this.cwd, dirPart || '.')
    if (!fs.isDir(dir)) return { start, candidates: [] }
    const shownDir = slash < 0 ? '' : word.slice(0, word.lastIndexOf('/') + 1)
    const candidates = fs
      .list(dir)
      .filter((n) => n.startsWith(prefix) && (prefix.startsWith('.') || !n.startsWith('.')))
      .map((n) => `${shownDir}${n}${fs.isDir(`${dir}/${n}`) ? '/' : ' '}`)
    return { start, candidates }
  }
}

/** Bytes for a key in raw mode. */
function keyBytes(key: Key): string | undefined {
  switch (key.type) {
    case 'text':
      return key.text
    case 'enter':
      return '\n'
    case 'backspace':
      return '\x7f'
    case 'tab':
      return '\t'
    case 'up':
      return '\x1b[A'
    case 'down':
      return '\x1b[B'
    case 'right':
      return '\x1b[C'
    case 'left':
      return '\x1b[D'
    case 'ctrl-l':
      return '\x0c'
    default:
      return undefined
  }
}

function latin1(bytes: Uint8Array): string {
  let s = ''
  const n = Math.min(bytes.length, 8192)
  for (let i = 0; i < n; i++) s += String.fromCharCode(bytes[i]!)
  return s
}

/** A tty's onlcr: bare `\n` becomes `\r\n` (state carries a trailing `\r` across chunks). */
export function onlcr(bytes: Uint8Array, state: { lastCr: boolean }): Uint8Array {
  let extra = 0
  let prev = state.lastCr
  for (const b of bytes) {
    if (b === 0x0a && !prev) extra++
    prev = b === 0x0d
  }
  if (extra === 0) {
    if (bytes.length > 0) state.lastCr = bytes[bytes.length - 1] === 0x0d
    return bytes
  }
  const out = new Uint8Array(bytes.length + extra)
  let j = 0
  prev = state.lastCr
  for (const b of bytes) {
    if (b === 0x0a && !prev) out[j++] = 0x0d
    out[j++] = b
    prev = b === 0x0d
  }
  state.lastCr = prev
  return out
}

function formatDate(ms: number): string {
  const d = new Date(ms)
  const month = d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' })
  const hh = String(d.getUTCHours()).padStart(2, '0')
  const mm = String(d.getUTCMinutes()).padStart(2, '0')
  return `${month} ${String(d.getUTCDate()).padStart(2)} ${hh}:${mm}`
}
