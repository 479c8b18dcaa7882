import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { golden, NativeBuild, projectsDir, text, WasiProject } from './harness.ts'

let native: NativeBuild
let wasi: WasiProject
let session: string

beforeAll(async () => {
  native = await NativeBuild.create('calc', 'calc')
  wasi = await WasiProject.create('calc', 'calc', [])
  session = await Bun.file(`${projectsDir}/calc/examples/session.txt`).text()
}, 60_000)

afterAll(async () => {
  await native?.[Symbol.asyncDispose]()
  await wasi?.[Symbol.asyncDispose]()
})

describe('calc', () => {
  test('answers the scripted session exactly like the golden, natively', async () => {
    const out = native.run({ args: [], stdin: session })
    expect({ code: out.code, stderr: out.stderr }).toEqual({ code: 0, stderr: '' })
    expect(text(out.stdout)).toBe(text(await golden('calc', 'session.out', out.stdout)))
  })

  test('the prebuilt WASI binary answers with the same bytes', async () => {
    const out = await wasi.run({ args: [], stdin: session })
    expect({ code: out.code, stderr: out.stderr }).toEqual({ code: 0, stderr: '' })
    expect(text(out.stdout)).toBe(text(native.run({ args: [], stdin: session }).stdout))
  })

  test('errors name the column and point at it', () => {
    const out = text(native.run({ args: [], stdin: '2 * (3 + )\n' }).stdout)
    expect(out).toContain(
      "> error at column 10: unexpected ')' where a number, a name or '(' should be\n  2 * (3 + )\n           ^\n",
    )
  })

  test.each([
    ['variables persist and ans holds the last result', 'x = 4\nx * x\nans + 1\n', ['x = 4', '16', '17']],
    ['precedence and right-associative powers', '1 + 2 * 3 ^ 2\n2 ^ 3 ^ 2\n-2 ^ 2\n', ['19', '512', '-4']],
    ['functions', 'sqrt(16) + pow(2, 3)\nmax(1, 7, 3)\nhypot(3, 4)\n', ['12', '7', '5']],
  ])('%s', async (_name, input, results) => {
    for (const out of [native.run({ args: [], stdin: input }), await wasi.run({ args: [], stdin: input })]) {
      // the banner first, the empty prompt left at end of input last
      const answers = text(out.stdout)
        .split('\n')
        .slice(1, -2)
        .map((line) => line.replace(/^> /, ''))
      expect(answers).toEqual(results)
    }
  })

  test('exits cleanly on end of input, leaving the prompt on a fresh line', async () => {
    for (const out of [native.run({ args: [], stdin: '1+1' }), await wasi.run({ args: [], stdin: '1+1' })]) {
      expect({ code: out.code, stdout: text(out.stdout).split('\n').slice(1).join('\n') }).toEqual({
        code: 0,
        stdout: '> 2\n> \n',
      })
    }
  })

  test('survives hostile input: deep nesting, overlong lines, control bytes', async () => {
    const input = `${'('.repeat(5000)}1${')'.repeat(5000)}\n${'9'.repeat(3000)}\n\x1b[A\x00\n1/0\n`
    for (const out of [native.run({ args: [], stdin: input }), await wasi.run({ args: [], stdin: input })]) {
      const stdout = text(out.stdout)
      expect(out.code).toBe(0)
      expect(stdout).toContain('error: the line is longer than 1024 characters')
      expect(stdout).toContain('unexpected byte 0x1b')
      expect(stdout).toContain('division by zero')
    }
    const nested = `${'('.repeat(100)}1${')'.repeat(100)}\n`
    expect(text(native.run({ args: [], stdin: nested }).stdout)).toContain('expression is nested too deeply')
    expect(text((await wasi.run({ args: [], stdin: nested })).stdout)).toContain('expression is nested too deeply')
  })
})
