import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { golden, NativeBuild, text, WasiProject } from './harness.ts'

const SCENES = ['demo.rt', 'cylinders.rt', 'shadows.rt', 'room.rt', 'broken.rt']
const TERMINAL_ARGS = ['-w', '60', '-h', '20', 'scenes/demo.rt']
const PPM_ARGS = ['-o', 'demo.ppm', '-W', '160', '-H', '120', 'scenes/demo.rt']

let native: NativeBuild
let wasi: WasiProject

beforeAll(async () => {
  native = await NativeBuild.create('minirt', 'miniRT')
  wasi = await WasiProject.create(
    'minirt',
    'miniRT',
    SCENES.map((s) => `scenes/${s}`),
  )
}, 60_000)

afterAll(async () => {
  await native?.[Symbol.asyncDispose]()
  await wasi?.[Symbol.asyncDispose]()
})

describe('miniRT in the terminal', () => {
  test('renders demo.rt at 60x20 exactly like the golden, natively', async () => {
    const out = native.run({ args: TERMINAL_ARGS })
    expect({ code: out.code, stderr: out.stderr }).toEqual({ code: 0, stderr: '' })
    expect(text(out.stdout)).toBe(text(await golden('minirt', 'demo-60x20.ans', out.stdout)))
  })

  test('the golden is 20 rows of 60 upper half blocks in 24-bit colour, each reset at the end', async () => {
    const lines = text(await golden('minirt', 'demo-60x20.ans', native.run({ args: TERMINAL_ARGS }).stdout))
      .split('\n')
      .slice(0, -1)
    expect(lines).toHaveLength(20)
    for (const line of lines) {
      expect(line.match(/▀/g)).toHaveLength(60)
      expect(line.startsWith('\x1b[38;2;')).toBe(true)
      expect(line.endsWith('\x1b[0m')).toBe(true)
    }
  })

  test('the prebuilt WASI binary prints the same bytes as the native build', async () => {
    const out = await wasi.run({ args: TERMINAL_ARGS })
    expect({ code: out.code, stderr: out.stderr }).toEqual({ code: 0, stderr: '' })
    expect(text(out.stdout)).toBe(text(native.run({ args: TERMINAL_ARGS }).stdout))
  })

  test('sizes itself from COLUMNS and LINES, keeping two lines for the prompt', async () => {
    const env = { COLUMNS: '40', LINES: '12' }
    const nativeOut = native.run({ args: ['scenes/demo.rt'], env })
    const lines = text(nativeOut.stdout).split('\n').slice(0, -1)
    expect(lines).toHaveLength(10)
    expect(lines[0]?.match(/▀/g)).toHaveLength(40)
    expect(text((await wasi.run({ args: ['scenes/demo.rt'], env })).stdout)).toBe(text(nativeOut.stdout))
  })

  test('defaults to 80x22 without COLUMNS, LINES or flags', () => {
    const lines = text(native.run({ args: ['scenes/demo.rt'] }).stdout)
      .split('\n')
      .slice(0, -1)
    expect(lines).toHaveLength(22)
    expect(lines[0]?.match(/▀/g)).toHaveLength(80)
  })

  test.each(SCENES.filter((s) => s !== 'broken.rt'))(
    '%s renders identically natively and under WASI',
    async (scene) => {
      const args = ['-w', '48', '-h', '16', `scenes/${scene}`]
      const nativeOut = native.run({ args })
      expect(nativeOut.code).toBe(0)
      expect(text((await wasi.run({ args })).stdout)).toBe(text(nativeOut.stdout))
    },
  )
})

describe('miniRT PPM output', () => {
  test('writes demo.rt as a 160x120 P6 PPM identical to the golden, natively and under WASI', async () => {
    const out = native.run({ args: PPM_ARGS })
    expect(out.code).toBe(0)
    const ppm = new Uint8Array(await Bun.file(`${native.dir}/demo.ppm`).arrayBuffer())
    expect(text(ppm.subarray(0, 15))).toBe('P6\n160 120\n255\n')
    expect(ppm.byteLength).toBe(15 + 160 * 120 * 3)
    expect(Buffer.from(ppm).equals(Buffer.from(await golden('minirt', 'demo-160x120.ppm', ppm)))).toBe(true)

    const wasiOut = await wasi.run({ args: PPM_ARGS })
    expect({ code: wasiOut.code, stdout: text(wasiOut.stdout) }).toEqual({ code: 0, stdout: text(out.stdout) })
    const wasiPpm = await wasi.sandbox.fs.readFile(`${wasi.cwd}/demo.ppm`)
    expect(Buffer.from(wasiPpm).equals(Buffer.from(ppm))).toBe(true)
  })
})

