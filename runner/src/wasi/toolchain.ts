import { readFileSync } from 'node:fs'
import type { Subprocess } from 'bun'
import { CWD_SHIM, clangArgs, DEFAULT_MEMORY_LIMIT, HIDDEN_DIR, SHIM_ARGS } from './clang-args.ts'
import type { ClangJob, ClangReply } from './clang-host.ts'
import { runClangHere } from './clang-run.ts'
import { CompileCache, cacheKey, compilerVersion, digest } from './compile-cache.ts'
import { enterWorkGroup } from './idle-group.ts'
import type { MemFs, Tree } from './memfs.ts'
import { cpuMs, isIdle, mib, niced, rssBytes, SAMPLE_MS, setIdle } from './proc-stats.ts'
import { Semaphore } from './semaphore.ts'

export { DEFAULT_MEMORY_LIMIT }

const CLANG_HOST = new URL('./clang-host.ts', import.meta.url).pathname
/** Compiled at start by each clang process kept loaded (`warm`): a C file like the projects' own. */
const WARM_SOURCE = readFileSync(new URL('./warm-up.c', import.meta.url).pathname, 'utf8')
/** Compiles of WARM_SOURCE per process at start: enough for the engine to compile LLVM's hot code. */
const WARM_ROUNDS = 3

/** Budgets of one compile (docs/budgets.md): CPU time of its clang process, and a wall-clock backstop. */
export const COMPILE_TIME_LIMIT_MS = 60_000
export const COMPILE_WALL_LIMIT_MS = 600_000
export const COMPILE_MEMORY_BYTES = 2 * 1024 * 1024 * 1024
export const COMPILE_OUTPUT_BYTES = 1024 * 1024
/** Fair scheduling of compiles across sessions (docs/budgets.md, "Fair compiles"). */
export const COMPILE_SLICE_MS = 1_000
/**
 * Clang CPU time (decayed) under which an owner is light. A visitor's make of minirt from edited
 * sources uses ≈ 5 s of it (clang's process CPU, the engine's compiler threads included), so the
 * share is three such makes: a visitor building stays light (docs/budgets.md).
 */
export const COMPILE_SHARE_MS = 15_000
export const COMPILE_USAGE_HALF_LIFE_MS = 30_000
/** How often the scheduler looks at running compiles (slices, priorities, usage). */
const TICK_MS = 100

const te = new TextEncoder()

export interface CompileRequest {
  /** argv as typed: `cc -O2 -c -o x.o x.c` (argv[0] is cc, gcc, clang...). */
  argv: string[]
  fs: MemFs
  /** Absolute workspace directory the command runs in; its subtree is the compiler's view. */
  cwd: string
  /** Compiler diagnostics (raw bytes; bare `\n`). */
  output: (bytes: Uint8Array) => void
  memoryLimit?: number
  /** Ctrl-C: a waiting compile leaves the queue, a running one is killed. */
  signal?: AbortSignal
  /** Who asked (a session id), for fair shares (docs/budgets.md). */
  owner?: string
}

/** What the shell needs of a compiler: the Toolchain in process, or the runner's through IPC. */
export interface Compiler {
  /** Runs one compiler command; returns its exit status. Produced files land in `req.fs`. */
  compile(req: CompileRequest): Promise<number>
}

/** One compile without a file system: the files travel as a Tree. */
export interface CompileJob {
  argv: string[]
  memoryLimit?: number
  /** The compiler's view of the workspace, asked for once a slot is free (queued jobs hold no files). */
  tree: () => Promise<Tree> | Tree
  output: (bytes: Uint8Array) => void
  signal?: AbortSignal
  /** Who asked (a session id): compile time is shared fairly between owners (docs/budgets.md). */
  owner?: string
}

/** The exit status and, when clang ran, the tree to write back. */
export interface CompileResult {
  code: number
  tree?: Tree
}

export interface ToolchainOptions {
  /**
   * CPU time clang may spend on one compile (default 60 s): a compile that waits for CPU (starved
   * by other work, or under SCHED_IDLE) is slowed down, never stopped for waiting.
   */
  timeLimitMs?: number
  /** Wall-clock backstop of one compile from the moment clang has its job (default 10 min). */
  wallLimitMs?: number
  /** Resident memory of a clang process; above it the compile is killed (default 2 GiB). */
  memoryBytes?: number
  /** Diagnostics kept per compile; the rest is cut with a note (default 1 MiB). */
  outputBytes?: number
  /** Compiles at once in the low-priority (SCHED_IDLE) overtime lane, for owners past their share (default = concurrency). */
  overtime?: number
  /** Extra overtime room for compiles that outran their slice in the regular lane (default = concurrency). */
  spill?: number
  /** CPU time a compile may spend in a regular slot while a fresh owner's compile waits for one (default 1 s). */
  sliceMs?: number
  /** Recent compile CPU time (decayed) past which an owner's compiles go to the overtime lane (default 5 s). */
  shareMs?: number
  /** Half-life of an owner's recent compile time (default 30 s). */
  halfLifeMs?: number
  /** Owners whose work runs at SCHED_IDLE (sessions the CPU governor demoted); their compiles too. */
  lowPriority?: (owner: string) => boolean
  /** What compiles produced, shared by every owner (default: a 64 MiB cache; false: none). */
  cache?: CompileCache | false
  /**
   * A compile another session is running with the same key is waited for instead of run again
   * (default true; false only to measure what it saves: api/bench/wasi-make.bench.ts).
   */
  shareCompiles?: boolean
}

/** Clang options whose value is the next argument. */
const VALUE_FLAGS = new Set(['-o', '-I', '-D', '-U', '-L', '-isystem', '-iquote', '-idirafter', '-Xlinker', '-Xclang'])

