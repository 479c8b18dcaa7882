/** The command policy in a real docker session (default allowlist). */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { outputLine, type Transcript, track } from '../contract.ts'
import { selftestProject } from '../test-fixtures.ts'
import type { DockerRunner } from './runner.ts'
import type { DockerSession } from './session.ts'
import { requireDockerRunner } from './test-fixtures.ts'

const PROMPT = /\$ $/
const T = 60_000
let runner: DockerRunner
const open: DockerSession[] = []

beforeAll(async () => {
  runner = await requireDockerRunner({ poolSize: 1 })
})
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.kill()))
})
afterAll(async () => {
  await runner?.close()
})

async function start(): Promise<{ s: DockerSession; t: Transcript }> {
  const s = (await runner.open({ project: selftestProject(), size: { cols: 100, rows: 30 } })) as DockerSession
  open.push(s)
  const t = track(s)
  await t.waitFor(PROMPT, 20_000)
  return { s, t }
}

describe('docker command policy', () => {
  test(
    'two refused lines sent back to back are both refused, then an allowed one runs',
    async () => {
      const { s, t } = await start()
      s.write('curl http://example.com\r')
      s.write('wget http://example.com\r')
      s.write('echo allowed-after\r')
      await t.waitFor(/shellfolio: 'curl' is not allowed/)
      await t.waitFor(/shellfolio: 'wget' is not allowed/)
      await t.waitFor(outputLine('allowed-after'))
      expect(t.text).not.toContain('command not found')
    },
    T,
  )

  test(
    'a refused line stays on screen (readline redraws it as a comment) and nothing of it runs',
    async () => {
      const { s, t } = await start()
      s.write('echo refused-marker > /tmp/x; curl http://example.com\r')
      await t.waitFor(/shellfolio: 'curl' is not allowed/)
      // readline inserts `#` before the line (the transcript drops its cursor moves) and accepts it
      // as a comment: the line is never erased (web/e2e/site.test.ts checks the screen itself)
      expect(t.text).toMatch(/echo refused-marker > \/tmp\/x; curl http:\/\/example\.com\r?#\r?\nshellfolio: 'curl'/)
      await t.waitFor(PROMPT)
      s.write('cat /tmp/x || echo nothing-ran\r')
      await t.waitFor(outputLine('nothing-ran'))
    },
    T,
  )

  test(
    'lines typed into a running program are its input, not commands',
    async () => {
      const { s, t } = await start()
      s.write('echo cat-ready; cat\r')
      await t.waitFor(outputLine('cat-ready'))
      s.write('curl is just text here\r')
      // the TTY echoes the line, then cat prints it back
      await t.waitFor(/curl is just text here\r?\n[\s\S]*curl is just text here\r?\n/)
      expect(t.text).not.toContain('is not allowed')
      s.write('\x04')
      await t.waitFor(PROMPT)
    },
    T,
  )

  test(
    'command substitution is refused',
    async () => {
      const { s, t } = await start()
      s.write('echo $(id)\r')
      await t.waitFor(/shellfolio: command substitution is not allowed here/)
      await t.waitFor(PROMPT)
    },
    T,
  )
})
