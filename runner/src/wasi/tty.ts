/**
 * The software terminal between the shell and a running program. WASI has no termios, so the line
 * discipline a kernel TTY would apply is done here: canonical input with echo and erase while the
 * program reads lines, raw input once it goes full-screen, and onlcr on its output.
 */
import { type Key, keyBytes } from './keys.ts'

const te = new TextEncoder()

/** Bytes that switch a program into "full-screen" mode: alternate screen, hidden cursor, clear. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes on purpose
const FULL_SCREEN = /\x1b\[\?1049h|\x1b\[\?25l|\x1b\[2J|\x1b\[\?47h/

/** What a key means for the program's stdin: bytes to deliver, or the end of input. */
export type TtyInput = { type: 'data'; bytes: Uint8Array } | { type: 'eof' } | undefined

/** The terminal of one program run: what it echoes goes to `echo`, what it hands on is returned. */
export class ProgramTty {
  #line: string[] = []
  #raw = false
  readonly #onlcr = { lastCr: false }
  #lastByte = 0x0a

  /** @param echo writes terminal text as it is (no newline translation) */
  constructor(private readonly echo: (text: string) => void) {}

  /** A key typed while the program runs: canonical with echo, raw for full-screen programs. */
  key(key: Key): TtyInput {
    if (this.#raw) {
      if (key.type === 'ctrl-d') return { type: 'eof' }
      const bytes = keyBytes(key)
      return bytes ? { type: 'data', bytes: te.encode(bytes) } : undefined
    }
    switch (key.type) {
      case 'text':
        this.#line.push(...key.text)
        this.echo(key.text)
        return undefined
      case 'backspace':
        if (this.#line.length > 0) {
          this.#line.pop()
          this.echo('\b \b')
        }
        return undefined
      case 'ctrl-u':
        this.echo('\b \b'.repeat(this.#line.length))
        this.#line = []
        return undefined
      case 'enter': {
        const line = `${this.#line.join('')}\n`
        this.#line = []
        this.echo('\r\n')
        return { type: 'data', bytes: te.encode(line) }
      }
      case 'ctrl-d': {
        if (this.#line.length === 0) return { type: 'eof' }
        const pending = this.#line.join('')
        this.#line = []
        return { type: 'data', bytes: te.encode(pending) }
      }
      default:
        return undefined
    }
  }

  /** Ctrl-C: the line typed so far is dropped. */
  interrupt(): void {
    this.#line = []
  }

  /** Program output on its way to the screen: goes raw on a full-screen sequence, `\n` → `\r\n`. */
  output(chunk: Uint8Array): Uint8Array {
    if (!this.#raw && FULL_SCREEN.test(latin1(chunk))) this.#raw = true
    this.#lastByte = chunk[chunk.length - 1] ?? this.#lastByte
    return onlcr(chunk, this.#onlcr)
  }

  /** What to write once the program has ended: leave full-screen mode, finish an unended line. */
  restore(): string {
    return `${this.#raw ? '\x1b[0m\x1b[?25h\x1b[?1049l' : ''}${this.#lastByte !== 0x0a ? '\r\n' : ''}`
  }
}

function latin1(bytes: Uint8Array): string {
  let s = ''
  const n = Math.min(bytes.length, 8192)
  for (let i = 0; i < n; i++) s += String.fromCharCode(bytes[i]!)
  return s
}

/** A tty's onlcr: bare `\n` becomes `\r\n` (state carries a trailing `\r` across chunks). */
export function onlcr(bytes: Uint8Array, state: { lastCr: boolean }): Uint8Array {
  let extra = 0
  let prev = state.lastCr
  for (const b of bytes) {
    if (b === 0x0a && !prev) extra++
    prev = b === 0x0d
  }
  if (extra === 0) {
    if (bytes.length > 0) state.lastCr = bytes[bytes.length - 1] === 0x0d
    return bytes
  }
  const out = new Uint8Array(bytes.length + extra)
  let j = 0
  prev = state.lastCr
  for (const b of bytes) {
    if (b === 0x0a && !prev) out[j++] = 0x0d
    out[j++] = b
    prev = b === 0x0d
  }
  state.lastCr = prev
  return out
}