/**
 * A compile the cache can answer: one source to one object, objects linked to one executable, or
 * one source built and linked to one executable in a single command (`cc -O2 -o flood flood.c`).
 */
type CachePlan =
  | { kind: 'compile' | 'build'; input: string; out: string }
  | { kind: 'link'; inputs: string[]; out: string }

/**
 * The flags a one-command build may have to be cached: whatever reads a file is in the preprocessed
 * text (headers) or the compiler's own sysroot (`-lm` with no `-L`); anything that could make the
 * linker or a plugin read a file of the workspace (`-L`, `-Wl,@file`, `-fprofile-use=…`) is not,
 * so such a build is not cached. The two `-Wl,` flags are the ones clangArgs adds.
 */
const BUILD_FLAG =
  /^-(?:O[0-3sz]?|g[0-3]?|w|pedantic(?:-errors)?|ansi|std=[\w+]+|W(?!l,|p,|a,)[\w=+-]*|f(?!profile|plugin|sanitize|debug-prefix|macro-prefix|file-prefix)[\w-]+(?:=[\w.+-]+)?|m[\w-]+(?:=[\w.+-]+)?|l[\w-]+|[DUI].+|Wl,--max-memory=\d+|Wl,-z,stack-size=\d+)$/
/** The value flags a one-command build may have (their values are names, not files read at link). */
const BUILD_VALUE_FLAGS = new Set(['-o', '-I', '-D', '-U', '-isystem', '-iquote', '-idirafter'])

/** Whether (and how) a compiler command can be cached; anything unusual is not. */
function cachePlan(args: string[], linking: boolean): CachePlan | undefined {
  let out: string | undefined
  const inputs: string[] = []
  let compile = false
  // whether every flag is one a one-command build may have (BUILD_FLAG)
  let buildable = true
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!
    if (a === '-c') compile = true
    else if (a === '-o') out = args[++i]
    else if (VALUE_FLAGS.has(a)) {
      if (!BUILD_VALUE_FLAGS.has(a)) buildable = false
      i++
    } else if (a.startsWith('-M') || a.startsWith('@') || a === '-x' || a === '-include' || a === '-E' || a === '-S')
      return undefined
    else if (!a.startsWith('-')) inputs.push(a)
    else if (a !== '-fcolor-diagnostics' && !BUILD_FLAG.test(a)) buildable = false
  }
  const safe = (p: string) => /^[\w.+-]+(\/[\w.+-]+)*$/.test(p) && !p.split('/').includes('..')
  const source = (p: string | undefined) => p !== undefined && /\.(c|cc|cpp|cxx)$/.test(p) && safe(p)
  if (compile && inputs.length === 1 && /\.(c|cc|cpp|cxx)$/.test(inputs[0]!)) {
    out ??= inputs[0]!.replace(/^.*\//, '').replace(/\.[^.]+$/, '.o')
    return safe(out) && safe(inputs[0]!) ? { kind: 'compile', input: inputs[0]!, out } : undefined
  }
  if (linking && inputs.length > 0 && inputs.every((f) => /\.[oa]$/.test(f) && safe(f))) {
    out ??= 'a.out'
    return safe(out) ? { kind: 'link', inputs, out } : undefined
  }
  // one source and the cwd shim clangArgs adds to every link
  const own = inputs.filter((f) => f !== `${HIDDEN_DIR}/cwd.o`)
  if (linking && buildable && own.length === 1 && inputs.length === 2 && source(own[0])) {
    out ??= 'a.out'
    return safe(out) ? { kind: 'build', input: own[0] as string, out } : undefined
  }
  return undefined
}

function fileAt(tree: Tree, path: string): Uint8Array | undefined {
  let at: Tree | string | Uint8Array | undefined = tree
  for (const part of path.split('/')) {
    if (at === undefined || typeof at === 'string' || at instanceof Uint8Array) return undefined
    at = at[part]
  }
  return typeof at === 'string' ? te.encode(at) : at instanceof Uint8Array ? at : undefined
}

/**
 * The names of the files a preprocessor could read: every file of the tree but objects, archives,
 * executables (WebAssembly) and this toolchain's own. A new file that could shadow a header changes it.
 */
function sourceListing(tree: Tree): string {
  const names: string[] = []
  const walk = (t: Tree, at: string) => {
    for (const [name, v] of Object.entries(t)) {
      const path = at ? `${at}/${name}` : name
      if (path === HIDDEN_DIR) continue
      if (typeof v === 'string' || v instanceof Uint8Array) {
        const wasm = v instanceof Uint8Array && v[0] === 0 && v[1] === 0x61 && v[2] === 0x73 && v[3] === 0x6d
        if (!/\.(o|a|d|i)$/.test(name) && !wasm) names.push(path)
      } else walk(v, path)
    }
  }
  walk(tree, '')
  return names.sort().join('\n')
}

