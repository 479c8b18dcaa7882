/**
 * The CPU cgroups of this process's WASI work (docs/budgets.md, "Fair CPU").
 *
 * SCHED_IDLE is a per-thread weight: 3 against 110 for a thread at nice 10. Fifty demoted
 * processes of a few busy threads each outweigh, together, a visitor's compile at nice 10 (the
 * containment bench: the visitor's clang got 0.4 of a core with everyone else demoted). In a cgroup
 * marked `cpu.idle` they weigh 3 together, however many they are.
 *
 * That group must yield only to the other visitors' work, never to the rest of the machine: as a
 * direct child of this process's cgroup it lost to every process at normal weight (a Docker
 * sandbox's loop, another service; two `yes` beside the containment suite kept a demoted visitor's
 * echo program from printing for a minute). So every WASI process (session hosts, their program
 * hosts, compilers) runs in `shellfolio-<pid>/work`, demoted ones in `shellfolio-<pid>/idle`
 * (`cpu.idle`); the machine sees `shellfolio-<pid>` as one entity of normal weight, and inside it
 * demoted work runs on what the others leave. The groups are made under this process's own CPU
 * cgroup (v1 `cpu` controller, or v2 where the parent lets the `cpu` controller down); where the
 * cgroup file system is not writable (an unprivileged or containerised API) demotion is SCHED_IDLE
 * alone, and `idleGroupUnavailable()` says why.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export interface IdleGroup {
  /** Directory of the idle group. */
  dir: string
  /** Directory of `shellfolio-<pid>`, which holds the work and idle groups. */
  root: string
  /** The work group WASI processes run in when not demoted, as /proc/<pid>/cgroup names it. */
  home: string
  /** The idle group's name as /proc/<pid>/cgroup shows it. */
  name: string
  /** cgroup.procs of the idle group and of the work group. */
  procs: string
  homeProcs: string
  /** The line of /proc/<pid>/cgroup that names the CPU hierarchy starts with this. */
  prefix: string
}

let made: IdleGroup | null | undefined
let why = ''

