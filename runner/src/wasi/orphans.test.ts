/**
 * The runner's child processes die with their parent even while busy (docs/budgets.md): a spinning
 * child that calls dieWithParent() is killed by the kernel when its parent is SIGKILLed, though its
 * event loop never runs the IPC disconnect handler.
 */
import { expect, test } from 'bun:test'
import { join } from 'node:path'

const procStats = join(import.meta.dir, 'proc-stats.ts')

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    const stat = require('node:fs').readFileSync(`/proc/${pid}/stat`, 'utf8') as string
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

test('a busy child of a killed parent is killed with it (PR_SET_PDEATHSIG)', async () => {
  const child = `import { dieWithParent } from ${JSON.stringify(procStats)}; dieWithParent(); console.log(process.pid); for (;;) {}`
  // the parent: a shell that starts the busy child and waits for it
  const parent = Bun.spawn(['sh', '-c', `"${process.execPath}" -e '${child}' & wait`], { stdout: 'pipe' })
  const reader = parent.stdout.getReader()
  const { value } = await reader.read()
  const pid = Number(new TextDecoder().decode(value).trim())
  expect(pid).toBeGreaterThan(1)
  expect(alive(pid)).toBe(true)
  parent.kill('SIGKILL')
  let gone = false
  for (let i = 0; i < 100 && !gone; i++) {
    await Bun.sleep(50)
    gone = !alive(pid)
  }
  if (!gone) process.kill(pid, 'SIGKILL')
  expect(gone).toBe(true)
}, 30_000)
