/**
 * What the kernel says about a child process: resident memory and CPU time from /proc, and the
 * `nice` prefix that starts visitors' work below the API's priority. The WASI runner's budgets
 * (docs/budgets.md) are enforced by sampling these, because @wasmer/sdk's shared
 * WebAssembly.Memory reserves 4 GiB of address space and dies under RLIMIT_AS/RLIMIT_DATA.
 */

import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs'
import { moveToIdleGroup } from './idle-group.ts'

/** How often budgets are sampled (ms). */
export const SAMPLE_MS = 150

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICKS = 100

/** Bytes per page, the unit of /proc/<pid>/statm. */
const PAGE = Number(Bun.spawnSync(['getconf', 'PAGESIZE']).stdout.toString().trim()) || 4096

/** Open /proc files by path, and when each was last read (`procText`). */
const open = new Map<string, { fd: number; used: number }>()
const buffer = Buffer.alloc(4096)
let sweeper: ReturnType<typeof setInterval> | undefined

/**
 * The text of a small /proc file, or undefined once its process is gone. The file stays open and
 * is read again from offset 0 (one pread instead of open, fstat, read and close: a third of the
 * kernel's time for `statm`); the API reads these for every WASI session several times a second
 * (docs/budgets.md). A descriptor is bound to the process it was opened for: when that process is
 * gone the path is opened again (a reused pid names another process, as a fresh read would);
 * descriptors unused for 10 s are closed.
 */
function procText(path: string, retry = true): string | undefined {
  let entry = open.get(path)
  const cached = entry !== undefined
  if (!entry) {
    try {
      entry = { fd: openSync(path, 'r'), used: 0 }
    } catch {
      return undefined
    }
    open.set(path, entry)
    sweeper ??= setInterval(sweep, 10_000)
    sweeper.unref?.()
  }
  entry.used = performance.now()
  try {
    const n = readSync(entry.fd, buffer, 0, buffer.length, 0)
    if (n > 0) return buffer.toString('latin1', 0, n)
  } catch {
    // the process it was opened for is gone
  }
  closeSync(entry.fd)
  open.delete(path)
  // pids wrap (32 768 here): the path may name a new process now, as a fresh read of it would
  return cached && retry ? procText(path, false) : undefined
}

function sweep(): void {
  const stale = performance.now() - 10_000
  for (const [path, entry] of open) {
    if (entry.used < stale) {
      closeSync(entry.fd)
      open.delete(path)
    }
  }
  if (open.size === 0 && sweeper) {
    clearInterval(sweeper)
    sweeper = undefined
  }
}

/**
 * Resident set size in bytes, or undefined once the process is gone. From `statm` (its second
 * field, resident pages: the figure `status` shows as VmRSS), which costs the kernel less than half
 * of `status` (7.5 against 17 µs a read here); the API reads it for every WASI session several
 * times a second (docs/budgets.md).
 */
export function rssBytes(pid: number): number | undefined {
  const statm = procText(`/proc/${pid}/statm`)
  if (statm === undefined) return undefined
  const resident = Number(statm.split(' ')[1])
  return Number.isFinite(resident) ? resident * PAGE : 0
}

/** User + system CPU time in ms of every thread of the process, or undefined once it is gone. */
export function cpuMs(pid: number): number | undefined {
  const stat = procText(`/proc/${pid}/stat`)
  if (stat === undefined) return undefined
  // the command name may hold spaces: fields start after the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS
}

/**
 * Whether a thread of the process is running or waiting for a core (state `R`): a program starved
 * of CPU by a busy machine spends no CPU time either, but it is not waiting for its user.
 */
export function anyThreadRunnable(pid: number): boolean {
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
        if (stat[stat.lastIndexOf(')') + 2] === 'R') return true
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    // the process is gone
  }
  return false
}

const NICE = Bun.which('nice')

/**
 * argv prefix that runs a child at nice 10 from its first instruction (every thread inherits it),
 * so visitors' shells, compiles and programs never starve the API's event loop.
 */
export function niced(argv: string[]): string[] {
  return NICE ? [NICE, '-n', '10', ...argv] : argv
}

const SCHED_OTHER = 0
const SCHED_IDLE = 5

