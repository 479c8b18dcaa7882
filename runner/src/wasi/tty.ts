/**
 * The software terminal between the shell and a running program. WASI has no termios, so the line
 * discipline a kernel TTY would apply is done here: canonical input with echo and erase while the
 * program reads lines, raw input once it goes full-screen, and onlcr on its output.
 */
import { type Key, keyBytes } from './keys.ts'

const te = new TextEncoder()
/** Longest line typed to a running program (Linux's MAX_CANON); more rings the bell. docs/budgets.md */
export const MAX_CANON = 4096

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

  /**
   * @param echo writes terminal text as it is (no newline translation)
   * @param answer hands the terminal's answer to a query (`CSI 18 t`, the text area's size) to the
   *   program's stdin at once; without it queries pass through to the screen
   * @param size the terminal's size now
   */
  constructor(
    private readonly echo: (text: string) => void,
    private readonly answer?: (bytes: Uint8Array) => void,
    private readonly size?: () => { rows: number; cols: number },
  ) {}

  /** The program went full screen: keys go to it raw. */
  get raw(): boolean {
    return this.#raw
  }

  /** The line typed and not yet submitted with Enter (a TTY keeps it for the next reader). */
  pending(): string {
    return this.#raw ? '' : this.#line.join('')
  }

  /** A key typed while the program runs: canonical with echo, raw for full-screen programs. */
  key(key: Key): TtyInput {
    if (this.#raw) {
      if (key.type === 'ctrl-d') return { type: 'eof' }
      const bytes = keyBytes(key)
      return bytes ? { type: 'data', bytes: te.encode(bytes) } : undefined
    }
    switch (key.type) {
      case 'text': {
        const room = MAX_CANON - this.#line.length
        const chars = Array.from(key.text.length > room * 2 ? key.text.slice(0, Math.max(0, room * 2)) : key.text)
        const taken = chars.length > room ? chars.slice(0, Math.max(0, room)) : chars
        // why: no push(...chars): a pasted megabyte must not be spread onto the stack
        this.#line = this.#line.concat(taken)
        this.echo(taken.join('') + (taken.length < chars.length ? '\x07' : ''))
        return undefined
      }
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

  /**
   * Program output on its way to the screen: goes raw on a full-screen sequence, `\n` → `\r\n`.
   * `CSI 18 t` (xterm's "report the text area size in characters") is answered here with the
   * size at this moment, `CSI 8 ; rows ; cols t`, and not shown: WASI has no TIOCGWINSZ and no
   * SIGWINCH, so this is how a running program learns its size after a resize (docs/runners.md).
   */
  output(chunk: Uint8Array): Uint8Array {
    if (this.answer && this.size) chunk = this.#answerQueries(chunk)
    if (!this.#raw && FULL_SCREEN.test(latin1(chunk))) this.#raw = true
    this.#lastByte = chunk[chunk.length - 1] ?? this.#lastByte
    return onlcr(chunk, this.#onlcr)
  }

  #answerQueries(chunk: Uint8Array): Uint8Array {
    let found = indexOfQuery(chunk, 0)
    if (found < 0) return chunk
    const parts: Uint8Array[] = []
    let from = 0
    while (found >= 0) {
      parts.push(chunk.subarray(from, found))
      const { rows, cols } = this.size!()
      this.answer!(te.encode(`\x1b[8;${rows};${cols}t`))
      from = found + SIZE_QUERY.length
      found = indexOfQuery(chunk, from)
    }
    parts.push(chunk.subarray(from))
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    let at = 0
    for (const p of parts) {
      out.set(p, at)
      at += p.length
    }
    return out
  }

  /** What to write once the program has ended: leave full-screen mode, finish an unended line. */
  restore(): string {
    return `${this.#raw ? '\x1b[0m\x1b[?25h\x1b[?1049l' : ''}${this.#lastByte !== 0x0a ? '\r\n' : ''}`
  }
}

/** `ESC [ 1 8 t`: what is the text area's size in characters? */
const SIZE_QUERY = [0x1b, 0x5b, 0x31, 0x38, 0x74]

function indexOfQuery(bytes: Uint8Array, from: number): number {
  for (
    let i = bytes.indexOf(0x1b, from);
    i >= 0 && i + SIZE_QUERY.length <= bytes.length;
    i = bytes.indexOf(0x1b, i + 1)
  ) {
    if (SIZE_QUERY.every((b, k) => bytes[i + k] === b)) return i
  }
  return -1
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
