import { checkLine } from '../policy.ts'
import type { CommandPolicy } from '../types.ts'

/** Where the shell is, as announced by the OSC 6973 markers in the sandbox's PS1/PS2. */
export type PromptKind = 'ps1' | 'ps2'

export interface TrackedInput {
  /** Bytes to send to the container. */
  forward: Uint8Array
  /** Set when a submitted line was refused; the rest of that write was dropped. */
  refused?: string
  /**
   * Printable bytes dropped because the line at the prompt already holds `MAX_LINE` bytes: the
   * shell's line editor is never handed more (a flood without Enter would keep bash's readline busy
   * redrawing one huge line long after Ctrl-C, docs/budgets.md).
   */
  dropped?: number
}

const ENTER_CR = 0x0d
const ENTER_LF = 0x0a
const CTRL_C = 0x03
const CTRL_L = 0x0c
const CTRL_U = 0x15
const BACKSPACE = 0x08
const DELETE = 0x7f
const ESC = 0x1b
const HASH = 0x23
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
/** The longest command line the tracker checks (docs/budgets.md); a longer one is refused. */
export const MAX_LINE = 16 * 1024

export class CommandLineTracker {
  private prompt: PromptKind | null = null
  private line: number[] = []
  /** The typed line went past `MAX_LINE`: it is not kept, and Enter refuses it. */
  private tooLong = false
  private known = true
  private typeahead = false
  /** The lines already accepted for a multi-line command (PS2), joined for checking. */
  private pending = ''

  constructor(private readonly policy: CommandPolicy) {}

  /** The shell printed its prompt (PS1) or continuation prompt (PS2). */
  onPrompt(kind: PromptKind): void {
    this.prompt = kind
    this.line = []
    this.tooLong = false
    this.known = !this.typeahead
    this.typeahead = false
    if (kind === 'ps1') this.pending = ''
  }

  get atPrompt(): boolean {
    return this.prompt !== null
  }

  input(bytes: Uint8Array): TrackedInput {
    // Built only once a byte is dropped: the bytes kept so far, then every later one that is kept.
    let kept: number[] | null = null
    let dropped = 0
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i] as number
      if (this.prompt === null) {
        // A program is running (or the shell has not printed its prompt yet).
        if (b === CTRL_C || b === ENTER_CR || b === ENTER_LF) this.typeahead = false
        else this.typeahead = true
        kept?.push(b)
        continue
      }
      if (b === ENTER_CR || b === ENTER_LF) {
        const kind = this.prompt
        const refused = this.submit()
        if (refused) {
          // why: at PS1, readline's insert-comment (M-#, ESC #) turns the line into a comment and
          // accepts it, in order with the typed bytes: the refused line stays visible in the
          // scrollback (as `#line`, like the WASI shell keeps it) and nothing runs. Ctrl-C there
          // would flush a pasted line before readline even echoed it. At PS2, Ctrl-C abandons the
          // whole multi-line command. The rest of a pasted batch after a refused line is dropped
          // rather than run unchecked.
          const tail = kind === 'ps2' ? [CTRL_C] : [ESC, HASH]
          const head = kept ? Uint8Array.from(kept) : bytes.subarray(0, i)
          const forward = new Uint8Array(head.length + tail.length)
          forward.set(head)
          forward.set(tail, head.length)
          return dropped > 0 ? { forward, refused, dropped } : { forward, refused }
        }
        kept?.push(b)
        continue
      }
      if (b === CTRL_C) {
        this.line = []
        this.tooLong = false
        this.known = true
        this.pending = ''
      } else if (b === CTRL_U) {
        this.line = []
        this.tooLong = false
      } else if (b === DELETE || b === BACKSPACE) {
        // remove one UTF-8 code point: continuation bytes, then the lead byte
        while (this.line.length > 0 && ((this.line[this.line.length - 1] as number) & 0xc0) === 0x80) this.line.pop()
        this.line.pop()
      } else if (b === ESC || b === TAB || (b < 0x20 && b !== CTRL_L)) {
        this.known = false
      } else if (b >= 0x20) {
        // why: the line is kept in this process; a paste without Enter must not grow it without end
        if (this.line.length < MAX_LINE) this.line.push(b)
        else {
          this.tooLong = true
          kept ??= Array.from(bytes.subarray(0, i))
          dropped++
          continue
        }
      }
      kept?.push(b)
    }
    if (!kept) return { forward: bytes }
    return { forward: Uint8Array.from(kept), dropped }
  }

  /** Enter at a prompt: returns the refusal message, or undefined when the line may run. */
  private submit(): string | undefined {
    const kind = this.prompt
    const typed = new TextDecoder().decode(new Uint8Array(this.line))
    const known = this.known
    const tooLong = this.tooLong
    this.prompt = null
    this.line = []
    this.tooLong = false
    this.known = true
    if (tooLong) {
      this.pending = ''
      return `a command line is limited to ${MAX_LINE} bytes`
    }
    if (!known) {
      this.pending = ''
      return undefined
    }
    // why: a continuation line is checked together with the lines before it ("echo \"" then
    // "\"; curl x"), joined as separate commands.
    const whole = kind === 'ps2' && this.pending ? `${this.pending}; ${typed}` : typed
    if (whole.length > MAX_LINE) {
      this.pending = ''
      return `a command is limited to ${MAX_LINE} bytes`
    }
    const verdict = checkLine(whole, this.policy)
    if (!verdict.ok) {
      this.pending = ''
      return verdict.message
    }
    this.pending = whole
    return undefined
  }
}