type Libc = { sched_setscheduler: (tid: number, policy: number, param: Int32Array) => number }
let libc: Libc | null | undefined

/**
 * struct sched_param { int sched_priority } = 0 for both policies. Passed as the typed array itself
 * on every call, so bun:ffi takes its address then: a pointer taken once (`ptr()`) outlived the
 * array it pointed into once the collector reclaimed it, and sched_setscheduler read a stray
 * priority and refused (EINVAL) — every demotion of a test process failed after a heavy suite.
 */
const PARAM = new Int32Array(1)

/** sched_setscheduler(2) through bun:ffi, or null where it cannot be had (not Linux/glibc). */
function loadLibc(): Libc | null {
  if (libc !== undefined) return libc
  libc = null
  if (process.platform !== 'linux') return null
  try {
    const ffi = require('bun:ffi') as typeof import('bun:ffi')
    const lib = ffi.dlopen('libc.so.6', {
      sched_setscheduler: { args: [ffi.FFIType.i32, ffi.FFIType.i32, ffi.FFIType.ptr], returns: ffi.FFIType.i32 },
    })
    libc = { sched_setscheduler: lib.symbols.sched_setscheduler as Libc['sched_setscheduler'] }
  } catch {
    libc = null
  }
  return libc as Libc | null
}

/** Thread ids of a process (a policy is per thread on Linux); empty once it is gone. */
function tasks(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number)
  } catch {
    return []
  }
}

/**
 * Moves every thread of `pid` to SCHED_IDLE (`idle`: the smallest weight, 3 against 110 at nice
 * 10) and into the idle cgroup where the machine allows one (all demoted work then weighs as one
 * such thread: idle-group.ts), or back to SCHED_OTHER at its nice value and its home group.
 * Threads and children started later inherit both. Returns false when it could not be done:
 * the process is gone, or going back was refused (an unprivileged process needs RLIMIT_NICE ≥ 10
 * or CAP_SYS_NICE to leave SCHED_IDLE at nice 10; docs/budgets.md).
 */
export function setIdle(pid: number, idle: boolean): boolean {
  const c = loadLibc()
  if (!c) return false
  const ids = tasks(pid)
  if (ids.length === 0) return false
  let ok = true
  for (const tid of ids) {
    if (c.sched_setscheduler(tid, idle ? SCHED_IDLE : SCHED_OTHER, PARAM) !== 0) ok = false
  }
  // and into (or out of) the cgroup where all demoted work weighs as one idle thread, where the
  // machine lets this process make one (idle-group.ts)
  moveToIdleGroup(pid, idle)
  return ok
}

/** Whether the main thread of `pid` runs under SCHED_IDLE (field 41 of /proc/<pid>/stat). */
export function isIdle(pid: number): boolean {
  const stat = procText(`/proc/${pid}/stat`)
  return stat !== undefined && Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]) === SCHED_IDLE
}

/** MiB, rounded, for messages. */
export function mib(bytes: number): number {
  return Math.round(bytes / (1024 * 1024))
}

/**
 * Asks the kernel to SIGKILL this process when its parent dies (prctl PR_SET_PDEATHSIG). The
 * runner's child processes (session, program and clang hosts) also exit on IPC `disconnect`, but a
 * process busy in a long WebAssembly call never runs that handler: without this, a compile bomb
 * whose API process was killed would run on, unbounded, as an orphan (docs/budgets.md).
 */
export function dieWithParent(): void {
  if (process.platform !== 'linux') return
  const parent = process.ppid
  try {
    const ffi = require('bun:ffi') as typeof import('bun:ffi')
    const i64 = ffi.FFIType.i64
    const lib = ffi.dlopen('libc.so.6', {
      prctl: { args: [ffi.FFIType.i32, i64, i64, i64, i64], returns: ffi.FFIType.i32 },
    })
    const PR_SET_PDEATHSIG = 1
    const SIGKILL = 9
    lib.symbols.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)
  } catch {
    // not glibc: the IPC disconnect handler is all there is
  }
  // the parent may have died before the request was in place: then it is already time
  if (process.ppid !== parent || process.ppid === 1) process.exit(0)
}
