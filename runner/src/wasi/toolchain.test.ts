import { describe, expect, test } from 'bun:test'
import { MemFs } from './memfs.ts'
import { Toolchain } from './toolchain.ts'
import { capMemory, isWasm } from './wasm-limits.ts'

describe('memory cap', () => {
  // header, memory section (1 memory, min 1 page, no max), export "mem"
  const module = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x07, 0x01, 0x03, 0x6d, 0x65,
    0x6d, 0x02, 0x00,
  ])

  test('an uncapped memory gets a maximum: growing past it fails', () => {
    const capped = capMemory(module, 4 * 65536)
    expect(WebAssembly.validate(capped)).toBe(true)
    const mem = new WebAssembly.Instance(new WebAssembly.Module(capped)).exports.mem as WebAssembly.Memory
    expect(mem.grow(3)).toBe(1)
    expect(() => mem.grow(1)).toThrow()
  })

  test('a larger existing maximum is lowered, other bytes are kept', () => {
    const withMax = new Uint8Array(module)
    withMax.set([0x05, 0x04, 0x01, 0x01, 0x01, 0x7f], 8) // min 1, max 127 pages
    const bytes = new Uint8Array([...withMax.subarray(0, 14), ...module.subarray(13)])
    const capped = capMemory(bytes, 2 * 65536)
    const mem = new WebAssembly.Instance(new WebAssembly.Module(capped)).exports.mem as WebAssembly.Memory
    expect(() => mem.grow(2)).toThrow()
    expect(isWasm(capped)).toBe(true)
    expect(() => capMemory(new Uint8Array([1, 2, 3]), 1)).toThrow('not a WebAssembly module')
  })
})

describe('toolchain (clang in WebAssembly)', () => {
  const toolchain = new Toolchain(2)

  test('compiles and links a C program to a wasm executable; errors are shown with their status', async () => {
    const fs = new MemFs()
    fs.mkdirp('/w')
    fs.writeFile('/w/ok.c', '#include <math.h>\nint main(void) { return (int)sqrt(16.0); }\n')
    fs.writeFile('/w/bad.c', 'int main(void) { return missing; }\n')
    let out = ''
    const output = (b: Uint8Array) => {
      out += new TextDecoder().decode(b)
    }
    expect(await toolchain.compile({ argv: ['cc', '-O2', '-o', 'ok', 'ok.c', '-lm'], fs, cwd: '/w', output })).toBe(0)
    const ok = fs.stat('/w/ok')
    expect(ok?.kind === 'file' && isWasm(ok.data)).toBe(true)
    expect(fs.stat('/w/.shellfolio-cc')).toBeUndefined()
    expect(await toolchain.compile({ argv: ['gcc', '-c', 'bad.c'], fs, cwd: '/w', output })).toBe(1)
    expect(out).toContain("bad.c:1:25: \x1b[0m\x1b[0;1;31merror: \x1b[0m\x1b[1muse of undeclared identifier 'missing'")
    expect(fs.stat('/w/bad.o')).toBeUndefined()
    out = ''
    expect(await toolchain.compile({ argv: ['cc'], fs, cwd: '/w', output })).toBe(1)
    expect(out).toBe('cc: fatal error: no input files\n')
  }, 60_000)

  test('warming up at start: a compile that arrives meanwhile is served by the warm processes, never a third one', async () => {
    const fresh = new Toolchain(2, true, { cache: false })
    let most = 0
    const watch = setInterval(() => {
      most = Math.max(most, fresh.pids.length)
    }, 10)
    try {
      const warming = fresh.warm()
      // arrives while the warm-up compiles run on both processes
      while (fresh.pids.length < 2) await Bun.sleep(10)
      const fs = new MemFs()
      fs.mkdirp('/w')
      fs.writeFile('/w/hi.c', '#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n')
      let out = ''
      const code = await fresh.compile({
        argv: ['cc', '-O2', '-o', 'hi', 'hi.c'],
        fs,
        cwd: '/w',
        output: (b) => {
          out += new TextDecoder().decode(b)
        },
      })
      expect({ code, out }).toEqual({ code: 0, out: '' })
      await warming
      expect(most).toBeGreaterThan(0)
      expect(most).toBeLessThanOrEqual(2)
    } finally {
      clearInterval(watch)
      fresh.close()
    }
  }, 120_000)
})
