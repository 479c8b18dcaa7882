import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { outputLine, track } from '../contract.ts'
import { wasmProject } from '../test-fixtures.ts'
import type { Runner, RunnerSession } from '../types.ts'
import { createWasiRunner } from './index.ts'

/** The wasm-projects (calc REPL, life full-screen) in the WASI shell, with their precompiled binaries. */
const PROMPT = /\$ $/

describe('wasm-projects in the WASI shell', () => {
  let runner: Runner
  beforeAll(() => {
    runner = createWasiRunner()
  })
  afterAll(async () => {
    await runner.close()
  })

  async function open(slug: string): Promise<RunnerSession> {
    const s = await runner.open({ project: wasmProject(slug), size: { cols: 80, rows: 24 } })
    const t = track(s)
    await t.waitFor(PROMPT, 20_000)
    return s
  }

  test('calc: an interactive REPL gets typed lines with echo; Ctrl-D leaves it', async () => {
    const s = await open('calc')
    const t = track(s)
    s.write('./calc\r')
    await t.waitFor(/> $/, 20_000)
    s.write('r = 2.5\r')
    await t.waitFor(outputLine('r = 2.5'))
    s.write('2 * (3 + 4)\r')
    await t.waitFor(/> 14\r\n/)
    s.write('\x04')
    await t.waitFor(PROMPT, 10_000)
    s.write('echo back\r')
    await t.waitFor(outputLine('back'))
    await s.kill()
  }, 60_000)

  test('calc < examples/session.txt replays the session like the golden output', async () => {
    const s = await open('calc')
    const t = track(s)
    s.write('./calc < examples/session.txt\r')
    await t.waitFor(/calc - type an expression/, 20_000)
    const start = t.cursor - 'calc - type an expression'.length
    await t.waitFor(PROMPT, 20_000)
    const golden = readFileSync(join(wasmProject('calc').sourceDir, 'golden', 'session.out'), 'utf8')
    const got = t.text
      .slice(start)
      .replaceAll('\r', '')
      .replace(/coder@shellfolio:[^\n]*\$ $/, '')
    expect(got.trimEnd()).toBe(golden.trimEnd())
    await s.kill()
  }, 60_000)

  test('life: full-screen animation stops on q and on Ctrl-C, and the terminal is restored', async () => {
    const s = await open('life')
    const t = track(s)
    s.write('./life -d 30\r')
    await t.waitFor(/generation \d+/, 20_000)
    await t.waitFor(/generation \d+/, 20_000)
    s.write('q')
    await t.waitFor(PROMPT, 10_000)
    s.write('./life -d 30\r')
    await t.waitFor(/generation \d+/, 20_000)
    s.write('\x03')
    await t.waitFor(PROMPT, 10_000)
    const raw = new TextDecoder().decode(t.raw())
    expect(raw.lastIndexOf('\x1b[?1049l')).toBeGreaterThan(raw.lastIndexOf('\x1b[?1049h'))
    s.write('echo after-life\r')
    await t.waitFor(outputLine('after-life'))
    await s.kill()
  }, 60_000)
})
