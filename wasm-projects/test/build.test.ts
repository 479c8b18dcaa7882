import { expect, test } from 'bun:test'
import { join } from 'node:path'
import { projectsDir } from './harness.ts'

test('every committed prebuilt .wasm is exactly what `bun run wasm:build` produces from the sources', async () => {
  const proc = Bun.spawn([process.execPath, join(projectsDir, 'build.ts'), '--check'], {
    cwd: join(projectsDir, '..'),
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  // On failure, show the build's own report: it names each differing binary.
  expect({ code, report: code === 0 ? '' : `${stdout}${stderr}` }).toEqual({ code: 0, report: '' })
  expect(stdout).toMatch(/calc: identical calc\.wasm/)
  expect(stdout).toMatch(/life: identical life\.wasm/)
  expect(stdout).toMatch(/minirt: identical miniRT\.wasm/)
}, 120_000)
