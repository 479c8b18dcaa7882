/**
 * After `kill -9` of the process that owns sandboxes (the API) and a restart, no container is left
 * behind: the new instance's reaper removes the dead owner's pool and sessions once the orphan grace
 * (kept so another instance can adopt a live session) has passed — 0 here.
 */
import { expect, test } from 'bun:test'
import { join } from 'node:path'
import { within } from '../contract.ts'
import { LABEL_MANAGED, LABEL_OWNER } from './sandbox.ts'
import { requireDockerRunner } from './test-fixtures.ts'

test('a restarted instance reaps every container of a killed one (pool and sessions)', async () => {
  const crashed = Bun.spawn([process.execPath, 'run', join(import.meta.dir, 'testdata/crash-process.ts')], {
    stdout: 'pipe',
    stderr: 'inherit',
  })
  const line = within(
    (async () => {
      let text = ''
      for await (const chunk of crashed.stdout) {
        text += new TextDecoder().decode(chunk)
        if (text.includes('\n')) return JSON.parse(text.slice(0, text.indexOf('\n'))) as { instanceId: string }
      }
      throw new Error(`the owner process ended early: ${JSON.stringify(text)}`)
    })(),
    60_000,
    'the owner process starting its pool and a session',
  )
  const { instanceId } = await line
  const owned = () =>
    runner.docker.listContainers({
      all: true,
      filters: { label: [`${LABEL_MANAGED}=1`, `${LABEL_OWNER}=${instanceId}`] },
    })

  const runner = await requireDockerRunner({ poolSize: 0, orphanGraceMs: 0 })
  try {
    // Pool of two plus the session (and the selftest's own pooled container once it is filled,
    // docs/runners.md "Project files"): all run under the soon-dead owner.
    expect((await owned()).length).toBeGreaterThanOrEqual(3)
    crashed.kill('SIGKILL')
    await crashed.exited
    const removed = await runner.reap()
    expect(removed.length).toBeGreaterThanOrEqual(3)
    expect(await owned()).toEqual([])
  } finally {
    crashed.kill('SIGKILL')
    await runner.close()
  }
}, 120_000)
