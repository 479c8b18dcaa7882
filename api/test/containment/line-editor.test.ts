import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { expectContained, PLACEMENTS, type Stack, startStack, underAttack, Visitor } from './kit.ts'

/**
 * Issue 14, item 1: the line editor and the shell's output ignored flow control. A 200 000-character
 * line typed without Enter, then 1 500 Home/End pairs, by a client that never acknowledges output:
 * every redraw went into an unbounded queue on the API's event loop (7.8 s /healthz, +575 MB).
 */
describe.each(PLACEMENTS)('containment 1: line editor flood (%s)', (placement) => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(placement)
  }, 180_000)
  afterAll(() => stack?.stop(), 60_000)

  test('a 200 000-character line and 1 500 Home/End pairs, never acknowledged, stay bounded; Ctrl-C recovers', async () => {
    const victim = await Visitor.open(stack, { record: true })
    const attacker = await Visitor.open(stack, { ack: false })
    const m = await underAttack(stack, async () => {
      attacker.type(`pwd ${'x'.repeat(200_000)}`)
      attacker.type('\x01\x05'.repeat(1500))
      // The attack runs while another visitor keeps using their terminal.
      await victim.keepsAnswering(5_000)
    })
    expectContained(m)
    attacker.type('\x03')
    attacker.startAcking()
    await attacker.responsive('attacker-back', 15_000)
    expect(victim.all).not.toContain('xxxxxxxx')
    expect(victim.all).not.toContain('attacker-back')
    attacker.close()
    victim.close()
  }, 180_000)
})
