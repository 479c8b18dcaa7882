import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { golden, NativeBuild, text, WasiProject } from './harness.ts'

const PATTERNS = ['glider.rle', 'gosper-gun.rle', 'pulsar.cells', 'r-pentomino.rle', 'broken.rle']
const RUNS: [string, string[]][] = [
  ['glider-n50.txt', ['-n', '50', '-w', '40', '-h', '12', 'patterns/glider.rle']],
  ['gosper-gun-n120.txt', ['-n', '120', '-w', '60', '-h', '20', 'patterns/gosper-gun.rle']],
  ['random-seed42-n50.txt', ['-n', '50', '-w', '60', '-h', '20']],
]
const ENTER = '\x1b[?1049h\x1b[?25l'
const LEAVE = '\x1b[?25h\x1b[?1049l'

let native: NativeBuild
let wasi: WasiProject

beforeAll(async () => {
  native = await NativeBuild.create('life', 'life')
  wasi = await WasiProject.create(
    'life',
    'life',
    PATTERNS.map((p) => `patterns/${p}`),
  )
}, 60_000)

afterAll(async () => {
  await native?.[Symbol.asyncDispose]()
  await wasi?.[Symbol.asyncDispose]()
})

describe('life -n (the final generation, no animation)', () => {
  test.each(RUNS)('%s matches the golden natively and under WASI', async (name, args) => {
    const out = native.run({ args })
    expect({ code: out.code, stderr: out.stderr }).toEqual({ code: 0, stderr: '' })
    expect(text(out.stdout)).toBe(text(await golden('life', name, out.stdout)))
    expect(text(out.stdout)).not.toContain('\x1b')
    const wasiOut = await wasi.run({ args })
    expect({ code: wasiOut.code, stderr: wasiOut.stderr }).toEqual({ code: 0, stderr: '' })
    expect(text(wasiOut.stdout)).toBe(text(out.stdout))
  })

  test('a glider is still five cells after 50 generations, and the grid fills COLUMNS x LINES', async () => {
    const out = text(
      native.run({ args: ['-n', '50', 'patterns/glider.rle'], env: { COLUMNS: '30', LINES: '10' } }).stdout,
    )
    const lines = out.split('\n').slice(0, -1)
    expect(lines).toHaveLength(10)
    expect(lines.at(-1)).toBe('generation 50, population 5')
    for (const line of lines.slice(0, -1)) expect([...line]).toHaveLength(30)
  })

  test('a malformed pattern is refused with the line and a non-zero exit', async () => {
    const expected = "life: patterns/broken.rle: line 3: unexpected 'x' in the RLE data (expected b, o, $ or !)\n"
    for (const out of [
      native.run({ args: ['-n', '1', 'patterns/broken.rle'] }),
      await wasi.run({ args: ['-n', '1', 'patterns/broken.rle'] }),
    ]) {
      expect({ code: out.code, stdout: text(out.stdout), stderr: out.stderr }).toEqual({
        code: 1,
        stdout: '',
        stderr: expected,
      })
    }
  })

  test('a pattern larger than the terminal is refused', () => {
    const out = native.run({ args: ['-n', '1', '-w', '20', '-h', '6', 'patterns/gosper-gun.rle'] })
    expect(out.code).toBe(1)
    expect(out.stderr).toContain('the pattern is 36x9 cells but the grid is only 20x10')
  })
})

describe('life animation', () => {
  test('under WASI, q on stdin ends the animation and restores the screen', async () => {
    // A 10 s frame delay: only the key can end the first wait within the test's timeout.
    const proc = await wasi.command({ args: ['-d', '10000', '-w', '30', '-h', '8', 'patterns/glider.rle'] }).spawn({
      stdin: 'pipe',
      stdout: 'capture',
      stderr: 'capture',
    })
    await proc.stdin!.write('q')
    const out = await proc.wait()
    const stdout = out.stdout.text()
    expect({ code: out.exitCode, reason: out.reason }).toEqual({ code: 0, reason: 'exited' })
    expect(stdout.startsWith(ENTER)).toBe(true)
    expect(stdout).toContain(' generation 0  population 5  q: quit ')
    expect(stdout.endsWith(LEAVE)).toBe(true)
  }, 8_000)

  test('natively, SIGINT ends the animation and restores the screen', async () => {
    const proc = Bun.spawn(['./life', '-w', '30', '-h', '8', 'patterns/glider.rle'], {
      cwd: native.dir,
      env: { PATH: process.env.PATH ?? '' },
      stdin: 'ignore',
      stdout: 'pipe',
    })
    const decoder = new TextDecoder()
    let stdout = ''
    const reader = proc.stdout.getReader()
    while (!stdout.includes('generation 1 ')) {
      const { value, done } = await reader.read()
      if (done) break
      stdout += decoder.decode(value, { stream: true })
    }
    proc.kill('SIGINT')
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      stdout += decoder.decode(value, { stream: true })
    }
    expect(await proc.exited).toBe(0)
    expect(stdout.startsWith(ENTER)).toBe(true)
    expect(stdout.endsWith(LEAVE)).toBe(true)
  }, 8_000)
})
