import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { outputLine, track, within } from '../contract.ts'
import { selftestProject, wasmProject } from '../test-fixtures.ts'
import type { Runner, RunnerSession } from '../types.ts'
import { createWasiRunner } from './index.ts'
import { limitsProject } from './test-fixtures.ts'

const PROMPT = /\$ $/
const ESC = '\\x1b'

describe('wasi sessions', () => {
  let runner: Runner
  beforeAll(() => {
    runner = createWasiRunner()
  })
  afterAll(async () => {
    await runner.close()
  })

  async function open(project = selftestProject(), extra = {}): Promise<RunnerSession> {
    const s = await runner.open({ project, size: { cols: 80, rows: 24 }, ...extra })
    await track(s).waitFor(PROMPT, 20_000)
    return s
  }

  test('100 concurrent sessions each run echo and a small program', async () => {
    // each session has its own workspace, so each one builds `mark`: the first compiles, the other 99
    // hit the compile cache. A capacity test, not a timing one: on a busy 2-core machine 100 session
    // hosts starting at once take minutes, so every wait is generous: the last phase alone (99
    // makes, 200 program runs, each program host loading the SDK) takes ≈ 100 s of two cores, and
    // a session demoted meanwhile runs its programs last (docs/budgets.md, "Fair CPU"); 120 s waits
    // passed by a few seconds or failed by a few.
    const sessions = await Promise.all(Array.from({ length: 100 }, () => open()))
    try {
      await Promise.all(
        sessions.map(async (s, i) => {
          const t = track(s)
          s.write(`echo hello-${i}\r`)
          await t.waitFor(outputLine(`hello-${i}`), 120_000)
          await t.waitFor(PROMPT, 120_000)
        }),
      )
      const first = sessions[0]!
      const t0 = track(first)
      first.write('make mark && echo built-ok\r')
      await t0.waitFor(outputLine('built-ok'), 120_000)
      await t0.waitFor(PROMPT, 120_000)
      await Promise.all(
        sessions.map(async (s, i) => {
          const t = track(s)
          if (i > 0) {
            s.write('make mark && echo built-ok\r')
            await t.waitFor(outputLine('built-ok'), 300_000)
            await t.waitFor(PROMPT, 300_000)
          }
          s.write(`./mark m${i} && ./mark\r`)
          const m = await t.waitFor(/(?:^|[\r\n])marks: ([^\r\n]*)\r?\n/, 300_000)
          expect(m[1]).toBe(`m${i}.mark`)
          await t.waitFor(PROMPT, 300_000)
        }),
      )
    } finally {
      // a failure must not leave 100 sessions running into the next test
      await Promise.all(sessions.map((s) => s.kill()))
    }
  }, 900_000)

  test('an infinite loop is stopped by the time limit and the shell survives', async () => {
    await using short = Object.assign(createWasiRunner({ programTimeLimitMs: 2_000 }), {
      async [Symbol.asyncDispose]() {
        await short.close()
      },
    })
    const s = await short.open({ project: limitsProject(), size: { cols: 80, rows: 24 } })
    await track(s).waitFor(PROMPT, 20_000)
    const t = track(s)
    s.write('make spin\r')
    await t.waitFor(PROMPT, 60_000)
    s.write('./spin\r')
    await t.waitFor(outputLine('spinning'))
    await t.waitFor(/shellfolio: time limit exceeded \(2 s\): spin was stopped/, 20_000)
    await t.waitFor(PROMPT)
    s.write('echo status=$?\r')
    await t.waitFor(outputLine('status=124'))
    await s.kill()
  }, 90_000)

  test('memory exhaustion is contained: malloc fails at the cap, the shell lives', async () => {
    const s = await open(limitsProject())
    const t = track(s)
    s.write('make hog\r')
    await t.waitFor(PROMPT, 60_000)
    s.write('./hog; echo status=$?\r')
    const m = await t.waitFor(/hog: malloc failed after (\d+) MB/, 30_000)
    expect(Number(m[1])).toBeLessThan(256)
    await t.waitFor(outputLine('status=3'))
    await t.waitFor(PROMPT)
    s.write('echo alive\r')
    await t.waitFor(outputLine('alive'))
    await s.kill()
  }, 90_000)

  test('stdin is line-buffered with echo, Ctrl-D ends input, files written by a program appear', async () => {
    const s = await open(limitsProject())
    const t = track(s)
    s.write('make echoline\r')
    await t.waitFor(PROMPT, 60_000)
    s.write('./echoline "two words"\r')
    await t.waitFor(outputLine('cols=80 lines=24 argc=2 argv1=two words'))
    await t.waitFor(/> $/)
    s.write('abd\x7fc')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the software tty erases with BS SP BS
    await t.waitFor(/^abd\x08 \x08c$/)
    s.write('\r')
    await t.waitFor(outputLine('got: abc'))
    s.write('\x04')
    await t.waitFor(/eof cwd=\/workspace\/projects\/limits\r\n/)
    await t.waitFor(PROMPT)
    s.write('cat made-by-echoline.txt\r')
    await t.waitFor(outputLine('hello from wasm'))
    await s.resize({ cols: 100, rows: 30 })
    s.write('./echoline\r')
    await t.waitFor(outputLine('cols=100 lines=30 argc=1 argv1=-'))
    s.write('\x03')
    await t.waitFor(PROMPT)
    await s.kill()
  }, 90_000)

  test('minirt: make && ./miniRT -w 40 -h 12 scenes/demo.rt renders 24-bit colour', async () => {
    const s = await open(wasmProject('minirt'))
    const t = track(s)
    s.write('make && ./miniRT -w 40 -h 12 scenes/demo.rt\r')
    await t.waitFor(/-o miniRT /, 90_000)
    const before = t.bytes
    await t.waitFor(PROMPT, 60_000)
    const raw = new TextDecoder().decode(t.raw().slice(before))
    // 24-bit colour: SGR 38;2;r;g;b / 48;2;r;g;b, upper half blocks, 12 rows
    expect(raw).toMatch(new RegExp(`${ESC}\\[38;2;\\d+;\\d+;\\d+m`))
    expect(raw).toMatch(new RegExp(`${ESC}\\[48;2;\\d+;\\d+;\\d+m`))
    expect(t.text.slice(t.text.lastIndexOf('-h 12 scenes/demo.rt')).split('▀').length - 1).toBe(40 * 12)
    s.write('make\r')
    await t.waitFor(/make: Nothing to be done for 'all'\./)
    await within(s.kill(), 10_000, 'kill')
  }, 180_000)
})