/** Files of the tree the preprocessed text names in its line markers (`# 1 "src/vec.h"`). */
function markerFiles(text: Uint8Array, tree: Tree): string[] {
  const found = new Set<string>()
  for (const m of new TextDecoder().decode(text).matchAll(/^# \d+ "((?:[^"\\]|\\.)*)"/gm)) {
    const path = m[1]!.replace(/^(\.\/|\/)+/, '')
    if (path && fileAt(tree, path)) found.add(path)
  }
  return [...found].sort()
}

function treeOf(files: [string, Uint8Array][]): Tree {
  const root: Tree = {}
  for (const [path, bytes] of files) {
    const parts = path.split('/')
    let at = root
    for (const part of parts.slice(0, -1)) {
      at[part] ??= {}
      at = at[part] as Tree
    }
    at[parts.at(-1)!] = bytes
  }
  return root
}

type Lane = 'regular' | 'overtime'

/** A compile admitted to, or waiting for, a lane. */
interface Slot {
  owner: string
  seq: number
  lane?: Lane
  /** Moved to the overtime lane after its slice in the regular one. */
  spilled: boolean
  /** When it got its current lane. */
  since: number
  /** CPU time of its clang process when last added to its owner's usage (while clang has its job). */
  cpu?: number
  /** CPU time clang spent on this compile in its current lane (the slice is measured in it). */
  used: number
  /** When it was asked for, and the CPU time charged to its owner since (every lane). */
  askedAt: number
  charged: number
  proc?: ClangProcess
  grant?: () => void
}

/** What the scheduler is doing, for tests and diagnostics. */
export interface LaneView {
  owner: string
  lane: Lane | 'waiting'
  /** Its clang process runs under SCHED_IDLE. */
  idle: boolean
  pid?: number
}

/** One clang process (clang-host.ts); killed to stop a compile. */
class ClangProcess {
  readonly proc: Subprocess
  readonly ready: Promise<void>
  onReply: ((reply: ClangReply) => void) | undefined
  onDeath: (() => void) | undefined
  dead = false
  /** Runs under SCHED_IDLE (as far as this process could tell the kernel). */
  idle = false
  /** Could not be moved back to a normal policy: not reused. */
  stuck = false
  /** Compiles it finished: the engine compiles LLVM's hot code during the first few (warm-up.c). */
  finished = 0

  /** @param idle start under SCHED_IDLE (a spare loading LLVM competes with nobody's compile) */
  constructor(idle = false) {
    let markReady!: () => void
    let fail!: (e: Error) => void
    this.ready = new Promise((resolve, reject) => {
      markReady = resolve
      fail = reject
    })
    this.proc = Bun.spawn(niced([process.execPath, CLANG_HOST]), {
      ipc: (reply: ClangReply) => {
        if (reply.kind === 'ready') {
          // a spare asked to load under SCHED_IDLE is checked once more now that it runs
          if (this.idle) this.prioritise(true)
          markReady()
        } else this.onReply?.(reply)
      },
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit'],
      // why: never hand the server's environment (secrets) to the process compiling visitors' code
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    })
    // why: an idle compiler must not keep the process (or a test run) alive
    this.proc.unref()
    enterWorkGroup(this.proc.pid)
    // threads it starts later inherit the policy of its main thread
    if (idle) this.prioritise(true)
    void this.proc.exited.then(() => {
      this.dead = true
      fail(new Error('the compiler process exited during start-up'))
      this.onDeath?.()
    })
    this.ready.catch(() => {})
  }

  kill(): void {
    this.dead = true
    this.proc.kill('SIGKILL')
  }

  /** SCHED_IDLE on or off for every thread of the process. */
  prioritise(idle: boolean): void {
    if (this.dead || (!idle && this.stuck)) return
    // the flag is checked against the kernel: a change that reached only some threads (one exiting
    // meanwhile) must not leave the main thread at the other policy for good
    if (this.idle === idle && isIdle(this.proc.pid) === idle) return
    const ok = setIdle(this.proc.pid, idle)
    if (idle) this.idle = true
    else if (ok) this.idle = false
    else this.stuck = true
  }
}

/**
 * Clang/LLD from @yowasp/clang, shared by every session of the process: each compile runs in a
 * clang process (LLVM stays loaded between compiles), at most `concurrency` at once. A compile is
 * bounded in clang's CPU time (with a wall-clock backstop), memory and output, and Ctrl-C kills it;
 * either way its slot is free at once (docs/budgets.md).
 *
 * Compiles are shared fairly between owners (sessions): `concurrency` regular slots at the
 * processes' normal priority go to owners whose recent compile time is under their share, least
 * used first; owners past it compile in an overtime lane under SCHED_IDLE. A compile that has held
 * a regular slot for a slice (CPU time) while a fresh owner waits moves to the overtime lane (its slot goes
 * to the waiter), so a compile running long never blocks fresh ones (docs/budgets.md, "Fair compiles").
 */
export class Toolchain implements Compiler {
  #shim: Promise<Uint8Array> | undefined
  #shimBytes: Uint8Array | undefined
  /** Cache lookups before a lane: trees held at once for them (each ≤ the workspace). */
  readonly #probes = new Semaphore(4)
  readonly #useProcesses: boolean
  /** Idle processes for regular compiles, the warmest kept. */
  readonly #idle: ClangProcess[] = []
  /**
   * Idle processes for the overtime lane, apart: the compiles there are the ones Ctrl-C and the
   * limits kill, and a killed process is replaced by a cold one; had they taken warm processes from
   * the regular pool, a compile bomb restarted every few seconds would leave visitors' compiles only
   * cold processes (a first compile of 12 s waiting for LLVM and 7.5 s of CPU in the containment
   * bench, against ≈ 1 s warm; docs/budgets.md, "Fair compiles and CPU").
   */
  readonly #overtimeIdle: ClangProcess[] = []
  readonly #all = new Set<ClangProcess>()
  readonly #limits: Required<Omit<ToolchainOptions, 'lowPriority' | 'cache' | 'shareCompiles'>>
  readonly #share: boolean
  readonly #lowPriority: ((owner: string) => boolean) | undefined
  /** Shared by every owner; undefined when caching is off. */
  readonly cache: CompileCache | undefined
  /**
   * Compiles running now that the cache will answer for others, by key: their lane and their end
   * (`wake` ends the wait early: the compile went to the overtime lane).
   */
  readonly #compiling = new Map<string, { slot: Slot; end: Promise<void>; wake: () => void }>()
  #running = 0
  #waiting = 0
  #nextId = 1
  #seq = 0
  readonly #concurrency: number
  readonly #queue: Slot[] = []
  readonly #active = new Set<Slot>()
  readonly #usage = new Map<string, { ms: number; at: number }>()
  /** When an owner last abandoned a compile (Ctrl-C, a kill, a limit); kept for a half-life. */
  readonly #abandoned = new Map<string, number>()
  #ticker: ReturnType<typeof setInterval> | undefined
  /** Warm-up compiles running now, and compiles waiting for one of their processes. */
  #warming = 0
  #warmWaiters: (() => void)[] = []

  /**
   * @param concurrency compiles running at once (each in its own clang process)
   * @param processes false runs clang on the calling thread (blocks the event loop, cannot be stopped)
   */
  constructor(concurrency = 1, processes = true, options: ToolchainOptions = {}) {
    this.#concurrency = concurrency
    this.#useProcesses = processes
    this.#limits = {
      timeLimitMs: options.timeLimitMs ?? COMPILE_TIME_LIMIT_MS,
      wallLimitMs: options.wallLimitMs ?? COMPILE_WALL_LIMIT_MS,
      memoryBytes: options.memoryBytes ?? COMPILE_MEMORY_BYTES,
      outputBytes: options.outputBytes ?? COMPILE_OUTPUT_BYTES,
      overtime: options.overtime ?? concurrency,
      spill: options.spill ?? concurrency,
      sliceMs: options.sliceMs ?? COMPILE_SLICE_MS,
      shareMs: options.shareMs ?? COMPILE_SHARE_MS,
      halfLifeMs: options.halfLifeMs ?? COMPILE_USAGE_HALF_LIFE_MS,
    }
    this.#lowPriority = options.lowPriority
    this.cache = options.cache === false ? undefined : (options.cache ?? new CompileCache())
    this.#share = options.shareCompiles ?? true
  }

  /** Compiles in each lane and waiting, in grant order (for tests and diagnostics). */
  lanes(): LaneView[] {
    const view = (s: Slot): LaneView => ({
      owner: s.owner,
      lane: s.lane ?? 'waiting',
      idle: s.proc?.idle ?? false,
      ...(s.proc ? { pid: s.proc.proc.pid } : {}),
    })
    return [...[...this.#active].map(view), ...this.#queue.map(view)]
  }

  #forgotAt = 0

  /**
   * Owners are sessions: what is kept of one that stopped compiling goes once it no longer counts
   * (usage decayed under 1 ms, an abandoned compile a half-life old), so the maps stay as large
   * as the set of recently compiling sessions, not every session the process ever served.
   */
  #forget(now: number): void {
    if (now - this.#forgotAt < Math.min(10_000, this.#limits.halfLifeMs)) return
    this.#forgotAt = now
    for (const [owner, at] of this.#abandoned) if (now - at >= this.#limits.halfLifeMs) this.#abandoned.delete(owner)
    for (const owner of this.#usage.keys()) if (this.usage(owner, now) < 1) this.#usage.delete(owner)
  }

  /** Owners whose recent compile time is still kept (for tests and diagnostics). */
  get owners(): number {
    return this.#usage.size
  }

  /** An owner's recent compile time: CPU ms of clang on its jobs, decayed with the half-life. */
  usage(owner: string, now = performance.now()): number {
    const u = this.#usage.get(owner)
    if (!u) return 0
    return u.ms * 2 ** (-(now - u.at) / this.#limits.halfLifeMs)
  }

  /** Adds the CPU its clang process spent on the job since the last look to its owner's usage. */
  #charge(slot: Slot, now: number): void {
    if (!slot.proc || slot.cpu === undefined) return
    const cpu = cpuMs(slot.proc.proc.pid)
    if (cpu === undefined) return
    const ms = cpu - slot.cpu
    slot.cpu = cpu
    if (ms <= 0) return
    slot.used += ms
    slot.charged += ms
    this.#usage.set(slot.owner, { ms: this.usage(slot.owner, now) + ms, at: now })
  }

  /**
   * Under its share, and no compile of its abandoned for a half-life: an owner that Ctrl-Cs its
   * compiles and starts them again (a compile bomb) compiles in the overtime lane, under
   * SCHED_IDLE, from its first Ctrl-C on, so a visitor's compiles in the regular slots share the
   * CPU with none of its kind (docs/budgets.md, "Fair compiles and CPU").
   */
  #light(owner: string, now: number): boolean {
    const abandoned = this.#abandoned.get(owner)
    if (abandoned !== undefined && now - abandoned < this.#limits.halfLifeMs) return false
    return this.usage(owner, now) < this.#limits.shareMs
  }

  /** The priority a running compile should have: SCHED_IDLE in overtime or for a demoted owner. */
  #prioritise(slot: Slot): void {
    if (!slot.proc) return
    slot.proc.prioritise(slot.lane === 'overtime' || (this.#lowPriority?.(slot.owner) ?? false))
  }

  #grant(slot: Slot, lane: Lane, now: number): void {
    const i = this.#queue.indexOf(slot)
    if (i >= 0) this.#queue.splice(i, 1)
    slot.lane = lane
    slot.since = now
    this.#active.add(slot)
    slot.grant?.()
  }

  /**
   * Hands out lanes: regular slots to light owners (least recent compile time first, then in
   * order of arrival), overtime slots to the others; then moves compiles that have had their
   * slice to the overtime lane while a light owner's compile waits for a regular slot.
   */
  #schedule(): void {
    const now = performance.now()
    this.#forget(now)
    for (const s of this.#active) this.#charge(s, now)
    const L = this.#limits
    const count = (lane: Lane) => [...this.#active].filter((s) => s.lane === lane).length
    let regular = count('regular')
    let overtime = count('overtime')
    const order = [...this.#queue].sort((a, b) => this.usage(a.owner, now) - this.usage(b.owner, now) || a.seq - b.seq)
    for (const s of order) {
      if (this.#light(s.owner, now)) {
        if (regular < this.#concurrency) {
          this.#grant(s, 'regular', now)
          regular++
          continue
        }
        // a regular compile past its slice makes room, while overtime has room: only one whose
        // owner has used more than the waiting owner (a lighter session never loses its slot to a
        // heavier one), the heaviest owner first, then the oldest
        const waiting = this.usage(s.owner, now)
        const long = [...this.#active]
          .filter(
            (a) =>
              a.lane === 'regular' &&
              a.used >= L.sliceMs &&
              this.usage(a.owner, now) > waiting &&
              // an owner well under its share (a visitor's make) keeps its slot: it is not sent to
              // SCHED_IDLE for a newcomer that may be a compile bomb restarted (docs/budgets.md)
              this.usage(a.owner, now) >= L.shareMs / 2,
          )
          .sort((a, b) => this.usage(b.owner, now) - this.usage(a.owner, now) || a.since - b.since)[0]
        if (long && overtime < L.overtime + L.spill) {
          long.lane = 'overtime'
          long.spilled = true
          long.since = now
          // a compile that outran its slice while others waited: its owner has had its share
          // (twice over, so it stays past it for a half-life) and its next compiles start in overtime
          this.#usage.set(long.owner, { ms: Math.max(this.usage(long.owner, now), 2 * L.shareMs), at: now })
          this.#prioritise(long)
          overtime++
          // sessions waiting for the same compile (compileTree) compile themselves now
          for (const c of this.#compiling.values()) if (c.slot === long) c.wake()
          this.#grant(s, 'regular', now)
        }
      } else if (overtime < L.overtime) {
        this.#grant(s, 'overtime', now)
        overtime++
      }
    }
    for (const s of this.#active) this.#prioritise(s)
    const busy = this.#active.size > 0 || this.#queue.length > 0
    if (busy && !this.#ticker) {
      this.#ticker = setInterval(() => this.#schedule(), TICK_MS)
      this.#ticker.unref?.()
    } else if (!busy && this.#ticker) {
      clearInterval(this.#ticker)
      this.#ticker = undefined
    }
  }

  /**
   * Waits for a lane (Ctrl-C leaves the queue); resolves with the slot and its release.
   * `release(true)` ends a compile that was abandoned (Ctrl-C, a kill, a limit): its owner is
   * charged the whole time since it asked — waiting and in a lane — not only the CPU it got
   * (docs/budgets.md, "Fair compiles and CPU"). A compile restarted and interrupted over and over,
   * starved of CPU by its own kind and so cheap in CPU, is heavy by that count, and a visitor's
   * compiles, which finish, are not pushed behind it.
   */
  async #admit(owner: string, signal?: AbortSignal): Promise<{ slot: Slot; release: (abandoned?: boolean) => void }> {
    signal?.throwIfAborted()
    const slot: Slot = {
      owner,
      seq: this.#seq++,
      spilled: false,
      since: 0,
      used: 0,
      askedAt: performance.now(),
      charged: 0,
    }
    const release = (abandoned = false) => {
      const now = performance.now()
      if (this.#active.delete(slot)) this.#charge(slot, now)
      const unserved = now - slot.askedAt - slot.charged
      if (abandoned && unserved > 0)
        this.#usage.set(slot.owner, { ms: this.usage(slot.owner, now) + unserved, at: now })
      if (abandoned) this.#abandoned.set(slot.owner, now)
      const i = this.#queue.indexOf(slot)
      if (i >= 0) this.#queue.splice(i, 1)
      this.#schedule()
    }
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        release(true)
        reject(signal?.reason)
      }
      slot.grant = () => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#queue.push(slot)
      this.#schedule()
    })
    return { slot, release }
  }

  /** Compiles running right now (slots held). */
  /** Compiles waiting for the same compile of another session (compileTree), out of any lane. */
  get waiting(): number {
    return this.#waiting
  }

  get running(): number {
    return this.#running
  }

  /** Pids of the clang processes (for tests and diagnostics). */
  get pids(): number[] {
    return [...this.#all].filter((p) => !p.dead).map((p) => p.proc.pid)
  }

  /** Runs with a permit held: one job per clang process, processes are started lazily and reused. */
  async #run(
    args: string[],
    tree: Tree,
    output: (b: Uint8Array) => void,
    signal?: AbortSignal,
    slot?: Slot,
    warmUp = false,
  ): Promise<CompileResult> {
    if (!this.#useProcesses) return runClangHere(args, tree, output)
    // a process busy warming up is free after one small compile: waiting for it beats loading LLVM
    // into yet another process
    while (!warmUp && this.#warming > 0 && !this.#idle.some((q) => !q.dead))
      await new Promise<void>((resolve) => this.#warmWaiters.push(resolve))
    // a compile takes the process of its pool that finished the most compiles (the engine has
    // compiled LLVM's hot code in it: a cold one needs 2-3x the CPU for the same file); a regular
    // compile may take one from the overtime pool, never the other way round (`#overtimeIdle`)
    const overtime = slot?.lane === 'overtime'
    let proc = takeWarmest(overtime ? this.#overtimeIdle : this.#idle)
    if (!proc && !overtime) proc = takeWarmest(this.#overtimeIdle)
    if (!proc) {
      proc = new ClangProcess(overtime)
      this.#all.add(proc)
    }
    if (slot) {
      slot.proc = proc
      this.#prioritise(slot)
      // a spare started under SCHED_IDLE that cannot be moved back is not used for a normal compile
      const wantsIdle = slot.lane === 'overtime' || (this.#lowPriority?.(slot.owner) ?? false)
      if (proc.stuck && proc.idle && !wantsIdle) {
        proc.kill()
        this.#all.delete(proc)
        proc = new ClangProcess()
        this.#all.add(proc)
        slot.proc = proc
      }
    }
    const p = proc
    const id = this.#nextId++
    const limits = this.#limits
    return new Promise<CompileResult>((resolve) => {
      let done = false
      const finish = (result: CompileResult, reusable: boolean) => {
        if (done) return
        done = true
        clearTimeout(timer)
        clearInterval(watch)
        signal?.removeEventListener('abort', onAbort)
        p.onReply = undefined
        p.onDeath = undefined
        if (slot) {
          this.#charge(slot, performance.now())
          slot.cpu = undefined
          slot.proc = undefined
        }
        // an idle process goes back to a normal policy; one that cannot, or one too many, is ended
        if (reusable) p.finished++
        if (reusable && !p.dead) p.prioritise(false)
        if (reusable && !p.dead && !p.stuck) {
          // back to the pool of the lane it finished in, the warmest kept: as many as there are
          // regular slots, one for the overtime lane (≈ 0.4–0.5 GiB each; docs/budgets.md)
          const [pool, keep] = slot?.lane === 'overtime' ? [this.#overtimeIdle, 1] : [this.#idle, this.#concurrency]
          pool.push(p)
          if (pool.length > keep) {
            const coldest = pool.reduce((a, b) => (b.finished < a.finished ? b : a))
            pool.splice(pool.indexOf(coldest), 1)
            coldest.kill()
            this.#all.delete(coldest)
          }
        } else if (reusable && !p.dead) {
          p.kill()
          this.#all.delete(p)
        } else {
          p.kill()
          this.#all.delete(p)
          this.#refill()
        }
        resolve(result)
      }
      const stop = (code: number, message: string) => {
        if (message) output(te.encode(message))
        finish({ code }, false)
      }
      const onAbort = () => stop(130, '')
      let timer: ReturnType<typeof setTimeout> | undefined
      /** CPU time of the clang process when it got the job (the limit counts from there). */
      let cpuAtStart: number | undefined
      const watch = setInterval(() => {
        if ((rssBytes(p.proc.pid) ?? 0) > limits.memoryBytes) {
          stop(137, `cc: memory limit (${mib(limits.memoryBytes)} MiB) exceeded: the compile was stopped\n`)
          return
        }
        const cpu = cpuAtStart === undefined ? undefined : cpuMs(p.proc.pid)
        if (cpu !== undefined && cpuAtStart !== undefined && cpu - cpuAtStart > limits.timeLimitMs) {
          stop(
            124,
            `cc: time limit exceeded (${Math.round(limits.timeLimitMs / 1000)} s): the compile was stopped after ${Math.round(limits.timeLimitMs / 1000)} s of CPU time\n`,
          )
        }
      }, SAMPLE_MS)
      signal?.addEventListener('abort', onAbort, { once: true })
      if (signal?.aborted) return onAbort()
      p.onReply = (reply) => {
        if (reply.id !== id) return
        if (reply.kind === 'output') output(reply.bytes)
        else if (reply.kind === 'done') finish({ code: reply.code, tree: reply.tree }, true)
      }
      p.onDeath = () => stop(70, 'cc: internal compiler failure: the compiler process stopped\n')
      p.ready.then(
        () => {
          if (done) return
          // the clocks start when clang has the job (LLVM is loaded by then): its CPU time for the
          // limit, the wall clock only as a backstop (a compile waiting for CPU is not stopped)
          cpuAtStart = cpuMs(p.proc.pid)
          timer = setTimeout(
            () =>
              stop(
                124,
                `cc: wall-clock limit exceeded (${Math.round(limits.wallLimitMs / 1000)} s): the compile was stopped\n`,
              ),
            limits.wallLimitMs,
          )
          // usage counts clang's CPU on the job from here: not LLVM's loading, not waiting for CPU
          if (slot) slot.cpu = cpuAtStart
          p.proc.send({ id, args, tree } satisfies ClangJob)
        },
        () => stop(70, 'cc: internal compiler failure: the compiler process did not start\n'),
      )
    })
  }

  /**
   * A killed compiler is replaced at once, so the next compile does not wait for LLVM: processes
   * kept loaded (idle or in a regular slot) are topped up to `concurrency`. The replacement loads
   * LLVM (≈ 1 s of CPU, much of it in the kernel) under SCHED_IDLE: a session that Ctrl-Cs a
   * compile every few seconds makes one load after another, and they must not take the CPU from
   * other sessions' compiles; the compile that takes it moves it to its own priority
   * (docs/budgets.md, "Fair compiles and CPU").
   */
  #refill(): void {
    const ready = this.#idle.filter((q) => !q.dead).length
    const regular = [...this.#active].filter((s) => s.lane === 'regular' && s.proc && !s.proc.dead).length
    for (let n = ready + regular; n < this.#concurrency; n++) {
      const spare = new ClangProcess(true)
      this.#all.add(spare)
      this.#idle.push(spare)
    }
  }

  /** Stops the compiler processes (they restart on the next compile). */
  close(): void {
    clearInterval(this.#ticker)
    this.#ticker = undefined
    for (const p of this.#all) p.kill()
    this.#all.clear()
    this.#idle.length = 0
    this.#overtimeIdle.length = 0
  }

  #cwdShim(): Promise<Uint8Array> {
    this.#shim ??= this.#run(SHIM_ARGS, { 'shim.c': CWD_SHIM }, () => {}).then(({ code, tree }) => {
      const obj = tree?.['shim.o']
      if (code !== 0 || !(obj instanceof Uint8Array)) {
        this.#shim = undefined
        throw new Error('could not build the cwd shim')
      }
      this.#shimBytes = obj
      return obj
    })
    return this.#shim
  }

  #warm: Promise<void> | undefined

  /**
   * Loads LLVM ahead of the first `make` (optional): one clang process compiles the cwd shim, then
   * each of the `concurrency` processes compiles and links warm-up.c, so clang and the linker are
   * loaded and their hot code compiled by the engine before a visitor asks. A visitor's compile
   * that arrives meanwhile waits for the current warm-up compile at most, and ends the warm-up.
   */
  warm(): Promise<void> {
    this.#warm ??= (async () => {
      const shim = await this.#cwdShim()
      // every process kept loaded compiles and links a real C file WARM_ROUNDS times: the engine
      // compiles LLVM's hot WebAssembly then, not during a visitor's first make (a first make of
      // minirt took 2.1 s after a start with LLVM merely loaded, 1.0 s once warm; docs/performance.md)
      const rounds = async () => {
        for (let round = 0; round < WARM_ROUNDS; round++) {
          // a visitor compiles: the processes are theirs
          if (this.#queue.length > 0 || this.#active.size > 0) return
          this.#warming++
          try {
            await this.#run(
              ['clang', '-O2', '-o', 'warm', 'warm.c', `${HIDDEN_DIR}/cwd.o`, '-lm'],
              { 'warm.c': WARM_SOURCE, [HIDDEN_DIR]: { 'cwd.o': shim } },
              () => {},
              undefined,
              undefined,
              true,
            )
          } finally {
            this.#warming--
            for (const wake of this.#warmWaiters.splice(0)) wake()
          }
        }
      }
      await Promise.all(Array.from({ length: this.#concurrency }, rounds))
    })().catch((e) => {
      this.#warm = undefined
      throw e
    })
    return this.#warm
  }

  /**
   * One compile over a tree: the arguments are checked, a slot is awaited (Ctrl-C leaves the
   * queue), the tree is asked for, clang runs under the budgets. `tree` in the result is what to
   * write back (absent when clang did not finish).
   */
  async compileTree(job: CompileJob): Promise<CompileResult> {
    const limit = this.#limits.outputBytes
    let written = 0
    const output = (bytes: Uint8Array) => {
      if (written >= limit) return
      written += bytes.length
      if (written <= limit) job.output(bytes)
      else {
        job.output(bytes.subarray(0, bytes.length - (written - limit)))
        job.output(te.encode(`\ncc: diagnostics cut at ${mib(limit)} MiB\n`))
      }
    }
    const command = clangArgs(job.argv, job.memoryLimit ?? DEFAULT_MEMORY_LIMIT)
    if (!command.ok) {
      output(te.encode(command.message))
      return { code: 1 }
    }
    const { args, linking } = command
    const plan = this.cache ? cachePlan(args, linking) : undefined
    // a build the cache knows needs no compile slot: looked up first, with the workspace asked for
    // by at most 4 compiles at once (docs/budgets.md, "Compile cache")
    let probed: string | undefined
    if (plan && (!linking || this.#shimBytes)) {
      let free: () => void
      try {
        free = await this.#probes.acquire(job.signal)
      } catch {
        return { code: 130 }
      }
      try {
        const tree = await job.tree()
        if (job.signal?.aborted) return { code: 130 }
        if (linking) tree[HIDDEN_DIR] = { 'cwd.o': this.#shimBytes as Uint8Array }
        probed = this.#directKey(plan, args, tree)
        const hit = probed ? this.cache?.get(probed) : undefined
        if (hit) {
          if (hit.output.length > 0) output(hit.output)
          return { code: 0, tree: treeOf(hit.files) }
        }
      } finally {
        free()
      }
    }
    // A compile another session is running now with the same key is waited for, not run twice (five
    // visitors typing `make` in one project at once): its lane is given back meanwhile. Only once,
    // and only for a compile in the regular lane of an owner not demoted: when that one ends
    // without an entry (Ctrl-C, an error) or goes to the overtime lane, the waiter compiles itself
    // (a visitor restarting the same compile cannot keep another waiting).
    let waited: string | undefined
    for (;;) {
      if (waited) {
        const hit = this.cache?.get(waited)
        if (hit) {
          ;(this.cache as CompileCache).shared++
          if (hit.output.length > 0) output(hit.output)
          return { code: 0, tree: treeOf(hit.files) }
        }
      }
      let lease: { slot: Slot; release: (abandoned?: boolean) => void }
      try {
        lease = await this.#admit(job.owner ?? '', job.signal)
      } catch {
        return { code: 130 }
      }
      this.#running++
      // a compile that does not come to its own end (Ctrl-C, a kill, a limit) was abandoned
      let finished = false
      let other: Promise<void> | undefined
      let done: (() => void) | undefined
      let key: string | undefined
      try {
        const tree = await job.tree()
        if (job.signal?.aborted) return { code: 130 }
        if (linking) tree[HIDDEN_DIR] = { 'cwd.o': await this.#cwdShim() }
        key = plan && (await this.#cacheKey(plan, args, tree, job.signal, lease.slot))
        if (job.signal?.aborted) return { code: 130 }
        if (key) {
          // (a key the lookup before the lane already missed is not counted twice)
          const hit = key === probed && waited === undefined ? undefined : this.cache?.get(key)
          if (hit) {
            finished = true
            if (hit.output.length > 0) output(hit.output)
            return { code: 0, tree: treeOf(hit.files) }
          }
          const running = this.#compiling.get(key)
          if (
            running &&
            waited === undefined &&
            running.slot.lane === 'regular' &&
            !this.#lowPriority?.(running.slot.owner)
          )
            other = running.end
          else if (!running && this.#share) {
            const end = new Promise<void>((resolve) => (done = resolve))
            this.#compiling.set(key, { slot: lease.slot, end, wake: done as () => void })
          }
        }
        if (other) finished = true
        else {
          // diagnostics are kept with the entry (up to the output budget) to be shown again on a hit
          const said: Uint8Array[] = []
          let saidBytes = 0
          const result = await this.#run(
            args,
            tree,
            (bytes) => {
              if (key && saidBytes <= limit) said.push(bytes)
              saidBytes += bytes.length
              output(bytes)
            },
            job.signal,
            lease.slot,
          )
          // 70: the compiler process failed, not the owner's doing
          finished = !job.signal?.aborted && (result.tree !== undefined || result.code === 70)
          if (result.tree) delete result.tree[HIDDEN_DIR]
          const produced = plan && result.tree ? fileAt(result.tree, plan.out) : undefined
          if (plan && key && result.code === 0 && produced && saidBytes <= limit) {
            this.cache?.set(key, { files: [[plan.out, produced]], output: Buffer.concat(said) })
          }
          return result
        }
      } finally {
        if (done && key) {
          this.#compiling.delete(key)
          done()
        }
        this.#running--
        lease.release(!finished)
      }
      // the same compile in another session: its end is awaited out of the lane
      this.#waiting++
      try {
        await abortable(other, job.signal)
      } catch {
        return { code: 130 }
      } finally {
        this.#waiting--
      }
      waited = key
    }
  }

  /**
   * The key of a compile found without running clang: for a link, from its inputs' bytes; for a
   * `-c` or a build, from the manifest of the same command over the same source and file names whose
   * included files are unchanged. Undefined when unknown.
   */
  #directKey(plan: CachePlan, args: string[], tree: Tree): string | undefined {
    const version = compilerVersion()
    if (plan.kind === 'link') {
      const parts: (string | Uint8Array)[] = [version, 'link', ...args]
      for (const path of [...plan.inputs, `${HIDDEN_DIR}/cwd.o`]) {
        const bytes = fileAt(tree, path)
        if (!bytes) return undefined
        parts.push(path, bytes)
      }
      return cacheKey(parts)
    }
    const source = fileAt(tree, plan.input)
    const known = source && this.cache?.manifest(this.#manifestKey(args, tree, source))
    if (
      known?.deps.every(([path, hash]) => {
        const bytes = fileAt(tree, path)
        return bytes !== undefined && digest(bytes) === hash
      })
    ) {
      ;(this.cache as CompileCache).direct++
      return known.key
    }
    return undefined
  }

  #manifestKey(args: string[], tree: Tree, source: Uint8Array): string {
    return cacheKey([compilerVersion(), 'direct', ...args, sourceListing(tree), source])
  }

  /**
   * The cache key of a compile: the compiler's version, the arguments and, for `-c` or a one-source
   * build, the source as preprocessed by clang (`-E`, in the same slot: every header's text is in
   * it, so an edited file or header misses); for a link, the bytes of every input. Undefined when
   * preprocessing fails (the compile then runs and shows its errors). A direct lookup (above) comes first.
   */
  async #cacheKey(
    plan: CachePlan,
    args: string[],
    tree: Tree,
    signal: AbortSignal | undefined,
    slot: Slot,
  ): Promise<string | undefined> {
    const known = this.#directKey(plan, args, tree)
    if (known || plan.kind === 'link') return known
    const version = compilerVersion()
    const source = fileAt(tree, plan.input)
    if (!source) return undefined
    const cache = this.cache as CompileCache
    const direct = this.#manifestKey(args, tree, source)
    const pp = ['clang']
    for (let i = 1; i < args.length; i++) {
      const a = args[i]!
      // what only the compile step or the link reads (a build's shim and linker flags) is not preprocessed
      if (a === '-c' || a === `${HIDDEN_DIR}/cwd.o` || a.startsWith('-Wl,') || /^-l./.test(a)) continue
      if (a === '-o') i++
      else pp.push(a)
    }
    pp.push('-E', '-o', `${HIDDEN_DIR}/pp.i`)
    const { code, tree: after } = await this.#run(pp, { ...tree, [HIDDEN_DIR]: {} }, () => {}, signal, slot)
    const text = code === 0 && after ? fileAt(after, `${HIDDEN_DIR}/pp.i`) : undefined
    if (!text) return undefined
    const key = cacheKey([version, plan.kind, ...args, text])
    cache.setManifest(direct, {
      key,
      deps: markerFiles(text, tree).map((path) => [path, digest(fileAt(tree, path)!)] as [string, string]),
    })
    return key
  }

  /** Runs one compiler command; returns its exit status. Produced files land in `fs`. */
  async compile(req: CompileRequest): Promise<number> {
    const { code, tree } = await this.compileTree({
      argv: req.argv,
      memoryLimit: req.memoryLimit,
      tree: () => req.fs.toTree(req.cwd),
      output: req.output,
      signal: req.signal,
      ...(req.owner !== undefined ? { owner: req.owner } : {}),
    })
    if (tree) req.fs.applyTree(req.cwd, tree)
    return code
  }
}

/** `promise`, or a rejection as soon as `signal` aborts. */
function abortable(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return promise
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const stop = () => reject(signal.reason)
    signal.addEventListener('abort', stop, { once: true })
    promise.then(() => {
      signal.removeEventListener('abort', stop)
      resolve()
    })
  })
}

/** Removes and returns the live process of `pool` that finished the most compiles (dead ones are dropped). */
function takeWarmest(pool: ClangProcess[]): ClangProcess | undefined {
  for (let i = pool.length - 1; i >= 0; i--) if (pool[i]!.dead) pool.splice(i, 1)
  let at = -1
  for (const [i, q] of pool.entries()) if (at < 0 || q.finished > pool[at]!.finished) at = i
  return at >= 0 ? pool.splice(at, 1)[0] : undefined
}
