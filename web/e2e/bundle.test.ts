/**
 * The test hooks of the terminal (window.__shellfolio and the droppable connection,
 * web/src/features/terminal/e2e-hooks.ts) exist only in the e2e build: the production bundle
 * visitors get must not carry them.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildSite } from './harness.ts'

setDefaultTimeout(120_000)

/** Strings only the test hooks contain: the window property and the drop's close reason. */
const HOOK_MARKERS = ['__shellfolio', 'dropped by test']

/** The JavaScript files of a build that contain a hook marker, with the markers each holds. */
function hookedFiles(dist: string): Record<string, string[]> {
  const assets = join(dist, 'assets')
  const found: Record<string, string[]> = {}
  for (const name of readdirSync(assets).filter((f) => f.endsWith('.js'))) {
    const js = readFileSync(join(assets, name), 'utf8')
    const markers = HOOK_MARKERS.filter((m) => js.includes(m))
    if (markers.length > 0) found[name] = markers
  }
  return found
}

describe('test hooks', () => {
  test('the production build (what `bun run build` ships) has none', async () => {
    expect(hookedFiles(await buildSite('production'))).toEqual({})
  })

  test('the e2e build has them (so the production check above looks for the right thing)', async () => {
    const found = Object.values(hookedFiles(await buildSite('e2e'))).flat()
    expect(found.sort()).toEqual([...HOOK_MARKERS].sort())
  })
})
