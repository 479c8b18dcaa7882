import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { compileProgram, PLACEMENTS, type Stack, startStack, Visitor } from './kit.ts'

/**
 * Issue 14, item 5: one visitor's keystrokes reached another visitor's program. Program hosts were
 * reused across sessions, and keystrokes that arrived for a program that did not read them were
 * fed to the next program on that host: B's stdin-reading program printed A's typing.
 */
// why: "busy-" "done" so that the echo of the command that writes the source never reads busy-done
const BUSY = 'int main(void){volatile long i=0;while(i<50000000)i++;puts("busy-" "done");return 0;}'
const ECHO = 'int main(void){int c;while((c=getchar())!=-1)putchar(c);return 0;}'

describe.each(PLACEMENTS)('containment 5: no bytes cross sessions (%s)', (placement) => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(placement)
  }, 180_000)
  afterAll(() => stack?.stop(), 60_000)

  test("keys typed to a program that never reads them never reach another visitor's program", async () => {
    const a = await Visitor.open(stack, { record: true })
    const b = await Visitor.open(stack, { record: true })
    await compileProgram(a, 'busy', BUSY)
    await compileProgram(b, 'echoer', ECHO)
    for (let round = 0; round < 4; round++) {
      const secret = `secret-of-a-${round}-${crypto.randomUUID().slice(0, 8)}`
      const fromA = a.mark()
      a.type('./busy\r')
      // Typed while the program runs and never reads its input.
      for (let i = 0; i < 5; i++) a.type(`${secret}\r`)
      await a.seesSince(fromA, 'busy-done', 120_000)
      await a.responsive(`a-round-${round}`, 30_000)
      const fromB = b.mark()
      b.type('./echoer\r')
      b.type(`b-line-${round}\r`)
      await b.seesSince(fromB, `b-line-${round}\r\nb-line-${round}`, 60_000)
      b.type('\x04')
      await b.responsive(`b-round-${round}`, 30_000)
      expect(b.all).not.toContain('secret-of-a')
    }
    expect(a.all).not.toContain('b-line-')
    a.close()
    b.close()
  }, 600_000)
})
