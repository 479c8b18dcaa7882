import { checkLine } from '../policy.ts'
import type { ProjectSpec, TerminalSize } from '../types.ts'
import { BUILTIN_NAMES, BUILTINS, type BuiltinContext, catInput, cd, fileOp } from './builtins.ts'
import { type Command, expandWord, expandWords, ParseError, type Pipeline, parseLine } from './command-line.ts'
import { complete } from './completion.ts'
import { FILTER_NAMES, FILTERS } from './filters.ts'
import { GUEST_HOME, HOME, startDir, tildePath, USER } from './home.ts'
import { type Key, KeyDecoder } from './keys.ts'
import { LineEditor } from './line-editor.ts'
import { runMake } from './make.ts'
import { basename, dirname, FsError, type MemFs } from './memfs.ts'
import { mib, type ProgramControl, type ProgramEnd, type ProgramLauncher } from './platform.ts'
import type { Compiler } from './toolchain.ts'
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
/** Type-ahead held while a command runs, in characters; beyond it keys are dropped with a bell. docs/budgets.md */
export const MAX_TYPEAHEAD = 64 * 1024
/** `make` inside `make` recipes, levels deep at most (docs/budgets.md). */
const MAX_MAKE_DEPTH = 8
/**
 * What a command in a pipeline may write for the next one (the pipe's buffer): the commands of a
 * pipeline run one after the other, so a producer past it is stopped, as `head` would stop it with
 * SIGPIPE (docs/budgets.md).
 */
export const PIPE_BYTES = 1024 * 1024
/** Output redirected to one file by one command, at most (the workspace quota also applies). */
const FILE_CAPTURE_BYTES = 64 * 1024 * 1024

/** Raised by a full pipe or file: the command writing is stopped. */
class OutputFull extends Error {}

/** Where a command's standard output or error goes. */
interface Sink {
  readonly terminal: boolean
  /** Shell text with `\n` line ends (translated for a terminal unless `translate` is false). */
  text(text: string, translate?: boolean): void
  /** Bytes already in terminal form (`\r\n`), as builtins write them; `wait`: flow control. */
  ready(bytes: Uint8Array, wait?: boolean): void | Promise<void>
  /** Program or compiler bytes with `\n` line ends. */
  raw(bytes: Uint8Array): void | Promise<void>
}

/** A pipe or a file being written: bytes gathered up to `limit`, then `OutputFull`. */
class Capture implements Sink {
  readonly terminal = false
  readonly parts: Uint8Array[] = []
  size = 0
  full = false
  constructor(
    readonly limit: number,
    readonly what: string,
  ) {}
  #push(bytes: Uint8Array): void {
    if (this.full) throw new OutputFull(this.what)
    const room = this.limit - this.size
    if (bytes.length > room) {
      this.parts.push(bytes.slice(0, room))
      this.size = this.limit
      this.full = true
      throw new OutputFull(this.what)
    }
    this.parts.push(bytes)
    this.size += bytes.length
  }
  text(text: string): void {
    this.#push(te.encode(text))
  }
  ready(bytes: Uint8Array): void {
    this.#push(crlfToLf(bytes))
  }
  raw(bytes: Uint8Array): void {
    this.#push(bytes.slice())
  }
  data(): Uint8Array {
    const out = new Uint8Array(this.size)
    let at = 0
    for (const p of this.parts) {
      out.set(p, at)
      at += p.length
    }
    return out
  }
}

/** Output thrown away (`>&-`, `2>/dev/null`). */
const DISCARD: Sink = { terminal: false, text() {}, ready() {}, raw() {} }

function crlfToLf(bytes: Uint8Array): Uint8Array {
  if (!bytes.includes(0x0d)) return bytes
  const out: number[] = []
  for (let i = 0; i < bytes.length; i++) if (!(bytes[i] === 0x0d && bytes[i + 1] === 0x0a)) out.push(bytes[i]!)
  return new Uint8Array(out)
}

