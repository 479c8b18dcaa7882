/**
 * The showcase on both runners: `make && ./miniRT …` builds and renders, and the
 * image is byte for byte the committed golden (gcc in the Docker sandbox, clang-in-WebAssembly in
 * the WASI shell). Both suites fail loudly when their back end cannot run.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { track, within } from './contract.ts'
import { requireDockerRunner } from './docker/test-fixtures.ts'
import { wasmProject } from './test-fixtures.ts'
import type { Runner } from './types.ts'
import { createWasiRunner } from './wasi/index.ts'

const minirt = wasmProject('minirt')
const golden = readFileSync(join(minirt.sourceDir, 'golden/demo-60x20.ans'), 'utf8')
const PROMPT = /\$ $/

/** Terminal output as a program wrote it: the tty's \r\n back to \n. */
const asWritten = (bytes: Uint8Array) => new TextDecoder().decode(bytes).replaceAll('\r\n', '\n')

const cases: [string, () => Promise<Runner>][] = [
  ['docker', () => requireDockerRunner({ poolSize: 0 })],
  ['wasi', async () => createWasiRunner()],
]

describe.each(cases)('minirt on the %s runner', (_name, create) => {
  let runner: Runner | undefined
  afterAll(() => runner?.close())

  test('make && ./miniRT renders the golden image; a malformed scene is an error, not a crash', async () => {
    runner = await create()
    const session = await runner.open({ project: minirt, size: { cols: 100, rows: 30 } })
    const t = track(session)
    try {
      await t.waitFor(PROMPT, 30_000)
      session.write('make && ./miniRT -w 60 -h 20 scenes/demo.rt && echo render-ok\r')
      await t.waitFor(/\nrender-ok\r?\n/, 120_000)
      expect(asWritten(t.raw())).toContain(golden)
      session.write('./miniRT scenes/broken.rt; echo "exit=$?"\r')
      await t.waitFor(/exit=1\r?\n/, 30_000)
      expect(t.text).toMatch(/Error\r?\nline \d+: /)
      session.write('exit 0\r')
      expect((await within(session.exited, 30_000, 'the session ending')).reason).toBe('exit')
    } finally {
      t.stop()
      await session.kill().catch(() => {})
    }
  }, 180_000)
})