/** The mount point and this process's path of the CPU cgroup hierarchy, v1 (`cpu`) first. */
function hierarchy(): { mount: string; path: string; prefix: string; v2: boolean } | undefined {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
  const own = readFileSync('/proc/self/cgroup', 'utf8').split('\n')
  const find = (v2: boolean) => {
    for (const line of mounts) {
      const [pre, post] = line.split(' - ')
      if (!pre || !post) continue
      const fields = pre.split(' ')
      const [fstype, , superopts = ''] = post.split(' ')
      const root = fields[3]
      const mount = fields[4]
      if (!mount || !root) continue
      if (v2 ? fstype !== 'cgroup2' : fstype !== 'cgroup' || !superopts.split(',').includes('cpu')) continue
      // this process's line: "N:cpu,cpuacct:/path" (v1) or "0::/path" (v2)
      const entry = own.find((l) => {
        const [, controllers] = l.split(':')
        return v2 ? l.startsWith('0::') : (controllers ?? '').split(',').includes('cpu')
      })
      if (!entry) continue
      const prefix = entry.slice(0, entry.indexOf(':', entry.indexOf(':') + 1) + 1)
      const full = entry.slice(prefix.length)
      // a hierarchy mounted from a sub-tree (a container) shows paths relative to its root
      if (root !== '/' && !full.startsWith(root)) continue
      const path = root === '/' ? full : full.slice(root.length) || '/'
      if (v2 && !readFileSync(join(mount, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('cpu')) continue
      return { mount, path, prefix, v2 }
    }
    return undefined
  }
  return find(false) ?? find(true)
}

/**
 * The idle group, made on first use; null where it cannot be had (`idleGroupUnavailable()` says
 * why). Groups left by processes that are gone (a killed API) are removed when empty.
 */
export function idleGroup(): IdleGroup | null {
  if (made !== undefined) return made
  made = null
  if (process.platform !== 'linux') {
    why = 'not Linux'
    return null
  }
  try {
    const h = hierarchy()
    if (!h) {
      why = 'no CPU cgroup hierarchy is mounted'
      return null
    }
    const parent = join(h.mount, h.path)
    // groups of processes that are gone (a killed API), and the single idle group of earlier versions
    for (const entry of readdirSync(parent)) {
      const m = /^shellfolio-(?:idle-)?(\d+)$/.exec(entry)
      if (m && !existsSync(`/proc/${m[1]}`)) removeGroups(join(parent, entry))
    }
    if (h.v2) {
      // v2 hands a controller down only through the parent's subtree_control
      const control = join(parent, 'cgroup.subtree_control')
      if (!readFileSync(control, 'utf8').split(/\s+/).includes('cpu')) writeFileSync(control, '+cpu')
    }
    const top = `shellfolio-${process.pid}`
    const root = join(parent, top)
    mkdirSync(root, { recursive: true })
    if (h.v2) writeFileSync(join(root, 'cgroup.subtree_control'), '+cpu')
    const dir = join(root, 'idle')
    mkdirSync(join(root, 'work'), { recursive: true })
    mkdirSync(dir, { recursive: true })
    try {
      writeFileSync(join(dir, 'cpu.idle'), '1')
    } catch {
      // kernels before 5.15 have no cpu.idle: the smallest weight instead
      writeFileSync(join(dir, h.v2 ? 'cpu.weight' : 'cpu.shares'), h.v2 ? '1' : '2')
    }
    made = {
      dir,
      root,
      home: join(h.path, top, 'work'),
      name: join(h.path, top, 'idle'),
      procs: join(dir, 'cgroup.procs'),
      homeProcs: join(root, 'work', 'cgroup.procs'),
      prefix: h.prefix,
    }
    process.once('exit', releaseIdleGroup)
  } catch (e) {
    why = `the CPU cgroup is not writable here (${(e as Error).message.split('\n')[0]})`
    made = null
  }
  return made
}

/** Removes `root`'s work and idle groups and then `root`, each only if empty. */
function removeGroups(root: string): boolean {
  for (const dir of [join(root, 'idle'), join(root, 'work'), root]) {
    try {
      if (existsSync(dir)) rmdirSync(dir)
    } catch {
      // still holds processes: left alone
      return false
    }
  }
  return true
}

/**
 * Removes the groups once they are empty (at exit; `bun test` emits no exit event, so its tests
 * call it). Groups that still hold processes stay: they end with this process (PR_SET_PDEATHSIG),
 * and the next start removes the empty groups.
 */
export function releaseIdleGroup(): void {
  if (!made) return
  if (removeGroups(made.root)) made = undefined
}

/** Why there is no idle group ('' when there is one or it was not asked for yet). */
export function idleGroupUnavailable(): string {
  return made ? '' : why
}

/** The CPU cgroup of `pid` as /proc/<pid>/cgroup names it, or undefined once it is gone. */
export function cpuGroupOf(pid: number, group: IdleGroup): string | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(group.prefix))
    return line?.slice(group.prefix.length)
  } catch {
    return undefined
  }
}

/** Moves asked for and not written yet, by pid: the latest wish wins. */
const moving = new Map<number, { idle: boolean }>()

/**
 * Moves `pid` (every thread of it; threads and children it starts later follow) into the idle
 * group, or into the work group (a new WASI process, or a restored one). The write is made off
 * the event loop, and only when the process is not there yet: a move waits for an RCU grace period
 * under a lock every fork on the machine takes (15 ms at worst on a quiet machine, more under load;
 * written from the API's thread they took `/healthz` p99 from 56 to 371 ms in the containment
 * bench). Returns false when there is no group or the process is gone; the move itself completes a
 * moment later.
 */
export function moveToIdleGroup(pid: number, idle: boolean): boolean {
  const group = idleGroup()
  if (!group) return false
  const pending = moving.get(pid)
  if (pending) {
    pending.idle = idle
    return true
  }
  const now = cpuGroupOf(pid, group)
  if (now === undefined) return false
  if (now === (idle ? group.name : group.home)) return true
  const wish = { idle }
  moving.set(pid, wish)
  void (async () => {
    try {
      for (;;) {
        const want = wish.idle
        const at = cpuGroupOf(pid, group)
        if (at === undefined) return
        if (at !== (want ? group.name : group.home)) await writeFile(want ? group.procs : group.homeProcs, String(pid))
        if (wish.idle === want) return
      }
    } catch {
      // the process ended meanwhile (ESRCH), or the group went away
    } finally {
      moving.delete(pid)
    }
  })()
  return true
}

/**
 * Puts a new WASI process (a session host, whose program hosts follow it, or a compiler) into the
 * work group, where it competes with the rest of the machine as part of one entity and demoted work
 * yields to it alone. Nothing happens where there are no groups.
 */
export function enterWorkGroup(pid: number): void {
  moveToIdleGroup(pid, false)
}
