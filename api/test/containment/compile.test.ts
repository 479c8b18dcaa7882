import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { expectContained, PLACEMENTS, type Stack, startStack, underAttack, Visitor, writeFile } from './kit.ts'

/**
 * Issue 14, item 3: compiles had no time limit and could not be cancelled. `x.c` including itself
 * twice per level, 22 levels deep (2^22 inclusions): Ctrl-C did nothing, an admin kill answered 202
 * while clang kept burning CPU, and two such sessions held both compile slots of the process so a
 * third visitor's `make` waited forever.
 */
const BOMB = '#if __INCLUDE_LEVEL__ < 22\n#include __FILE__\n#include __FILE__\n#endif\n'

describe.each(PLACEMENTS)('containment 3: compile bomb (%s)', (placement) => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(placement)
  }, 180_000)
  afterAll(() => stack?.stop(), 60_000)

  test('two exponential-include compiles: Ctrl-C and kill stop them, a third visitor can still build', async () => {
    const a = await Visitor.open(stack)
    const b = await Visitor.open(stack)
    const builder = await Visitor.open(stack, { record: true })
    for (const v of [a, b]) {
      await writeFile(v, 'x.c', BOMB)
    }
    const m = await underAttack(stack, async () => {
      a.type('cc -c x.c -o x.o\r')
      b.type('cc -c x.c -o x.o\r')
      await builder.keepsAnswering(6_000)
    })
    expectContained(m)
    const t0 = performance.now()
    a.type('\x03')
    await a.responsive('a-back', 15_000)
    const ctrlC = performance.now() - t0
    expect(await stack.kill(b.sessionId)).toBe(202)
    expect(await b.exited(15_000)).toMatchObject({ reason: 'killed' })
    expect(ctrlC).toBeLessThan(15_000)
    // Both compile slots are free again: a normal build finishes.
    const out = await builder.run('make', 240_000)
    expect(out).not.toMatch(/error/i)
    await builder.responsive('built')
    for (const v of [a, b, builder]) v.close()
  }, 420_000)
})
