/**
 * Terminal input as keys: bytes (or text) from the terminal decoded into keys, and back into the
 * bytes a program in raw mode expects.
 */

export type Key =
  | { type: 'text'; text: string }
  | {
      type:
        | 'enter'
        | 'backspace'
        | 'delete'
        | 'left'
        | 'right'
        | 'up'
        | 'down'
        | 'home'
        | 'end'
        | 'tab'
        | 'ctrl-a'
        | 'ctrl-b'
        | 'ctrl-c'
        | 'ctrl-d'
        | 'ctrl-e'
        | 'ctrl-f'
        | 'ctrl-k'
        | 'ctrl-l'
        | 'ctrl-n'
        | 'ctrl-p'
        | 'ctrl-u'
        | 'ctrl-w'
        | 'ctrl-z'
        | 'word-left'
        | 'word-right'
        | 'ignored'
    }

type NamedKey = Exclude<Key['type'], 'text'>

const CONTROL: Record<number, NamedKey> = {
  1: 'ctrl-a',
  2: 'ctrl-b',
  3: 'ctrl-c',
  4: 'ctrl-d',
  5: 'ctrl-e',
  6: 'ctrl-f',
  8: 'backspace',
  9: 'tab',
  10: 'enter',
  11: 'ctrl-k',
  12: 'ctrl-l',
  13: 'enter',
  14: 'ctrl-n',
  16: 'ctrl-p',
  21: 'ctrl-u',
  23: 'ctrl-w',
  26: 'ctrl-z',
  127: 'backspace',
}

const SEQUENCES: Record<string, NamedKey> = {
  '[A': 'up',
  '[B': 'down',
  '[C': 'right',
  '[D': 'left',
  '[H': 'home',
  '[F': 'end',
  OA: 'up',
  OB: 'down',
  OC: 'right',
  OD: 'left',
  OH: 'home',
  OF: 'end',
  '[1~': 'home',
  '[7~': 'home',
  '[4~': 'end',
  '[8~': 'end',
  '[3~': 'delete',
  '[1;5C': 'word-right',
  '[1;5D': 'word-left',
  b: 'word-left',
  f: 'word-right',
}

/**
 * Splits terminal input into keys. Stateful: an escape sequence or UTF-8 character split across
 * two writes is completed by the next one. `\r\n` counts as one Enter.
 */
export class KeyDecoder {
  readonly #text = new TextDecoder()
  #pending = ''
  #lastCr = false

  decode(data: Uint8Array | string): Key[] {
    const s = this.#pending + (typeof data === 'string' ? data : this.#text.decode(data, { stream: true }))
    this.#pending = ''
    const keys: Key[] = []
    let text = ''
    const flush = () => {
      if (text) keys.push({ type: 'text', text })
      text = ''
    }
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i)
      if (c === 0x0a && this.#lastCr) {
        this.#lastCr = false
        continue
      }
      this.#lastCr = c === 0x0d
      if (c === 0x1b) {
        flush()
        const rest = s.slice(i + 1)
        if (rest === '') {
          // a lone ESC at the end of a chunk may be the start of a sequence
          this.#pending = '\x1b'
          break
        }
        const m = /^(\[[0-9;]*[A-Za-z~]|O[A-Za-z]|[bf])/.exec(rest)
        if (m) {
          keys.push({ type: SEQUENCES[m[1]!] ?? 'ignored' })
          i += m[1]!.length
        } else if (/^(\[[0-9;]*|O)$/.test(rest)) {
          this.#pending = `\x1b${rest}`
          break
        } else keys.push({ type: 'ignored' })
        continue
      }
      const ctl = CONTROL[c]
      if (ctl) {
        flush()
        keys.push({ type: ctl })
      } else if (c < 0x20) {
        flush()
        keys.push({ type: 'ignored' })
      } else text += s[i]
    }
    flush()
    return keys
  }
}

/** Bytes for a key in raw mode. */
export function keyBytes(key: Key): string | undefined {
  switch (key.type) {
    case 'text':
      return key.text
    case 'enter':
      return '\n'
    case 'backspace':
      return '\x7f'
    case 'tab':
      return '\t'
    case 'up':
      return '\x1b[A'
    case 'down':
      return '\x1b[B'
    case 'right':
      return '\x1b[C'
    case 'left':
      return '\x1b[D'
    default: {
      // a control key in raw mode is its byte (Ctrl-Z: 0x1a), as a TTY without ISIG passes it
      if (!key.type.startsWith('ctrl-')) return undefined
      const code = Number(Object.keys(CONTROL).find((c) => CONTROL[Number(c)] === key.type))
      return Number.isFinite(code) ? String.fromCharCode(code) : undefined
    }
  }
}
