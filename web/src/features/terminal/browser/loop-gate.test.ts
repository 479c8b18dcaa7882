/**
 * The loop gate (loop-gate.ts; docs/runners.md, "The browser runner"): the project programs,
 * rewritten, are valid WebAssembly and print exactly what the originals print, and a loop calls
 * the probe import (the Ctrl-Z gate's way in) every LOOP_CHECK iterations.
 */
import { describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Fd, PreopenDirectory, WASI, WASIProcExit } from '@bjorn3/browser_wasi_shim'
import { gateLoops, LOOP_CHECK } from './loop-gate.ts'

const ROOT = join(import.meta.dir, '../../../../..')
const program = (project: string, name: string) =>
  new Uint8Array(readFileSync(join(ROOT, 'wasm-projects', project, 'prebuilt', `${name}.wasm`)))

class Capture extends Fd {
  text = ''
  override fd_write(data: Uint8Array) {
    this.text += new TextDecoder().decode(data)
    return { ret: 0, nwritten: data.length }
  }
}

/** Runs `wasm` with `args` under the shim; stdout, and how many times the probe was called. */
async function run(wasm: Uint8Array, args: string[]) {
  const out = new Capture()
  const w = new WASI(args, [], [new Capture(), out, new Capture(), new PreopenDirectory('/workspace', new Map())])
  let probes = 0
  const imports = { ...w.wasiImport } as Record<string, (...a: unknown[]) => unknown>
  for (const name of ['fd_fdstat_get', 'fd_prestat_get', 'fd_filestat_get']) {
    const f = imports[name]!
    imports[name] = (...a: unknown[]) => {
      if (a[0] === -1) probes++
      return f(...a)
    }
  }
  const instance = await WebAssembly.instantiate(await WebAssembly.compile(wasm as Uint8Array<ArrayBuffer>), {
    wasi_snapshot_preview1: imports as unknown as WebAssembly.ModuleImports,
  })
  try {
    w.start(instance as unknown as { exports: { memory: WebAssembly.Memory; _start: () => unknown } })
  } catch (e) {
    if (!(e instanceof WASIProcExit)) throw e
  }
  return { out: out.text, probes }
}

describe('loop gate', () => {
  for (const [project, name] of [
    ['calc', 'calc'],
    ['life', 'life'],
    ['minirt', 'miniRT'],
  ] as const) {
    test(`${name}: rewritten, still valid WebAssembly`, () => {
      const wasm = program(project, name)
      const gated = gateLoops(wasm)
      expect(gated).toBeDefined()
      expect(gated!.length).toBeGreaterThan(wasm.length)
      expect(WebAssembly.validate(gated! as Uint8Array<ArrayBuffer>)).toBe(true)
    })
  }

  test('life -n 3000 prints the same generation, and its loops pass through the probe', async () => {
    const wasm = program('life', 'life')
    const args = ['life', '-n', '3000', '-s', '7', '-w', '40', '-h', '20']
    const plain = await run(wasm, args)
    const gated = await run(gateLoops(wasm)!, args)
    expect(gated.out).toBe(plain.out)
    expect(gated.out.length).toBeGreaterThan(0)
    expect(gated.probes).toBeGreaterThan(plain.probes)
    expect(LOOP_CHECK).toBeGreaterThan(1000)
  })

  test('a module with nothing to call through is left alone', () => {
    // (module (func (loop)))
    const bare = Uint8Array.from([
      0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 10, 7, 1, 5, 0, 3, 0x40, 0x0b, 0x0b,
    ])
    expect(WebAssembly.validate(bare)).toBe(true)
    expect(gateLoops(bare)).toBeUndefined()
  })
})
