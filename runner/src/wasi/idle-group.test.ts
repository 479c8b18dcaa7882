/**
 * The CPU cgroups of WASI work (idle-group.ts, docs/budgets.md "Fair CPU"): WASI processes run in
 * a work group, demoted ones in an idle group beside it, where all of them weigh as one idle thread
 * against the work group and the two together as one process against the rest of the machine.
 * Where the machine does not let this process make the groups, demotion is SCHED_IDLE alone and
 * the reason is given. Real processes, the real cgroup file system.
 */
import { afterAll, expect, test } from 'bun:test'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  cpuGroupOf,
  enterWorkGroup,
  type IdleGroup,
  idleGroup,
  idleGroupUnavailable,
  releaseIdleGroup,
} from './idle-group.ts'
import { isIdle, setIdle } from './proc-stats.ts'

const sleeper = Bun.spawn(['sleep', '600'])

/** Moves are written off the event loop: the group a process is in, once it is `want` (or what it is after 10 s). */
async function settled(pid: number, group: IdleGroup, want: string): Promise<string | undefined> {
  const end = Date.now() + 10_000
  while (cpuGroupOf(pid, group) !== want && Date.now() < end) await Bun.sleep(10)
  return cpuGroupOf(pid, group)
}
afterAll(async () => {
  sleeper.kill('SIGKILL')
  await sleeper.exited
  const dir = idleGroup()?.dir
  releaseIdleGroup()
  if (dir) expect(existsSync(dir)).toBe(false)
})

test('a WASI process goes into the work group; demoted into the idle group and back when restored; without them, SCHED_IDLE alone and why', async () => {
  const group = idleGroup()
  // root with a cgroup v1 `cpu` hierarchy (this project's CI machine) can always make one
  const writable = process.getuid?.() === 0 && existsSync('/sys/fs/cgroup/cpu/cgroup.procs')
  if (writable) expect(group).not.toBeNull()
  if (group === null) {
    expect(idleGroupUnavailable()).not.toBe('')
    expect(setIdle(sleeper.pid, true)).toBe(true)
    expect(isIdle(sleeper.pid)).toBe(true)
    return
  }
  const idle = ['cpu.idle', 'cpu.shares', 'cpu.weight'].find((f) => existsSync(join(group.dir, f)))
  expect(idle).toBeDefined()
  const value = readFileSync(join(group.dir, idle as string), 'utf8').trim()
  // marked idle, or the smallest weight where the kernel has no cpu.idle
  expect(idle === 'cpu.idle' ? value === '1' : Number(value) <= 2).toBe(true)
  // a process this one starts is in its cgroup until it is put into the work group
  expect(cpuGroupOf(sleeper.pid, group)).not.toBe(group.home)
  enterWorkGroup(sleeper.pid)
  expect(await settled(sleeper.pid, group, group.home)).toBe(group.home)
  expect(setIdle(sleeper.pid, true)).toBe(true)
  expect(isIdle(sleeper.pid)).toBe(true)
  expect(await settled(sleeper.pid, group, group.name)).toBe(group.name)
  // demoting again leaves it there
  expect(setIdle(sleeper.pid, true)).toBe(true)
  expect(cpuGroupOf(sleeper.pid, group)).toBe(group.name)
  expect(setIdle(sleeper.pid, false)).toBe(true)
  expect(isIdle(sleeper.pid)).toBe(false)
  expect(await settled(sleeper.pid, group, group.home)).toBe(group.home)
  // demoted and restored at once: the last wish wins
  setIdle(sleeper.pid, true)
  setIdle(sleeper.pid, false)
  await Bun.sleep(200)
  expect(cpuGroupOf(sleeper.pid, group)).toBe(group.home)
})

test('threads and children a demoted process starts later are in the idle group too', async () => {
  const group = idleGroup()
  if (group === null) {
    expect(idleGroupUnavailable()).not.toBe('')
    return
  }
  // a shell, demoted, then asked to start a child
  const shell = Bun.spawn(['sh', '-c', 'read go; sleep 600'], { stdin: 'pipe' })
  try {
    expect(setIdle(shell.pid, true)).toBe(true)
    expect(await settled(shell.pid, group, group.name)).toBe(group.name)
    shell.stdin.write('go\n')
    shell.stdin.flush()
    let child: number | undefined
    const end = Date.now() + 10_000
    while (child === undefined && Date.now() < end) {
      const children = readFileSync(`/proc/${shell.pid}/task/${shell.pid}/children`, 'utf8').trim()
      child = children ? Number(children.split(' ')[0]) : undefined
      if (child === undefined) await Bun.sleep(20)
    }
    expect(child).toBeDefined()
    expect(cpuGroupOf(child as number, group)).toBe(group.name)
    process.kill(child as number, 'SIGKILL')
    // gone (reaped) before this process exits, so the group it leaves is empty and removed
    while (existsSync(`/proc/${child}`) && Date.now() < end + 10_000) await Bun.sleep(20)
  } finally {
    shell.kill('SIGKILL')
    await shell.exited
  }
})

test('demotion still works after the collector ran and the heap was reused (the sched_param pointer)', async () => {
  const p = Bun.spawn(['sleep', '600'])
  try {
    expect(setIdle(p.pid, true)).toBe(true)
    expect(setIdle(p.pid, false)).toBe(true)
    // what a long-running API does between two demotions: garbage, collected, its memory reused
    for (let round = 0; round < 5; round++) {
      let junk: Int32Array[] = Array.from({ length: 20_000 }, () => new Int32Array(1).fill(99))
      junk = []
      Bun.gc(true)
      expect(junk).toHaveLength(0)
    }
    Array.from({ length: 20_000 }, () => new Int32Array(1).fill(99))
    expect(setIdle(p.pid, true)).toBe(true)
    expect(isIdle(p.pid)).toBe(true)
  } finally {
    p.kill('SIGKILL')
    await p.exited
  }
})

test('demoted work yields to the WASI work of this process, not to the rest of the machine', async () => {
  // in a process of its own (testdata/idle-shares.ts): the groups of this one also hold what the
  // suite's other files left running, which the demoted program rightly yields to
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, 'testdata/idle-shares.ts')], {
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  expect(err).toBe('')
  expect(code).toBe(0)
  const result = JSON.parse(out) as { unavailable?: string; alone: number[]; beside: number[] }
  if (idleGroup() === null) {
    expect(result.unavailable).toBe(idleGroupUnavailable())
    return
  }
  // nobody else's WASI work wants the CPU: the demoted program gets the WASI work's share, about as
  // much as either outside process (in a group that is a sibling of theirs it got almost nothing:
  // a demoted echo program did not print for a minute beside a busy suite). Shares, not
  // milliseconds: whatever else this machine runs on CPU 0 takes from all of them.
  const [o1, o2, alone] = result.alone as [number, number, number]
  expect(o1 + o2).toBeGreaterThan(0)
  expect(alone / ((o1 + o2) / 2)).toBeGreaterThan(0.4)
  // a visitor's busy work in the work group: the demoted program now waits for it
  const [p1, p2, yielded, served] = result.beside as [number, number, number, number]
  expect(served / ((p1 + p2) / 2)).toBeGreaterThan(0.4)
  expect(yielded).toBeLessThan(served / 5)
}, 60_000)