/** A command's standard streams: stdin undefined is the terminal. */
interface Io {
  stdin: Uint8Array | undefined
  stdout: Sink
  stderr: Sink
}

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
  toolchain: Compiler
  /** What runs programs (platform.ts): program-host processes on the server, Web Workers in a browser. */
  hosts: ProgramLauncher
  /** The precompiled binary `prebuilt/<name>.wasm` of the project, if there is one. */
  prebuilt: (name: string) => Promise<Uint8Array | undefined>
  /** CPU time of one program run (ms). */
  programTimeLimitMs: number
  /** Linear-memory cap of programs (bytes). */
  memoryLimit: number
  /** Resident memory of a program's host process (bytes); unlimited when absent. */
  programMemoryBytes?: number
  /** A program host died without being told to (not Ctrl-C, not a limit): the admin hears of it (docs/faults.md). */
  onProgramCrash?: (message: string) => void
}

interface Context {
  cwd: string
  /** Inside a make recipe: make-internal commands (rm -f...) are available. */
  recipe: boolean
  io: Io
}

const capped = new WeakMap<Uint8Array, Uint8Array>()

/**
 * The restricted shell: a line editor at the prompt, the policy check, and dispatch of each command
 * to a builtin (builtins.ts), `make`, the compiler or a program behind a software terminal (tty.ts).
 * No process exists until a program runs, so an idle session is a few objects.
 */
/** Stopped jobs a session may hold (docs/runners.md, "Job control"; docs/budgets.md). */
export const MAX_STOPPED_JOBS = 4

/** A program run in the foreground or stopped by Ctrl-Z. */
interface Job {
  run: ProgramControl
  tty: ProgramTty
  /** The program's name, for messages. */
  name: string
  /** The command as `jobs` and `fg` show it. */
  line: string
  /** Ctrl-Z may stop it: a program alone on the terminal (not in a pipe, a redirection or make). */
  suspendable: boolean
  /** Job number once it has been stopped (kept across `fg`). */
  number?: number
  /** Told that Ctrl-Z stopped it (its foreground wait ends). */
  onStop?: () => void
}

export class Shell {
  readonly editor: LineEditor
  cwd: string
  #oldCwd: string
  #status = 0
  readonly #decoder = new KeyDecoder()
  readonly #queue: Key[] = []
  /** Characters in #queue (text keys count their length). */
  #queued = 0
  #busy = false
  #interrupted = false
  #program: Job | undefined
  /** Jobs stopped by Ctrl-Z, oldest first (the last is `+`, the current job). */
  readonly #jobs: Job[] = []
  /** Lines submitted so far; `exit` right after the stopped-jobs warning exits. */
  #lines = 0
  #exitWarnedAt = -1
  /** `make` levels running (a recipe may run `$(MAKE)`). */
  #makeDepth = 0
  /** Aborted by Ctrl-C or the shell's end: cancels the running compile. */
  #abort: AbortController | undefined
  #closed = false

