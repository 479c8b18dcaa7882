import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { INPUT_LIMITS } from '@shellfolio/runner/terminal-protocol'
import {
  compileProgram,
  expectContained,
  MiB,
  PLACEMENTS,
  randomIp,
  type Stack,
  startStack,
  underAttack,
  Visitor,
} from './kit.ts'

/**
 * Issue 14, item 6: terminal input was buffered without limit — Docker's attach stream ignored
 * backpressure (80 MiB of frames grew the API linearly), the API took 16 MiB frames, and the WASI
 * key queue while make ran, the line typed to a running program, the history and the frames that
 * arrived while a session opened all grew with what a visitor sent. docs/budgets.md has the bounds.
 */

/** Sends `total` bytes of `byte` in frames of the largest size the API takes, pacing on the client's own buffer. */
async function flood(v: Visitor, total: number, byte = 0x61): Promise<void> {
  const frame = new Uint8Array(INPUT_LIMITS.maxFrame).fill(byte)
  for (let sent = 0; sent < total && !v.closed; sent += frame.length) {
    v.send(frame)
    // why: keeps the test process's own send buffer small; the server sees frames as fast as it reads
    while (v.buffered > 4 * MiB && !v.closed) await Bun.sleep(5)
  }
}

const SLEEPER = 'int main(void){volatile long i=0;while(i<2000000000)i++;return 0;}'

describe.each(PLACEMENTS)('containment 6: input is bounded, WASI (%s)', (placement) => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(placement)
  }, 180_000)
  afterAll(() => stack?.stop(), 60_000)

  test('a 16 MiB frame closes the socket with 1009; the API lives on', async () => {
    const v = await Visitor.open(stack)
    v.send(new Uint8Array(16 * MiB).fill(0x61))
    await v.until(() => v.closed, 30_000, 'the socket to close')
    expect(v.closed?.code).toBe(1009)
    expect((await stack.api.fetch('/healthz')).status).toBe(200)
  }, 120_000)

  test('frames sent while the session opens are bounded in count and bytes', async () => {
    const res = await stack.api.fetch('/api/v1/terminal/sessions', {
      method: 'POST',
      ip: '10.250.0.1',
      json: { project: 'calc', runner: 'wasi' },
    })
    const { data } = (await res.json()) as { data: { ticket: string } }
    const ws = new WebSocket(`${stack.api.url.replace(/^http/, 'ws')}/api/v1/terminal/ws?ticket=${data.ticket}`, {
      headers: { 'x-forwarded-for': '10.250.0.1' },
    } as unknown as string[])
    const controls: { type: string; code?: string }[] = []
    ws.addEventListener('message', (ev) => {
      if (typeof ev.data === 'string') controls.push(JSON.parse(ev.data))
    })
    await new Promise((resolve) => ws.addEventListener('open', resolve, { once: true }))
    const base = stack.api.rss()
    // 64 frames of 64 KiB, the most a frame may carry, before the session is ready.
    for (let i = 0; i < 64; i++) ws.send(new Uint8Array(INPUT_LIMITS.maxFrame).fill(0x7a))
    const end = Date.now() + 60_000
    while (!controls.some((c) => c.type === 'ready') && Date.now() < end) await Bun.sleep(20)
    expect(controls.find((c) => c.type === 'error')).toMatchObject({ code: 'INPUT_OVERFLOW' })
    expect(controls.some((c) => c.type === 'ready')).toBe(true)
    expect(stack.api.rss() - base).toBeLessThan(64 * MiB)
    ws.close()
  }, 120_000)

  test('8 MiB typed to a program that never reads it, and while make runs, and 1 000 long lines of history', async () => {
    const victim = await Visitor.open(stack, { record: true })
    const attacker = await Visitor.open(stack)
    await compileProgram(attacker, 'sleeper', SLEEPER)
    const m = await underAttack(stack, async () => {
      attacker.type('./sleeper\r')
      await flood(attacker, 8 * MiB)
      attacker.type('\x03')
      await attacker.responsive('after-program', 30_000)
      attacker.type('make re\r')
      await flood(attacker, 8 * MiB, 0x62)
      attacker.type('\x03')
      await attacker.responsive('after-make', 60_000)
      // History: every line is kept (up to its bounds) and each one is long.
      const line = `echo ${'h'.repeat(3_000)}\r`
      for (let i = 0; i < 1000; i++) attacker.type(line)
      await attacker.responsive('after-history', 120_000)
      await victim.keepsAnswering(1_000)
    })
    expectContained(m)
    expect(victim.all).not.toContain('hhhhhhhh')
    attacker.close()
    victim.close()
  }, 600_000)
})

describe.each(PLACEMENTS)('containment 6: input is bounded, Docker (%s)', (placement) => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(placement, { runners: 'docker' })
  }, 300_000)
  afterAll(() => stack?.stop(), 60_000)

  test('80 MiB of frames to a shell at its prompt (no Enter) stay bounded; the visitor is told; Ctrl-C recovers', async () => {
    const victim = await Visitor.open(stack, { runner: 'docker', record: true })
    const attacker = await Visitor.open(stack, { runner: 'docker', ip: randomIp() })
    await attacker.sees('$ ', 60_000)
    const m = await underAttack(stack, async () => {
      await flood(attacker, 80 * MiB)
      await victim.keepsAnswering(2_000)
    })
    expectContained(m)
    // The API refuses what is beyond the session's input rate or what the container does not take,
    // and says so (docs/budgets.md).
    expect(attacker.controls.find((c) => c.type === 'error')).toMatchObject({ code: 'INPUT_OVERFLOW' })
    attacker.type('\x03')
    await attacker.responsive('docker-back', 60_000)
    expect(victim.all).not.toContain('aaaaaaaa')
    attacker.close()
    victim.close()
  }, 600_000)
})
