import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { expectContained, PLACEMENTS, type Stack, startStack, underAttack, Visitor, writeFile } from './kit.ts'

/**
 * Issue 14, item 2: `make` expanded variables on the API's event loop with no work limit. A
 * makefile a visitor writes (then with `cc -MM -MT '<line>' -MF bomb.mk`, here with a program
 * built from the project's own sources, kit.ts `writeFile`) with four nested `foreach` over 200 words blocked every visitor, and neither Ctrl-C nor a
 * timer could interrupt it.
 */
const WORDS = Array.from({ length: 200 }, () => 'w').join(' ')
const BOMB = `X := \${foreach a,${WORDS},\${foreach b,${WORDS},\${foreach c,${WORDS},\${foreach d,${WORDS},xx}}}}\nall: ;@echo expanded\n`

describe.each(PLACEMENTS)('containment 2: make expansion bomb (%s)', (placement) => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(placement)
  }, 180_000)
  afterAll(() => stack?.stop(), 60_000)

  test('four nested foreach over 200 words: other visitors keep working, Ctrl-C and kill stop it', async () => {
    const victim = await Visitor.open(stack, { record: true })
    const attacker = await Visitor.open(stack)
    const second = await Visitor.open(stack)
    for (const v of [attacker, second]) {
      await writeFile(v, 'bomb.mk', BOMB)
    }
    const from = attacker.mark()
    const m = await underAttack(stack, async () => {
      attacker.type('make -f bomb.mk\r')
      second.type('make -f bomb.mk\r')
      await victim.keepsAnswering(6_000)
    })
    expectContained(m)
    // Ctrl-C brings the prompt back within seconds…
    const t0 = performance.now()
    attacker.type('\x03')
    await attacker.responsive('attacker-back', 15_000)
    const stoppedMs = performance.now() - t0
    // …and an admin kill ends the other one.
    expect(await stack.kill(second.sessionId)).toBe(202)
    expect(await second.exited(15_000)).toMatchObject({ reason: 'killed' })
    expect(stoppedMs).toBeLessThan(15_000)
    // The bomb ran and was stopped (by make's work budget, or by the Ctrl-C): it never finished.
    expect(attacker.since(from)).not.toContain('expanded')
    expect(attacker.since(from)).toMatch(/make: |\^C/)
    expect(victim.all).not.toContain('bomb.mk')
    for (const v of [victim, attacker, second]) v.close()
  }, 300_000)
})