  constructor(readonly o: ShellOptions) {
    // the project's folder (docs/runners.md, "Starting folder and help"); `cd` alone goes home
    this.cwd = startDir(o.project.slug, (path) => o.fs.isDir(path))
    this.#oldCwd = HOME
    this.editor = new LineEditor({
      write: (text) => this.#print(text, false),
      prompt: () => this.prompt(),
      columns: () => this.o.size().cols,
      complete: (line, cursor) =>
        complete(line, cursor, {
          fs: this.o.fs,
          cwd: this.cwd,
          commands: [
            ...new Set([
              ...BUILTIN_NAMES,
              ...FILTER_NAMES.filter((f) => this.o.project.policy.allow.includes(f)),
              ...this.o.project.policy.allow.filter((p) => !p.includes('*')),
            ]),
          ],
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
    this.#abort?.abort()
    this.#program?.run.interrupt()
    this.#killJobs()
  }

  /** Stopped jobs die with the shell (session end, admin kill, `exit`). */
  #killJobs(): void {
    for (const job of this.#jobs.splice(0)) job.run.interrupt()
  }

  /** Ctrl-Z while a command runs (not a full-screen program: those read 0x1a themselves). */
  #ctrlZ(): void {
    const job = this.#program
    if (!job?.suspendable) {
      this.#print(
        '^Z\n\x1b[2mshellfolio: Ctrl-Z: only a program run alone (./prog) can be stopped here; Ctrl-C stops the command\x1b[0m\n',
      )
      return
    }
    if (this.#jobs.length >= MAX_STOPPED_JOBS) {
      this.#print(
        `^Z\n\x1b[2mshellfolio: Ctrl-Z: ${MAX_STOPPED_JOBS} stopped jobs already (type jobs, fg); ${job.name} keeps running\x1b[0m\n`,
      )
      return
    }
    if (!job.run.suspend()) return
    // a TTY flushes its input queues on SIGTSTP, as on SIGINT
    this.#queue.length = 0
    this.#queued = 0
    job.tty.interrupt()
    job.run.flushTyped()
    job.onStop?.()
  }

  /** The running job's end, or 'stopped' when Ctrl-Z stops it. */
  #foreground(job: Job): Promise<ProgramEnd | 'stopped'> {
    return new Promise((resolve) => {
      job.onStop = () => resolve('stopped')
      void job.run.done.then(resolve)
    })
  }

