import { checkLine } from '../policy.ts'
import type { ProjectSpec, TerminalSize } from '../types.ts'
import { BUILTIN_NAMES, BUILTINS, type BuiltinContext, catInput, cd, fileOp } from './builtins.ts'
import { expandGlobs, ParseError, parseLine, type SimpleCommand } from './command-line.ts'
import { complete } from './completion.ts'
import { HOME, tildePath, USER } from './home.ts'
import { type Key, KeyDecoder } from './keys.ts'
import { LineEditor } from './line-editor.ts'
import { runMake } from './make.ts'
import { basename, dirname, FsError, type MemFs } from './memfs.ts'
import { GUEST_HOME, type HostPool, ProgramRun } from './program.ts'
import type { Toolchain } from './toolchain.ts'
import { onlcr, ProgramTty } from './tty.ts'
import { capMemory, isWasm } from './wasm-limits.ts'

const HOST = 'shellfolio'

const COMPILERS = new Set(['cc', 'gcc', 'clang', 'c++', 'g++', 'clang++'])
/** Real commands people try; refusing them says "not allowed" rather than "not found". */
const KNOWN_COMMANDS = new Set(
  [
    'rm mv cp mkdir rmdir touch chmod chown ln bash sh zsh sudo su curl wget ssh scp nc',
    'python python3 node bun perl vim vi nano less more head tail grep find sed awk ps kill top env export',
    'git apt apt-get dd mount tar gdb valgrind clang g++ c++ ar ld file which whoami uname date yes sleep',
    'true false printf test source exec eval',
  ]
    .join(' ')
    .split(' '),
)

const te = new TextEncoder()
/** Placeholder for `$?` between parsing and running a command. */
const STATUS_MARK = '\u0000status\u0000'

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
 * The restricted shell: a line editor at the prompt, the policy check, and dispatch of each command
 * to a builtin (builtins.ts), `make`, the compiler or a program behind a software terminal (tty.ts).
 * No process exists until a program runs, so an idle session is a few objects.
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
  #program: { run: ProgramRun; tty: ProgramTty } | undefined
  #closed = false

  constructor(readonly o: ShellOptions) {
    this.cwd = HOME
    this.#oldCwd = HOME
    this.editor = new LineEditor({
      write: (text) => this.#print(text, false),
      prompt: () => this.prompt(),
      columns: () => this.o.size().cols,
      complete: (line, cursor) =>
        complete(line, cursor, {
          fs: this.o.fs,
          cwd: this.cwd,
          commands: [...BUILTIN_NAMES, ...this.o.project.policy.allow.filter((p) => !p.includes('*'))],
        }),
    })
  }

  get projectDir(): string {
    return `${HOME}/projects/${this.o.project.slug}`
  }

  prompt(): string {
    return `\x1b[1;32m${USER}@${HOST}\x1b[0m:\x1b[1;34m${tildePath(this.cwd)}\x1b[0m$ `
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
    this.#program?.run.interrupt()
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
    if (this.#program) {
      this.#program.tty.interrupt()
      this.#program.run.interrupt()
    }
  }

  #drain(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      if (this.#program) {
        this.#programKey(this.#program, this.#queue.shift()!)
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

  /** A key while a program runs: through its terminal to its stdin. */
  #programKey(program: { run: ProgramRun; tty: ProgramTty }, key: Key): void {
    program.run.touch()
    const input = program.tty.key(key)
    if (input?.type === 'eof') program.run.closeStdin()
    else if (input) program.run.write(input.bytes)
  }

  /** Writes shell text, translating `\n` to `\r\n`. */
  #print(text: string, translate = true): void {
    if (text.length === 0) return
    this.o.write(te.encode(translate ? text.replace(/\r?\n/g, '\r\n') : text))
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
    const known = KNOWN_COMMANDS.has(command) || BUILTIN_NAMES.includes(command) || COMPILERS.has(command)
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
      status = await this.#runCommand(expandGlobs(words, this.o.fs, ctx.cwd), ctx, cmd.input)
      this.#status = status
    }
    return status
  }

  /** What a builtin running in `cwd` sees. */
  #builtinContext(cwd: string): BuiltinContext {
    return {
      fs: this.o.fs,
      cwd,
      size: this.o.size(),
      project: this.o.project,
      history: this.editor.history,
      print: (text, translate) => this.#print(text, translate),
      write: (bytes) => this.o.write(bytes),
    }
  }

  async #runCommand(argv: string[], ctx: Context, input?: string): Promise<number> {
    const [name, ...args] = argv
    if (name === undefined) return 0
    const builtin = this.#builtinContext(ctx.cwd)
    try {
      let stdin: Uint8Array | undefined
      if (input !== undefined) {
        stdin = this.o.fs.readFile(this.o.fs.resolve(ctx.cwd, input))
        if (name === 'cat' && args.length === 0) return catInput(stdin, builtin)
      }
      const run = BUILTINS.get(name)
      if (run) return run(args, builtin)
      switch (name) {
        case 'cd': {
          const to = cd(args, builtin, this.#oldCwd)
          if ('status' in to) return to.status
          if (!ctx.recipe) {
            this.#oldCwd = ctx.cwd
            this.cwd = to.path
          }
          ctx.cwd = to.path
          return 0
        }
        case 'exit': {
          if (ctx.recipe) break
          const code = args[0] === undefined ? this.#status : Number.parseInt(args[0], 10)
          if (Number.isNaN(code)) {
            this.#print(`exit: ${args[0]}: numeric argument required\n`)
            this.#exit(2)
            return 2
          }
          this.#exit(code & 0xff)
          return code & 0xff
        }
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
          if (ctx.recipe) return fileOp(name, args, builtin)
          break
      }
      if (COMPILERS.has(name)) return await this.#compile(argv, ctx.cwd)
      if (name.includes('/')) return await this.#runProgram(name, args, ctx.cwd, stdin)
      if (ctx.recipe) {
        this.#print(`make: ${name}: not available in this sandbox (recipes may use cc, rm, mkdir, touch, echo)\n`)
        return 127
      }
      this.#print(`command not found: ${name} — type help\n`)
      return 127
    } catch (e) {
      if (e instanceof FsError) {
        this.#print(`${name}: ${e.path}: ${e.message}\n`)
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

  async #compile(argv: string[], cwd: string): Promise<number> {
    const lastNl = { lastCr: false }
    return this.o.toolchain.compile({
      argv,
      fs: this.o.fs,
      cwd,
      memoryLimit: this.o.memoryLimit,
      output: (bytes) => this.o.write(onlcr(bytes, lastNl)),
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
    const tty = new ProgramTty((text) => this.#print(text, false))
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
        return this.o.writeAsync(tty.output(chunk))
      },
      programName: name,
    })
    this.#program = { run, tty }
    if (stdin) {
      // `< file`: the file is the whole input; typed keys only reach Ctrl-C
      run.write(stdin)
      run.closeStdin()
    }
    this.#drain()
    const end = await run.done
    this.#program = undefined
    this.#print(tty.restore(), false)
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
}
