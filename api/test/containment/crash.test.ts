import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { INPUT_LIMITS } from '@shellfolio/runner/terminal-protocol'
import { expectContained, MiB, PLACEMENTS, type Stack, startStack, underAttack, Visitor } from './kit.ts'

/**
 * Issue 14, item 7: a visitor could crash the API process. Keystroke frames of 8 MiB sent while
 * `make` ran ended in `RangeError: Maximum call stack size exceeded` in the line editor (a spread
 * of the whole input), and the process died with every session on it.
 */
describe.each(PLACEMENTS)('containment 7: no input crashes the process (%s)', (placement) => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(placement)
  }, 180_000)
  afterAll(() => stack?.stop(), 60_000)

  test('8 MiB frames, and 8 MiB in the largest frames, while make runs: every process and session lives on', async () => {
    const victim = await Visitor.open(stack, { record: true })
    const big = await Visitor.open(stack)
    const many = await Visitor.open(stack)
    const m = await underAttack(stack, async () => {
      big.type('make re\r')
      many.type('make re\r')
      big.send(new Uint8Array(8 * MiB).fill(0x61))
      const frame = new Uint8Array(INPUT_LIMITS.maxFrame).fill(0x62)
      for (let i = 0; i < (8 * MiB) / frame.length; i++) many.send(frame)
      await big.until(() => big.closed, 30_000, 'the 8 MiB frame to be refused')
      await victim.keepsAnswering(3_000)
    })
    expectContained(m)
    expect(big.closed?.code).toBe(1009)
    many.type('\x03')
    await many.responsive('many-alive', 120_000)
    await victim.responsive('victim-alive')
    expect(stack.api.rss()).toBeGreaterThan(0)
    if (stack.service) expect(Bun.spawnSync(['kill', '-0', String(stack.service.pid)]).exitCode).toBe(0)
    victim.close()
    many.close()
  }, 420_000)
})