describe('miniRT as a sixel image (-i sixel)', () => {
  const SIXEL_ARGS = ['-i', 'sixel', '-W', '96', '-H', '64', 'scenes/demo.rt']

  test('draws demo.rt at 96x64 exactly like the golden, natively and under WASI', async () => {
    const out = native.run({ args: SIXEL_ARGS })
    expect({ code: out.code, stderr: out.stderr }).toEqual({ code: 0, stderr: '' })
    expect(text(out.stdout)).toBe(text(await golden('minirt', 'demo-96x64.six', out.stdout)))
    const wasiOut = await wasi.run({ args: SIXEL_ARGS })
    expect({ code: wasiOut.code, stderr: wasiOut.stderr }).toEqual({ code: 0, stderr: '' })
    expect(text(wasiOut.stdout)).toBe(text(out.stdout))
  })

  test('is one DCS sixel sequence: square pixels at the asked size, a band per six rows, then ST', () => {
    const six = text(native.run({ args: SIXEL_ARGS }).stdout)
    expect(six.startsWith('\x1bP0;1;0q"1;1;96;64')).toBe(true)
    expect(six.endsWith('\x1b\\\n')).toBe(true)
    expect(six.match(/-/g)).toHaveLength(Math.ceil(64 / 6))
    // Every colour register used was declared first (#n;2;r;g;b), with percentages in 20 % steps.
    const declared = new Set([...six.matchAll(/#(\d+);2;(\d+);(\d+);(\d+)/g)].map((m) => m[1]))
    for (const m of six.matchAll(/#(\d+)(?![\d;])/g)) expect(declared.has(m[1]!)).toBe(true)
    expect(declared.size).toBeGreaterThan(10) // a picture, not a flat fill
  })

  test('defaults to 320x240 and refuses an unknown mode by name', () => {
    const six = text(native.run({ args: ['-i', 'sixel', 'scenes/demo.rt'] }).stdout)
    expect(six.startsWith('\x1bP0;1;0q"1;1;320;240')).toBe(true)
    const bad = native.run({ args: ['-i', 'kitty', 'scenes/demo.rt'] })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toStartWith('Error\n-i takes blocks or sixel, got kitty\n')
  })
})

describe('miniRT refuses bad input with a clear error, never a crash', () => {
  test('scenes/broken.rt: "Error" and the line, exit 1, on both builds', async () => {
    const expected = "Error\nline 9: sphere diameter must be greater than 0 (and at most 1e6), got '-4'\n"
    const nativeOut = native.run({ args: ['scenes/broken.rt'] })
    expect({ code: nativeOut.code, stdout: text(nativeOut.stdout), stderr: nativeOut.stderr }).toEqual({
      code: 1,
      stdout: '',
      stderr: expected,
    })
    const wasiOut = await wasi.run({ args: ['scenes/broken.rt'] })
    expect({ code: wasiOut.code, stdout: text(wasiOut.stdout), stderr: wasiOut.stderr }).toEqual({
      code: 1,
      stdout: '',
      stderr: expected,
    })
  })

  const camera = 'C 0,1,-5 0,0,1 60\n'
  const ambient = 'A 0.2 255,255,255\n'
  const cases: [string, string, string][] = [
    ['no camera', `${ambient}sp 0,0,0 1 255,0,0\n`, 'the scene has no camera'],
    ['no ambient light', camera, 'the scene has no ambient light'],
    ['two cameras', `${ambient}${camera}${camera}`, "line 3: camera 'C' can only be declared once"],
    ['an unknown element', `${ambient}${camera}tr 0,0,0\n`, "line 3: unknown element 'tr'"],
    [
      'a colour out of range',
      `${ambient}${camera}sp 0,0,0 1 256,0,0\n`,
      'line 3: sphere colour must be three integers 0-255',
    ],
    ['a missing value', `${ambient}${camera}pl 0,0,0 0,1,0\n`, "line 3: 'pl' takes 3 values, got 2"],
    ['a zero normal', `${ambient}${camera}pl 0,0,0 0,0,0 1,2,3\n`, 'line 3: plane normal must not be the zero vector'],
    [
      'a field of view of 180',
      `${ambient}C 0,0,0 0,0,1 180\n`,
      'line 2: camera field of view must be between 0 and 180',
    ],
    ['a non-number', `${ambient}${camera}sp 0,0,0 nan 1,2,3\n`, "line 3: sphere diameter must be a number, got 'nan'"],
    [
      'a vector with two components',
      `${ambient}C 0,0 0,0,1 60\n`,
      'line 2: camera position must be three comma-separated values',
    ],
    ['binary garbage', `${ambient}\x01\x02\x7f\n`, 'line 2: contains a control character'],
  ]
  test.each(cases)('a scene with %s', async (_name, scene, message) => {
    await Bun.write(`${native.dir}/scenes/bad.rt`, scene)
    await wasi.sandbox.fs.writeFile(`${wasi.cwd}/scenes/bad.rt`, scene)
    for (const out of [native.run({ args: ['scenes/bad.rt'] }), await wasi.run({ args: ['scenes/bad.rt'] })]) {
      expect(out.code).toBe(1)
      expect(out.stderr.startsWith('Error\n')).toBe(true)
      expect(out.stderr).toContain(message)
      expect(out.stdout.byteLength).toBe(0)
    }
  })

  test.each([
    [['scenes/missing.rt'], 1, 'Error\nscenes/missing.rt: cannot open: No such file or directory\n'],
    [['scenes'], 1, 'Error\nscenes: a scene file name must end in .rt\n'],
    [[], 2, 'Error\nno scene file given\n'],
    [['-w', '0', 'scenes/demo.rt'], 2, 'Error\n-w needs a column count between 1 and 1000, got 0\n'],
    [['-x', 'scenes/demo.rt'], 2, 'Error\nunknown option -x\n'],
  ])('arguments %j exit %d with a message', async (args, code, message) => {
    for (const out of [native.run({ args }), await wasi.run({ args })]) {
      expect(out.code).toBe(code)
      expect(out.stderr.startsWith(message)).toBe(true)
    }
  })
})
