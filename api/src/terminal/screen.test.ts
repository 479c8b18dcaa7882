import { describe, expect, test } from 'bun:test'
import { Terminal } from '@xterm/headless'
import { SCREEN_BACKLOG_BYTES, SCREEN_MAX, scrollbackLines, TerminalScreen } from './screen.ts'
import { Scrollback } from './scrollback.ts'

/**
 * The screen replayed on resume (docs/terminal-protocol.md, Resume): what a visitor's terminal shows
 * after a reconnect must be what it showed before, whatever ran (a shell, `life`, an editor).
 * Each case writes a session's output to a TerminalScreen and to a "visitor" terminal, then feeds the
 * replay to a fresh terminal (the web client resets before a replay) and compares what both show.
 */

const enc = new TextEncoder()
const bytes = (s: string) => enc.encode(s)

function terminal(cols = 80, rows = 24) {
  return new Terminal({ cols, rows, scrollback: 10_000, allowProposedApi: true })
}

function feed(term: Terminal, data: Uint8Array | string): Promise<void> {
  return new Promise((resolve) => term.write(data, resolve))
}

/** Everything a visitor can see or scroll to, plus the state a program relies on. */
function view(term: Terminal) {
  const text = (kind: 'normal' | 'alternate') => {
    const b = kind === 'normal' ? term.buffer.normal : term.buffer.alternate
    const lines: string[] = []
    for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? '')
    while (lines.length > 0 && lines.at(-1) === '') lines.pop()
    return lines
  }
  const active = term.buffer.active
  return {
    active: active.type,
    normal: text('normal'),
    alternate: active.type === 'alternate' ? text('alternate') : [],
    cursor: [active.cursorX, active.cursorY],
    modes: term.modes,
  }
}

/** The session's output goes to the visitor's terminal and to the screen; returns the replay in a fresh terminal. */
async function session(output: (string | Uint8Array)[], cols = 80, rows = 24) {
  const visitor = terminal(cols, rows)
  const screen = new TerminalScreen({ cols, rows })
  for (const chunk of output) {
    const data = typeof chunk === 'string' ? bytes(chunk) : chunk
    screen.write(data)
    await feed(visitor, data)
  }
  const replay = (await screen.snapshot()) as Uint8Array
  const resumed = terminal(cols, rows)
  await feed(resumed, replay)
  return { visitor, screen, replay, resumed }
}

/** A `life`-like program: alternate screen, hidden cursor, a full frame, then frames that only redraw changed cells. */
function lifeOutput(generations: number): string[] {
  const out = ['$ ./life\r\n', '\x1b[?1049h\x1b[?25l\x1b[?1h\x1b[2J\x1b[H']
  const frame: string[] = []
  for (let y = 0; y < 22; y++) {
    frame.push(
      `\x1b[${y + 1};1H${Array.from({ length: 78 }, (_, x) => ((x * 7 + y * 3) % 5 === 0 ? '█' : ' ')).join('')}`,
    )
  }
  out.push(frame.join(''))
  for (let g = 1; g <= generations; g++) {
    const changes: string[] = []
    for (let k = 0; k < 40; k++) {
      const x = 1 + ((g * 31 + k * 17) % 78)
      const y = 1 + ((g * 13 + k * 7) % 22)
      changes.push(`\x1b[${y};${x}H\x1b[3${1 + (k % 6)}m${(g + k) % 2 ? '█' : ' '}\x1b[0m`)
    }
    out.push(`${changes.join('')}\x1b[24;1Hgeneration ${g}  (q quits)`)
  }
  return out
}