  /** Line of `jobs`: `[1]+  Stopped                 ./spin`, as bash prints it. */
  #jobLine(job: Job): string {
    const i = this.#jobs.indexOf(job)
    const mark = i === this.#jobs.length - 1 ? '+' : i === this.#jobs.length - 2 ? '-' : ' '
    return `[${job.number}]${mark}  ${'Stopped'.padEnd(24)}${job.line}\n`
  }

  /** `fg [%N]`: resumes a stopped job in the foreground; `jobs`: lists them. */
  async #jobControl(name: 'fg' | 'jobs', args: string[], ctx: Context): Promise<number> {
    if (ctx.recipe || !ctx.io.stdout.terminal) {
      ctx.io.stderr.text(`${name}: no job control\n`)
      return 1
    }
    if (name === 'jobs') {
      for (const job of this.#jobs) ctx.io.stdout.text(this.#jobLine(job))
      return 0
    }
    let job: Job | undefined
    if (args.length === 0) job = this.#jobs.at(-1)
    else {
      const spec = args[0]!.replace(/^%/, '')
      job = /^\d{1,3}$/.test(spec) ? this.#jobs.find((j) => j.number === Number(spec)) : undefined
      if (!job) {
        this.#print(`fg: ${args[0]}: no such job\n`)
        return 1
      }
    }
    if (!job) {
      this.#print('fg: current: no such job\n')
      return 1
    }
    this.#jobs.splice(this.#jobs.indexOf(job), 1)
    this.#print(`${job.line}\n`)
    this.#program = job
    void job.run.resume()
    return this.#wait(job)
  }

  /** Terminal input. */
  input(data: Uint8Array | string): void {
    if (this.#closed) return
    for (const key of this.#decoder.decode(data)) {
      if (key.type === 'ctrl-c' && this.#busy) {
        this.#interrupt()
        continue
      }
      if (key.type === 'ctrl-z' && this.#busy && !this.#program?.tty.raw) {
        this.#ctrlZ()
        continue
      }
      this.#enqueue(key)
      // why: a command submitted by this key starts now, so a Ctrl-C later in the same chunk stops it
      if (key.type === 'enter' && !this.#busy) this.#drain()
    }
    this.#drain()
  }

  #enqueue(key: Key): void {
    const size = key.type === 'text' ? key.text.length : 1
    if (this.#queued + size > MAX_TYPEAHEAD) {
      const room = MAX_TYPEAHEAD - this.#queued
      if (key.type === 'text' && room > 0) {
        this.#queue.push({ type: 'text', text: key.text.slice(0, room) })
        this.#queued += room
      }
      this.o.write(te.encode('\x07'))
      return
    }
    this.#queue.push(key)
    this.#queued += size
  }

  #dequeue(): Key {
    const key = this.#queue.shift()!
    this.#queued -= key.type === 'text' ? key.text.length : 1
    return key
  }

  #interrupt(): void {
    this.#interrupted = true
    this.#queue.length = 0
    this.#queued = 0
    this.#abort?.abort()
    if (this.#program) {
      this.#program.tty.interrupt()
      this.#program.run.flushTyped()
      this.#program.run.interrupt()
    }
  }

  #drain(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      if (this.#program) {
        this.#programKey(this.#program, this.#dequeue())
        continue
      }
      if (this.#busy) return
      const result = this.editor.handle(this.#dequeue())
      if (!result) continue
      if (result.type === 'eof') {
        this.#print('exit\n')
        if (this.#warnJobs()) {
          this.editor.start()
          continue
        }
        this.#exit(0)
        return
      }
      if (result.type === 'interrupt') {
        this.#status = 130
        this.editor.start()
        continue
      }
      this.#busy = true
      this.#lines++
      this.#interrupted = false
      this.#abort = new AbortController()
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
    this.#killJobs()
    this.o.exit(code)
  }

  /** `exit` with stopped jobs: warns once, as bash does; an `exit` right after exits. */
  #warnJobs(): boolean {
    if (this.#jobs.length === 0 || this.#exitWarnedAt === this.#lines - 1) return false
    this.#exitWarnedAt = this.#lines
    this.#print('There are stopped jobs.\n')
    return true
  }

  /** A key while a program runs: through its terminal to its stdin, when the program waits for it. */
  #programKey(program: { run: ProgramControl; tty: ProgramTty }, key: Key): void {
    const input = program.tty.key(key)
    if (!input) return
    // a full-screen program reads its keys as they come (life's `q`): no holding back
    if (program.tty.raw) {
      if (input.type === 'eof') program.run.closeStdin()
      else program.run.write(input.bytes)
      return
    }
    if (!program.run.type(input.type === 'eof' ? 'eof' : input.bytes, MAX_TYPEAHEAD)) this.o.write(te.encode('\x07'))
  }

  /** Typed input a program left unread: the shell reads it next, as from a TTY's input queue. */
  #giveBack(bytes: Uint8Array, pending: string): void {
    if (bytes.length === 0 && pending === '') return
    const keys = new KeyDecoder().decode(new TextDecoder().decode(bytes) + pending)
    let size = 0
    const kept: Key[] = []
    for (const key of keys) {
      const n = key.type === 'text' ? key.text.length : 1
      if (this.#queued + size + n > MAX_TYPEAHEAD) break
      kept.push(key)
      size += n
    }
    this.#queue.unshift(...kept)
    this.#queued += size
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
    let pipelines: Pipeline[]
    try {
      pipelines = parseLine(line)
    } catch (e) {
      if (!(e instanceof ParseError)) throw e
      this.#print(`shellfolio: ${e.message}\n`)
      this.#status = 2
      return
    }
    await this.#runList(pipelines, { cwd: this.cwd, recipe: false, io: this.#terminalIo() })
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
        if (name === '?') return String(this.#status)
        if (name === '$') return '1'
        if (name === 'HOME') return HOME
        if (name === 'USER') return USER
        if (name === 'PWD') return this.cwd
        if (name === 'COLUMNS') return String(this.o.size().cols)
        if (name === 'LINES') return String(this.o.size().rows)
        return this.o.env[name]
      },
    }
  }

  /** The terminal as a command's streams. */
  #terminalIo(): Io {
    const state = { lastCr: false }
    const terminal: Sink = {
      terminal: true,
      text: (text, translate) => this.#print(text, translate),
      ready: (bytes, wait) => (wait ? this.o.writeAsync(bytes) : this.o.write(bytes)),
      raw: (bytes) => this.o.writeAsync(onlcr(bytes, state)),
    }
    return { stdin: undefined, stdout: terminal, stderr: terminal }
  }

  async #runList(pipelines: Pipeline[], ctx: Context): Promise<number> {
    let status = 0
    for (const pipeline of pipelines) {
      if (this.#closed) break
      if (this.#interrupted && !ctx.recipe) break
      if (pipeline.op === '&&' && status !== 0) continue
      if (pipeline.op === '||' && status === 0) continue
      status = await this.#runPipeline(pipeline, ctx)
      this.#status = status
      // why: the next command waits until the terminal took this one's output (a paused terminal
      // under `make` must not pile up every compiler message in memory)
      await this.o.writeAsync(new Uint8Array(0))
    }
    return status
  }

  /**
   * `a | b | c`: each command runs once the one before has ended, its output gathered (at most
   * `PIPE_BYTES`) and handed to the next as its whole standard input. The status is the last one's.
   */
  async #runPipeline(pipeline: Pipeline, ctx: Context): Promise<number> {
    let input = ctx.io.stdin
    let status = 0
    const n = pipeline.commands.length
    for (let i = 0; i < n; i++) {
      if (this.#closed || (this.#interrupted && !ctx.recipe)) break
      const last = i === n - 1
      const pipe = last ? undefined : new Capture(PIPE_BYTES, 'pipe')
      const io: Io = { stdin: input, stdout: pipe ?? ctx.io.stdout, stderr: ctx.io.stderr }
      status = await this.#runSimple(pipeline.commands[i]!, ctx, io)
      if (pipe?.full) {
        this.#print(
          `\x1b[2mshellfolio: the pipe's buffer (${PIPE_BYTES / 1024} KiB) is full: the command writing to it was stopped\x1b[0m\n`,
        )
      }
      input = pipe?.data() ?? input
    }
    return status
  }

  /** One command: its words expanded now (`$?` is the previous command's), its redirections applied. */
  async #runSimple(cmd: Command, ctx: Context, streams: Io): Promise<number> {
    const expand = this.#expandContext()
    let argv: string[]
    const io: Io = { ...streams }
    const files: { path: string; capture: Capture; append: boolean }[] = []
    try {
      argv = expandWords(cmd.words, expand, this.o.fs, ctx.cwd)
      for (const r of cmd.redirects) {
        const target = expandWord(r.target, expand)?.text ?? ''
        if (r.fd > 2) {
          streams.stderr.text(`shellfolio: file descriptor ${r.fd} is not supported here\n`)
          return 1
        }
        if (r.op === '<<<') io.stdin = te.encode(`${target}\n`)
        else if (r.op === '<') {
          if (r.fd !== 0) {
            streams.stderr.text(`shellfolio: ${r.fd}<: only standard input can be read from a file\n`)
            return 1
          }
          io.stdin = this.o.fs.readFile(this.o.fs.resolve(ctx.cwd, target))
        } else if (r.op === '>&' && /^[12]$/.test(target) && r.fd !== 0) {
          const from = target === '1' ? io.stdout : io.stderr
          if (r.fd === 1) io.stdout = from
          else io.stderr = from
        } else if (r.op === '>&' && target === '-') {
          if (r.fd === 1) io.stdout = DISCARD
          else io.stderr = DISCARD
        } else if (r.op === '>' || r.op === '>>' || r.op === '>|' || r.op === '>&') {
          let sink: Sink
          if (target === '/dev/null') sink = DISCARD
          else {
            const path = this.o.fs.resolve(ctx.cwd, target)
            if (this.o.fs.isDir(path)) {
              streams.stderr.text(`shellfolio: ${target}: Is a directory\n`)
              return 1
            }
            const append = r.op === '>>'
            // the file is created (or emptied) before the command runs, as bash opens it
            if (!append || !this.o.fs.stat(path)) this.o.fs.writeFile(path, new Uint8Array(0))
            const room = Math.min(FILE_CAPTURE_BYTES, Math.max(0, this.o.fs.quota - this.o.fs.used))
            const capture = new Capture(room, target)
            files.push({ path, capture, append: true })
            sink = capture
          }
          if (r.op === '>&' || r.fd === 1) io.stdout = sink
          if (r.op === '>&' || r.fd === 2) io.stderr = sink
        } else {
          streams.stderr.text(`shellfolio: the redirection ${r.op} is not supported here\n`)
          return 1
        }
      }
    } catch (e) {
      if (e instanceof ParseError) {
        streams.stderr.text(`shellfolio: ${e.message}\n`)
        return 1
      }
      if (e instanceof FsError) {
        streams.stderr.text(`shellfolio: ${e.path}: ${e.message}\n`)
        return 1
      }
      throw e
    }
    let status = argv.length === 0 ? 0 : await this.#runCommand(argv, ctx, io)
    for (const f of files) {
      try {
        const old = this.o.fs.stat(f.path)
        const before = old?.kind === 'file' ? old.data : new Uint8Array(0)
        const data = f.capture.data()
        const all = new Uint8Array(before.length + data.length)
        all.set(before)
        all.set(data, before.length)
        this.o.fs.writeFile(f.path, all)
        if (f.capture.full) throw new FsError(f.path, 'ENOSPC')
      } catch (e) {
        if (!(e instanceof FsError)) throw e
        streams.stderr.text(`shellfolio: ${e.path}: ${e.message}\n`)
        status = 1
      }
    }
    return status
  }

  /** What a builtin running in `cwd` sees: its output goes to `out` (the terminal, a pipe, a file). */
  #builtinContext(cwd: string, out: Sink): BuiltinContext {
    return {
      fs: this.o.fs,
      cwd,
      size: this.o.size(),
      project: this.o.project,
      history: this.editor.history,
      print: (text, translate) => out.text(text, translate),
      write: (bytes) => void out.ready(bytes),
      writeAsync: async (bytes) => {
        await out.ready(bytes, true)
      },
    }
  }

  async #runCommand(argv: string[], ctx: Context, io: Io): Promise<number> {
    const [name, ...args] = argv
    if (name === undefined) return 0
    const stdin = io.stdin
    const builtin = this.#builtinContext(ctx.cwd, io.stdout)
    try {
      if (stdin && name === 'cat' && args.length === 0) return await catInput(stdin, builtin)
      const filter = FILTERS.get(name)
      if (filter) return await filter(args, builtin, stdin)
      const run = BUILTINS.get(name)
      if (run) return await run(args, builtin)
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
          if (this.#warnJobs()) return 1
          const code = args[0] === undefined ? this.#status : Number.parseInt(args[0], 10)
          if (Number.isNaN(code)) {
            this.#print(`exit: ${args[0]}: numeric argument required\n`)
            this.#exit(2)
            return 2
          }
          this.#exit(code & 0xff)
          return code & 0xff
        }
        case 'fg':
        case 'jobs':
          return await this.#jobControl(name, args, ctx)
        case 'make':
          if (this.#makeDepth >= MAX_MAKE_DEPTH) {
            this.#print(`make: *** recursion too deep (${MAX_MAKE_DEPTH} levels).  Stop.\n`)
            return 2
          }
          this.#makeDepth++
          try {
            return await runMake(args, {
              fs: this.o.fs,
              cwd: ctx.cwd,
              write: (text) => io.stdout.text(text),
              exec: (line, cwd) => this.#recipe(line, cwd, io),
              interrupted: () => this.#interrupted,
            })
          } finally {
            this.#makeDepth--
          }
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
      if (COMPILERS.has(name)) return await this.#compile(argv, ctx.cwd, io.stderr)
      if (name.includes('/')) return await this.#runProgram(argv, ctx, io)
      if (ctx.recipe) {
        io.stderr.text(`make: ${name}: not available in this sandbox (recipes may use cc, rm, mkdir, touch, echo)\n`)
        return 127
      }
      io.stderr.text(`command not found: ${name} — type help\n`)
      return 127
    } catch (e) {
      if (e instanceof FsError) {
        io.stderr.text(`${name}: ${e.path}: ${e.message}\n`)
        return 1
      }
      // the pipe or file this command wrote to is full: it stops, like a writer after SIGPIPE
      if (e instanceof OutputFull) return 141
      throw e
    }
  }

  async #recipe(line: string, cwd: string, io: Io): Promise<number> {
    let pipelines: Pipeline[]
    try {
      pipelines = parseLine(line)
    } catch (e) {
      io.stderr.text(`make: ${(e as Error).message}\n`)
      return 2
    }
    return this.#runList(pipelines, { cwd, recipe: true, io })
  }

  async #compile(argv: string[], cwd: string, out: Sink): Promise<number> {
    return this.o.toolchain.compile({
      argv,
      fs: this.o.fs,
      cwd,
      memoryLimit: this.o.memoryLimit,
      output: (bytes) => {
        try {
          void out.raw(bytes)
        } catch (e) {
          if (!(e instanceof OutputFull)) throw e
        }
      },
      signal: this.#abort?.signal,
    })
  }

  async #runProgram(argv: string[], ctx: Context, io: Io): Promise<number> {
    const [path = '', ...args] = argv
    const cwd = ctx.cwd
    const stdin = io.stdin
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
    let run!: ProgramControl
    const tty = new ProgramTty(
      (text) => this.#print(text, false),
      (answer) => run.write(answer),
      () => this.o.size(),
    )
    run = this.o.hosts.run({
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
      ...(this.o.programMemoryBytes !== undefined ? { memoryBytes: this.o.programMemoryBytes } : {}),
      output: (chunk, fd) => {
        if (chunk.length === 0) return
        const sink = fd === 2 ? io.stderr : io.stdout
        // the terminal: through the program's TTY (size queries, full screen, onlcr)
        if (sink.terminal) return this.o.writeAsync(tty.output(chunk))
        try {
          return sink.raw(chunk)
        } catch (e) {
          if (!(e instanceof OutputFull)) throw e
          run.cut()
        }
      },
      programName: name,
    })
    const job: Job = {
      run,
      tty,
      name,
      line: argv.join(' '),
      suspendable: !ctx.recipe && !stdin && io.stdout.terminal === true && io.stderr.terminal === true,
    }
    this.#program = job
    if (stdin) {
      // `< file`, a pipe: the bytes are the whole input; typed keys wait for the shell
      run.write(stdin)
      run.closeStdin()
    }
    this.#drain()
    return this.#wait(job)
  }

  /** Waits for the foreground job: its status, or 148 (128 + SIGTSTP) when Ctrl-Z stopped it. */
  async #wait(job: Job): Promise<number> {
    const { run, tty, name } = job
    const fs = this.o.fs
    const end = await this.#foreground(job)
    job.onStop = undefined
    this.#program = undefined
    if (end === 'stopped') {
      job.number ??= Math.max(0, ...this.#jobs.map((j) => j.number ?? 0)) + 1
      this.#jobs.push(job)
      // `^Z` where the cursor is, as a TTY echoes it; a stopped program is never full-screen
      this.#print(`^Z\n${this.#jobLine(job)}`)
      return 148
    }
    this.#print(tty.restore(), false)
    if (!this.#interrupted) this.#giveBack(run.unread(), tty.pending())
    switch (end.kind) {
      case 'exited':
        if (end.unsaved) {
          this.#print(
            `shellfolio: ${name}: No space left on device: the workspace is full (${mib(fs.quota)} MiB); ${end.unsaved} file(s) it wrote were not kept\n`,
          )
        }
        return end.code
      case 'memory':
        this.#print(
          `shellfolio: memory limit (${mib(this.o.programMemoryBytes ?? 0)} MiB) exceeded: ${name} was stopped\n`,
        )
        return 137
      case 'interrupted':
        this.#print('^C\n')
        return 130
      case 'cut':
        return 141
      case 'timeout':
        this.#print(
          `shellfolio: time limit exceeded (${Math.round(this.o.programTimeLimitMs / 1000)} s): ${name} was stopped\n`,
        )
        return 124
      case 'failed':
        if (end.crashed) this.o.onProgramCrash?.(`${name}: ${end.message}`)
        this.#print(`shellfolio: ${name}: ${end.message}\n`)
        return 126
    }
  }
}
