/**
 * A session outlives the runner process that opened it: after that process is killed -9, another
 * runner instance re-attaches to the same shell (docs/architecture.md), and reapers leave it alone meanwhile.
 */
import { expect, test } from 'bun:test'
import { join } from 'node:path'
import { outputLine, track, within } from '../contract.ts'
import { selftestProject } from '../test-fixtures.ts'
import { reapOrphans } from './sandbox.ts'
import { requireDockerRunner } from './test-fixtures.ts'

test('a session resumes on another runner after its owner process is killed -9', async () => {
  const owner = Bun.spawn([process.execPath, 'run', join(import.meta.dir, 'testdata/owner-process.ts')], {
    stdout: 'pipe',
    stderr: 'inherit',
  })
  const reader = owner.stdout.getReader()
  let text = ''
  const first = (async () => {
    while (!text.includes('\n')) {
      const { value, done } = await reader.read()
      if (done) throw new Error(`the owner process ended early: ${JSON.stringify(text)}`)
      text += new TextDecoder().decode(value)
    }
    return JSON.parse(text.slice(0, text.indexOf('\n'))) as { sessionId: string; containerId: string }
  })()
  const { sessionId, containerId } = await within(first, 30_000, 'the owner process opening a session')
  owner.kill('SIGKILL')
  await owner.exited

  const runner = await requireDockerRunner({ poolSize: 0 })
  try {
    // The owner is gone, but its session stays within the orphan grace period.
    expect(await runner.reap()).not.toContain(containerId)
    const s = await runner.resume(sessionId, { project: selftestProject(), size: { cols: 90, rows: 30 } })
    expect(s.id).toBe(sessionId)
    expect(s.containerId).toBe(containerId)
    const t = track(s)
    s.write('stty size; echo after-resume\r')
    await t.waitFor(outputLine('30 90'))
    await t.waitFor(outputLine('after-resume'))
    // why: a line typed before the prompt is back is type-ahead for the running command (unchecked,
    // like any program's input); under gVisor the prompt can trail the output by some milliseconds
    await t.waitFor(/\$ $/)
    // Another live instance's reaper sees the adopting runner as the owner now.
    expect(await reapOrphans(runner.docker, { instanceId: 'elsewhere/1/1/x' })).not.toContain(containerId)
    // The policy still applies to the resumed shell.
    s.write('curl http://example.com\r')
    await t.waitFor(/shellfolio: 'curl' is not allowed/)
    s.write('exit 3\r')
    const info = await within(s.exited, 15_000, 'the end of the resumed session')
    expect({ code: info.code, reason: info.reason }).toEqual({ code: 3, reason: 'exit' })
    const left = await runner.docker.listContainers({ all: true, filters: { id: [containerId] } })
    expect(left).toEqual([])
  } finally {
    await runner.close()
    await runner.docker
      .getContainer(containerId)
      .remove({ force: true })
      .catch(() => {})
  }
}, 90_000)

test('resuming an unknown session fails with SESSION_NOT_FOUND', async () => {
  const runner = await requireDockerRunner({ poolSize: 0 })
  try {
    await expect(
      runner.resume(crypto.randomUUID(), { project: selftestProject(), size: { cols: 80, rows: 24 } }),
    ).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' })
  } finally {
    await runner.close()
  }
})