describe('TerminalScreen: the replay on resume', () => {
  test('a full-screen program mid-animation comes back exactly as the visitor saw it', async () => {
    const before = Array.from({ length: 40 }, (_, i) => `$ echo line-${i}\r\nline-${i}\r\n`)
    const { visitor, resumed, replay } = await session([...before, ...lifeOutput(300)])
    const seen = view(visitor)
    expect(seen.active).toBe('alternate')
    expect(seen.alternate.at(-1)).toStartWith('generation 300')
    expect(view(resumed)).toEqual(seen)
    // The application cursor mode `life` set is restored, so arrow keys still reach it.
    expect(view(resumed).modes.applicationCursorKeysMode).toBe(true)
    // Today's raw tail of the same output (what resumes replayed before) starts mid-animation:
    // the frame it redraws is not the one the visitor saw.
    const raw = new Scrollback(16 * 1024)
    for (const chunk of [...before, ...lifeOutput(300)]) raw.append(bytes(chunk))
    const fromRaw = terminal()
    await feed(fromRaw, raw.snapshot())
    expect(view(fromRaw).alternate).not.toEqual(seen.alternate)
    expect(replay.length).toBeLessThan(64 * 1024)
  })

  test('after the program quits, the shell and its scrollback are back as before', async () => {
    const before = Array.from({ length: 60 }, (_, i) => `line-${i}\r\n`)
    const { visitor, resumed } = await session([...before, ...lifeOutput(20), '\x1b[?1l\x1b[?25h\x1b[?1049l$ '])
    const seen = view(visitor)
    expect(seen.active).toBe('normal')
    expect(seen.normal).toContain('line-0')
    expect(view(resumed)).toEqual(seen)
  })

  test('a resume after `clear` shows the cleared screen, not the output before it', async () => {
    const { visitor, resumed, replay } = await session([
      ...Array.from({ length: 50 }, (_, i) => `secret-${i}\r\n`),
      '$ clear\r\n',
      // What bash's `clear` prints with TERM=xterm-256color: home, erase screen, erase scrollback.
      '\x1b[H\x1b[2J\x1b[3J',
      '$ echo fresh\r\nfresh\r\n$ ',
    ])
    expect(view(resumed)).toEqual(view(visitor))
    expect(view(resumed).normal).toEqual(['$ echo fresh', 'fresh', '$ '])
    expect(new TextDecoder().decode(replay)).not.toContain('secret-')
  })

  test('normal-screen scrollback is kept, colours and wide characters included', async () => {
    const lines = Array.from(
      { length: 300 },
      (_, i) => `\x1b[38;2;${i % 256};80;200mrow ${i}\x1b[0m 日本 ${i % 3 === 0 ? '\x1b[1;4mbold\x1b[0m' : ''}\r\n`,
    )
    const { visitor, resumed } = await session([...lines, '$ '])
    const seen = view(visitor)
    expect(seen.normal[0]).toStartWith('row 0 日本')
    expect(view(resumed)).toEqual(seen)
    const cell = (t: Terminal) => t.buffer.normal.getLine(10)?.getCell(0)
    expect(cell(resumed)?.getFgColor()).toBe(cell(visitor)?.getFgColor() as number)
    expect(cell(resumed)?.isFgRGB()).toBeTruthy()
  })

  test('a UTF-8 character split across chunks and a resize on the way come back right', async () => {
    const euro = bytes('price: 5€ and 🎲\r\n')
    const visitor = terminal(80, 24)
    const screen = new TerminalScreen({ cols: 80, rows: 24 })
    for (const part of [euro.subarray(0, 9), euro.subarray(9, 10), euro.subarray(10)]) {
      screen.write(part)
      await feed(visitor, part)
    }
    screen.resize({ cols: 40, rows: 10 })
    visitor.resize(40, 10)
    const long = bytes(`${'x'.repeat(70)}\r\n$ `)
    screen.write(long)
    await feed(visitor, long)
    const resumed = terminal(40, 10)
    await feed(resumed, (await screen.snapshot()) as Uint8Array)
    expect([screen.cols, screen.rows]).toEqual([40, 10])
    expect(view(resumed)).toEqual(view(visitor))
    expect(view(resumed).normal[0]).toBe('price: 5€ and 🎲')
  })

  test('bounded: a huge output keeps at most the scrollback budget, and the mirrored state fits its cap', async () => {
    const screen = new TerminalScreen({ cols: 80, rows: 24 })
    const chunk = bytes(Array.from({ length: 1000 }, (_, i) => `output line ${i} ${'-'.repeat(40)}\r\n`).join(''))
    // 50k lines, written as flow control lets them through (the screen keeps up).
    for (let i = 0; i < 50; i++) {
      screen.write(chunk)
      await screen.flushed()
    }
    screen.write(bytes('last line\r\n$ '))
    const replay = (await screen.snapshot()) as Uint8Array
    const resumed = terminal()
    await feed(resumed, replay)
    const lines = view(resumed).normal
    expect(lines.length).toBeLessThanOrEqual(24 + scrollbackLines(80))
    expect(lines.slice(-2)).toEqual(['last line', '$ '])
    // Adoption mirrors at most 64 KiB: history is left out, the screen stays.
    const mirrored = (await screen.snapshot(64 * 1024)) as Uint8Array
    expect(mirrored.length).toBeLessThanOrEqual(64 * 1024)
    const adopted = terminal()
    await feed(adopted, mirrored)
    expect(view(adopted).normal.slice(-2)).toEqual(['last line', '$ '])
    screen.dispose()
  })

  test('output the parser has not caught up with stays bounded; the screen restarts after the gap', async () => {
    const screen = new TerminalScreen({ cols: 80, rows: 24 })
    const mib = bytes('y\r\n'.repeat(349_525))
    let peak = 0
    for (let i = 0; i < 20; i++) {
      screen.write(mib)
      peak = Math.max(peak, screen.pendingBytes)
    }
    expect(peak).toBeLessThanOrEqual(SCREEN_BACKLOG_BYTES)
    await screen.flushed()
    screen.write(bytes('\x1b[31mafter the gap\x1b[0m\r\n$ '))
    const resumed = terminal()
    await feed(resumed, (await screen.snapshot()) as Uint8Array)
    expect(view(resumed).normal).toEqual(['after the gap', '$ '])
  })

  test('an idle screen hibernates as its serialization and comes back from it on new output', async () => {
    const visitor = terminal()
    const screen = new TerminalScreen({ cols: 80, rows: 24 }, 20)
    const send = async (text: string) => {
      screen.write(bytes(text))
      await feed(visitor, text)
    }
    for (const line of Array.from({ length: 40 }, (_, i) => `\x1b[3${i % 8}mline-${i}\x1b[0m\r\n`)) await send(line)
    for (const chunk of lifeOutput(5)) await send(chunk)
    await screen.flushed()
    await Bun.sleep(100)
    expect(screen.hibernating).toBe(true)
    // A resume while hibernating sends the kept state as it is.
    const asleep = terminal()
    await feed(asleep, screen.serialize())
    expect(view(asleep)).toEqual(view(visitor))
    // New output (the next generation, a resize, the program quitting) revives it.
    for (const chunk of lifeOutput(6).slice(-1)) await send(chunk)
    expect(screen.hibernating).toBe(false)
    await Bun.sleep(100)
    expect(screen.hibernating).toBe(true)
    screen.resize({ cols: 60, rows: 20 })
    visitor.resize(60, 20)
    await send('\x1b[?1l\x1b[?25h\x1b[?1049l$ ')
    const resumed = terminal(60, 20)
    await feed(resumed, (await screen.snapshot()) as Uint8Array)
    expect(view(resumed)).toEqual(view(visitor))
    screen.dispose()
  })

  test('the screen never grows past its maximum size', () => {
    const screen = new TerminalScreen({ cols: 1000, rows: 1000 })
    expect([screen.cols, screen.rows]).toEqual([SCREEN_MAX.cols, SCREEN_MAX.rows])
    screen.resize({ cols: 1000, rows: 5 })
    expect([screen.cols, screen.rows]).toEqual([SCREEN_MAX.cols, 5])
    screen.dispose()
  })
})
