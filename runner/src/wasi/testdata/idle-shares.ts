/**
 * The scenario of idle-group.test.ts "demoted work yields to the WASI work of this process, not to
 * the rest of the machine", run as a process of its own so that its WASI groups hold only what it
 * puts there (a test process's groups also hold what its other test files left running). Prints
 * one JSON line: the CPU milliseconds each process got, or why the groups are unavailable.
 */
import { cpuGroupOf, enterWorkGroup, type IdleGroup, idleGroup, idleGroupUnavailable } from '../idle-group.ts'
import { cpuMs, setIdle } from '../proc-stats.ts'

const WINDOW_MS = 3_000

async function settled(pid: number, group: IdleGroup, want: string): Promise<void> {
  const end = Date.now() + 10_000
  while (cpuGroupOf(pid, group) !== want && Date.now() < end) await Bun.sleep(10)
  if (cpuGroupOf(pid, group) !== want) throw new Error(`process ${pid} is not in ${want}: ${cpuGroupOf(pid, group)}`)
}

/** CPU time (ms) each process gets in the window. */
async function cpuOver(pids: number[]): Promise<number[]> {
  const before = pids.map((p) => cpuMs(p) ?? 0)
  await Bun.sleep(WINDOW_MS)
  return pids.map((p, i) => (cpuMs(p) ?? 0) - (before[i] as number))
}

const group = idleGroup()
if (group === null) {
  console.log(JSON.stringify({ unavailable: idleGroupUnavailable() }))
  process.exit(0)
}
// all on one CPU, so the shares show on any machine: two busy processes outside the WASI work
// (another service, a Docker sandbox's loop), a demoted visitor's program, then a busy visitor
const spin = () => Bun.spawn(['taskset', '-c', '0', 'sh', '-c', 'while :; do :; done'])
const procs = [spin(), spin(), spin()]
const demoted = procs[2] as Bun.Subprocess
try {
  enterWorkGroup(demoted.pid)
  await settled(demoted.pid, group, group.home)
  if (!setIdle(demoted.pid, true)) throw new Error('the demotion failed')
  await settled(demoted.pid, group, group.name)
  const alone = await cpuOver(procs.map((p) => p.pid))
  const visitor = spin()
  procs.push(visitor)
  enterWorkGroup(visitor.pid)
  await settled(visitor.pid, group, group.home)
  const beside = await cpuOver(procs.map((p) => p.pid))
  console.log(JSON.stringify({ alone, beside }))
} finally {
  for (const p of procs) p.kill('SIGKILL')
  await Promise.all(procs.map((p) => p.exited))
}
