import { checkLine } from '../policy.ts'
import type { CommandPolicy } from '../types.ts'

/** Where the shell is, as announced by the OSC 6973 markers in the sandbox's PS1/PS2. */
export type PromptKind = 'ps1' | 'ps2'

export interface TrackedInput {
  /** Bytes to send to the container. */
  forward: Uint8Array
  /** Set when a submitted line was refused; the rest of that write was dropped. */
  refused?: string
}

const ENTER_CR = 0x0d
const ENTER_LF = 0x0a
const CTRL_C = 0x03
const CTRL_E = 0x05
const CTRL_L = 0x0c
const CTRL_U = 0x15
const BACKSPACE = 0x08
const DELETE = 0x7f
const ESC = 0x1b
const TAB = 0x09

/**
 * Follows the line a visitor types at the shell prompt, so the command policy can be checked when
 * Enter is pressed. The container is the real boundary: whenever the line cannot be known from the
 * keystrokes (escape sequences such as arrows and history, Tab completion, other editing keys, or
 * type-ahead sent while a program ran) the line is treated as unknown and allowed.
 *
 * Input sent while a program runs (no prompt marker since the last Enter) is program input and is
 * never checked: an interactive program like a calculator reads lines that are not commands.
 */
export class CommandLineTracker {
  private prompt: PromptKind | null = null
  private line: number[] = []
  private known = true
  private typeahead = false
  /** The lines already accepted for a multi-line command (PS2), joined for checking. */
  private pending = ''

  constructor(private readonly policy: CommandPolicy) {}

  /** The shell printed its prompt (PS1) or continuation prompt (PS2). */
  onPrompt(kind: PromptKind): void {
    this.prompt = kind
    this.line = []
    this.known = !this.typeahead
    this.typeahead = false
    if (kind === 'ps1') this.pending = ''
  }

  get atPrompt(): boolean {
    return this.prompt !== null
  }

  input(bytes: Uint8Array): TrackedInput {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i] as number
      if (this.prompt === null) {
        // A program is running (or the shell has not printed its prompt yet).
        if (b === CTRL_C || b === ENTER_CR || b === ENTER_LF) this.typeahead = false
        else this.typeahead = true
        continue
      }
      if (b === ENTER_CR || b === ENTER_LF) {
        const kind = this.prompt
        const refused = this.submit()
        if (refused) {
          // why: at PS1, Ctrl-E Ctrl-U empties readline's line in order with the typed bytes and the
          // empty Enter brings a fresh prompt (Ctrl-C there would flush a pasted line before readline
          // even echoed it); at PS2, Ctrl-C abandons the whole multi-line command. The rest of a
          // pasted batch after a refused line is dropped rather than run unchecked.
          const tail = kind === 'ps2' ? [CTRL_C] : [CTRL_E, CTRL_U, ENTER_CR]
          const forward = new Uint8Array(i + tail.length)
          forward.set(bytes.subarray(0, i))
          forward.set(tail, i)
          return { forward, refused }
        }
        continue
      }
      if (b === CTRL_C) {
        this.line = []
        this.known = true
        this.pending = ''
      } else if (b === CTRL_U) {
        this.line = []
      } else if (b === DELETE || b === BACKSPACE) {
        // remove one UTF-8 code point: continuation bytes, then the lead byte
        while (this.line.length > 0 && ((this.line[this.line.length - 1] as number) & 0xc0) === 0x80) this.line.pop()
        this.line.pop()
      } else if (b === ESC || b === TAB || (b < 0x20 && b !== CTRL_L)) {
        this.known = false
      } else if (b >= 0x20) {
        this.line.push(b)
      }
    }
    return { forward: bytes }
  }

  /** Enter at a prompt: returns the refusal message, or undefined when the line may run. */
  private submit(): string | undefined {
    const kind = this.prompt
    const typed = new TextDecoder().decode(new Uint8Array(this.line))
    const known = this.known
    this.prompt = null
    this.line = []
    this.known = true
    if (!known) {
      this.pending = ''
      return undefined
    }
    // why: a continuation line is checked together with the lines before it ("echo \"" then
    // "\"; curl x"), joined as separate commands.
    const whole = kind === 'ps2' && this.pending ? `${this.pending}; ${typed}` : typed
    const verdict = checkLine(whole, this.policy)
    if (!verdict.ok) {
      this.pending = ''
      return verdict.message
    }
    this.pending = whole
    return undefined
  }
}
