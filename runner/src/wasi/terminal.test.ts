/**
 * Terminal fidelity of the WASI shell (issue 17), with the real projects: what is typed while
 * `make` and a render run is run afterwards, and a running `life` adapts to a resize.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { outputLine, track } from '../contract.ts'
import { wasmProject } from '../test-fixtures.ts'
import type { Runner } from '../types.ts'
import { createWasiRunner } from './index.ts'

const PROMPT = /\$ $/

describe('wasi terminal', () => {
  let runner: Runner
  beforeAll(() => {
    runner = createWasiRunner()
  })
  afterAll(async () => {
    await runner.close()
  })

  test('typed while make and miniRT run, `echo typed-$((40+2))` runs afterwards', async () => {
    const s = await runner.open({ project: wasmProject('minirt'), size: { cols: 80, rows: 24 } })
    try {
      const t = track(s)
      await t.waitFor(PROMPT, 20_000)
      // works whether the session starts in ~ or in the project's folder
      s.write('cd ~/projects/minirt && make && ./miniRT scenes/demo.rt\r')
      await t.waitFor(/cc /, 60_000)
      s.write('echo typed-$((40+2))\r')
      await t.waitFor(outputLine('typed-42'), 120_000)
      // it ran after the render: the picture's last line came before it
      expect(t.text.indexOf('typed-42\r\n')).toBeGreaterThan(t.text.lastIndexOf('./miniRT scenes/demo.rt'))
      await t.waitFor(PROMPT)
    } finally {
      await s.kill()
    }
  }, 180_000)

  test('a program stopped by Ctrl-Z takes input again after fg, and dies with the session', async () => {
    const s = await runner.open({ project: wasmProject('calc'), size: { cols: 80, rows: 24 } })
    const t = track(s)
    await t.waitFor(PROMPT, 20_000)
    s.write('cd ~/projects/calc && ./calc\r')
    s.write('6*7\r')
    await t.waitFor(/> 42\r\n/, 60_000)
    s.write('\x1a')
    await t.waitFor(/\[1\]\+ +Stopped +\.\/calc\r\n/)
    // the shell's prompt; calc's next `> `, written before the stop, may still arrive right after it
    await t.waitFor(/\$ (?:> )?$/)
    const stopped = await waitStoppedHosts()
    expect(stopped.length).toBeGreaterThanOrEqual(1)
    s.write('fg\r')
    await t.waitFor(outputLine('./calc'))
    s.write('6*8\r')
    // calc's next `> ` prompt lands before the Ctrl-Z or after fg, depending on who ran first
    await t.waitFor(/(?:^|[\r\n])(?:> )?48\r?\n/)
    s.write('\x1a')
    await t.waitFor(/\[1\]\+ +Stopped +\.\/calc\r\n/)
    const again = await waitStoppedHosts()
    expect(again.length).toBeGreaterThanOrEqual(1)
    await s.kill()
    for (let i = 0; i < 100 && again.some((pid) => alive(pid)); i++) await Bun.sleep(50)
    expect(again.filter((pid) => alive(pid))).toEqual([])
  }, 120_000)

  test('a running life takes the new size after a resize', async () => {
    const s = await runner.open({ project: wasmProject('life'), size: { cols: 40, rows: 12 } })
    try {
      const t = track(s)
      await t.waitFor(PROMPT, 20_000)
      s.write('cd ~/projects/life && ./life -d 60\r')
      await t.waitFor(/ generation 2 /, 30_000)
      const raw = () => new TextDecoder().decode(Buffer.concat(t.chunks))
      const before = raw().length
      await s.resize({ cols: 64, rows: 20 })
      // a frame of the new size: 19 text rows of 64 cells, then the status line
      const frameOf = (cols: number) => new RegExp(`\\x1b\\[H\\x1b\\[32m(?:[ ▀▄█]{${cols}}\\r?\\n){19}`)
      for (let i = 0; i < 200 && !frameOf(64).test(raw().slice(before)); i++) await Bun.sleep(50)
      expect(frameOf(64).test(raw().slice(before))).toBe(true)
      s.write('q')
      await t.waitFor(PROMPT, 10_000)
    } finally {
      await s.kill()
    }
  }, 60_000)
})

/** Program hosts stopped (state `T`) on this machine. */
/** SIGSTOP takes effect when the host's threads are next scheduled: /proc says T a moment later. */
async function waitStoppedHosts(): Promise<number[]> {
  let stopped = stoppedHosts()
  for (let i = 0; i < 40 && stopped.length === 0; i++) {
    await Bun.sleep(50)
    stopped = stoppedHosts()
  }
  return stopped
}

function stoppedHosts(): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
        return (
          stat.slice(stat.lastIndexOf(')') + 2).startsWith('T') &&
          readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('program-host')
        )
      } catch {
        return false
      }
    })
}

/** The process exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')
  } catch {
    return false
  }
}
