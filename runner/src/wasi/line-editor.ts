/**
 * A readline-like line editor over decoded keys (keys.ts). The terminal is software: nothing
 * echoes unless this code writes it, so every keystroke's effect is drawn here.
 */
import type { Key } from './keys.ts'

/** Longest line the prompt accepts, in characters (Linux's MAX_CANON); more input rings the bell. docs/budgets.md */
export const MAX_LINE = 4096
/** History entries kept (each at most MAX_LINE). docs/budgets.md */
export const MAX_HISTORY = 200

/** Visible width of a string with ANSI escapes removed (one column per code point). */
export function visibleLength(s: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal escapes on purpose
  return [...s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')].length
}

export interface Completion {
  /** Index in the line where the completed word starts. */
  start: number
  /** Candidate replacements for line.slice(start, cursor), e.g. `src/` or `main.c `. */
  candidates: string[]
}

export interface LineEditorOptions {
  write: (text: string) => void
  prompt: () => string
  columns: () => number
  complete?: (line: string, cursor: number) => Completion
}

export type EditResult = { type: 'submit'; line: string } | { type: 'eof' } | { type: 'interrupt' } | null

/** A single-line editor with history; `\r\n` line endings on output. */
export class LineEditor {
  line: string[] = []
  cursor = 0
  readonly history: string[] = []
  #historyIndex = 0
  #draft: string[] = []
  /** Row of the cursor relative to the prompt's first row, for redraws over wrapped lines. */
  #cursorRow = 0
  #lastTab = false

  constructor(readonly options: LineEditorOptions) {}

  get text(): string {
    return this.line.join('')
  }

  /** Starts a fresh line: prints the prompt. */
  start(): void {
    this.line = []
    this.cursor = 0
    this.#historyIndex = this.history.length
    this.#cursorRow = 0
    this.options.write(this.options.prompt())
  }

  addHistory(line: string): void {
    if (line.trim() && this.history.at(-1) !== line) this.history.push(line.slice(0, MAX_LINE))
    while (this.history.length > MAX_HISTORY) this.history.shift()
  }

  handle(key: Key): EditResult {
    const tab = key.type === 'tab'
    const wasTab = this.#lastTab
    this.#lastTab = tab
    switch (key.type) {
      case 'text':
        return this.#insert(key.text)
      case 'enter': {
        const line = this.text
        this.#moveToEnd()
        this.options.write('\r\n')
        return { type: 'submit', line }
      }
      case 'ctrl-c':
        this.#moveToEnd()
        this.options.write('^C\r\n')
        return { type: 'interrupt' }
      case 'ctrl-d':
        if (this.line.length === 0) return { type: 'eof' }
        return this.#deleteAt(this.cursor)
      case 'backspace':
        if (this.cursor === 0) return null
        this.cursor--
        return this.#deleteAt(this.cursor)
      case 'delete':
        return this.#deleteAt(this.cursor)
      case 'left':
      case 'ctrl-b':
        if (this.cursor > 0) this.#moveTo(this.cursor - 1)
        return null
      case 'right':
      case 'ctrl-f':
        if (this.cursor < this.line.length) this.#moveTo(this.cursor + 1)
        return null
      case 'home':
      case 'ctrl-a':
        this.#moveTo(0)
        return null
      case 'end':
      case 'ctrl-e':
        this.#moveTo(this.line.length)
        return null
      case 'word-left':
        this.#moveTo(this.#wordStart())
        return null
      case 'word-right': {
        let i = this.cursor
        while (i < this.line.length && this.line[i] === ' ') i++
        while (i < this.line.length && this.line[i] !== ' ') i++
        this.#moveTo(i)
        return null
      }
      case 'ctrl-u':
        this.line.splice(0, this.cursor)
        this.cursor = 0
        this.#refresh()
        return null
      case 'ctrl-k':
        this.line.splice(this.cursor)
        this.#refresh()
        return null
      case 'ctrl-w': {
        const start = this.#wordStart()
        this.line.splice(start, this.cursor - start)
        this.cursor = start
        this.#refresh()
        return null
      }
      case 'ctrl-l':
        this.options.write('\x1b[H\x1b[2J')
        this.#cursorRow = 0
        this.options.write(this.options.prompt())
        this.#cursorRow = 0
        this.#refresh(true)
        return null
      case 'up':
      case 'ctrl-p':
        this.#recall(-1)
        return null
      case 'down':
      case 'ctrl-n':
        this.#recall(1)
        return null
      case 'tab':
        this.#complete(wasTab)
        return null
      default:
        return null
    }
  }

  #wordStart(): number {
    let i = this.cursor
    while (i > 0 && this.line[i - 1] === ' ') i--
    while (i > 0 && this.line[i - 1] !== ' ') i--
    return i
  }

  #insert(text: string): EditResult {
    const room = MAX_LINE - this.line.length
    if (room <= 0) {
      this.options.write('\x07')
      return null
    }
    // why: never `splice(i, 0, ...chars)`: spreading a pasted megabyte overflows the stack
    let chars = Array.from(text.length > room * 2 ? text.slice(0, room * 2) : text)
    let bell = false
    if (chars.length > room) {
      chars = chars.slice(0, room)
      bell = true
    }
    const atEnd = this.cursor === this.line.length
    this.line = atEnd
      ? this.line.concat(chars)
      : this.line.slice(0, this.cursor).concat(chars, this.line.slice(this.cursor))
    this.cursor += chars.length
    if (atEnd) {
      // fast path: the common case of typing at the end is a plain echo
      this.options.write(chars.join('') + (bell ? '\x07' : ''))
      this.#fixWrap()
      this.#cursorRow = this.#rowOf(this.cursor)
    } else {
      this.#refresh()
      if (bell) this.options.write('\x07')
    }
    return null
  }

  #deleteAt(index: number): EditResult {
    if (index < 0 || index >= this.line.length) {
      this.#refresh()
      return null
    }
    this.line.splice(index, 1)
    this.#refresh()
    return null
  }

  #recall(step: number): void {
    const next = this.#historyIndex + step
    if (next < 0 || next > this.history.length) return
    if (this.#historyIndex === this.history.length) this.#draft = this.line
    this.#historyIndex = next
    this.line = next === this.history.length ? this.#draft : [...this.history[next]!]
    this.cursor = this.line.length
    this.#refresh()
  }

  #complete(listOnAmbiguity: boolean): void {
    const complete = this.options.complete
    if (!complete) return
    const text = this.text
    const cursorIndex = this.line.slice(0, this.cursor).join('').length
    const { start, candidates } = complete(text, cursorIndex)
    if (candidates.length === 0) {
      this.options.write('\x07')
      return
    }
    const typed = text.slice(start, cursorIndex)
    const common = commonPrefix(candidates)
    if (common.length > typed.length) {
      this.#insert(common.slice(typed.length))
      return
    }
    if (candidates.length === 1) return
    if (!listOnAmbiguity) {
      this.options.write('\x07')
      return
    }
    this.#moveToEnd()
    this.options.write(`\r\n${columns(candidates.map(displayName), this.options.columns())}`)
    this.#cursorRow = 0
    this.options.write(this.options.prompt())
    this.#refresh(true)
  }

  #promptWidth(): number {
    return visibleLength(this.options.prompt())
  }

  #rowOf(index: number): number {
    return Math.floor((this.#promptWidth() + index) / Math.max(1, this.options.columns()))
  }

  /** why: at the last column a terminal defers the wrap; force it so row arithmetic holds. */
  #fixWrap(): void {
    const cols = Math.max(1, this.options.columns())
    const width = this.#promptWidth() + this.line.length
    if (this.cursor === this.line.length && width > 0 && width % cols === 0) this.options.write(' \r')
  }

  /** Moves the cursor with a few CSI bytes, whatever the distance (no redraw: Home/End stay O(1)). */
  #moveTo(index: number): void {
    const fromRow = this.#rowOf(this.cursor)
    const toRow = this.#rowOf(index)
    if (toRow !== fromRow) {
      const cols = Math.max(1, this.options.columns())
      const col = (this.#promptWidth() + index) % cols
      let out = toRow < fromRow ? `\x1b[${fromRow - toRow}A` : `\x1b[${toRow - fromRow}B`
      out += '\r'
      if (col > 0) out += `\x1b[${col}C`
      this.options.write(out)
      this.cursor = index
      this.#cursorRow = toRow
      return
    }
    const delta = index - this.cursor
    if (delta < 0) this.options.write(`\x1b[${-delta}D`)
    else if (delta > 0) this.options.write(`\x1b[${delta}C`)
    this.cursor = index
  }

  #moveToEnd(): void {
    if (this.cursor !== this.line.length) this.#moveTo(this.line.length)
  }

  /** Redraws prompt and line, then places the cursor. `fromPrompt`: the prompt is already drawn. */
  #refresh(fromPrompt = false): void {
    const cols = Math.max(1, this.options.columns())
    let out = ''
    if (!fromPrompt) {
      if (this.#cursorRow > 0) out += `\x1b[${this.#cursorRow}A`
      out += `\r${this.options.prompt()}`
    }
    out += `${this.text}\x1b[J`
    const promptWidth = this.#promptWidth()
    const endWidth = promptWidth + this.line.length
    if (endWidth > 0 && endWidth % cols === 0) out += ' \r'
    const endRow = Math.floor(endWidth / cols)
    const target = promptWidth + this.cursor
    const row = Math.floor(target / cols)
    const col = target % cols
    if (endRow > row) out += `\x1b[${endRow - row}A`
    out += '\r'
    if (col > 0) out += `\x1b[${col}C`
    this.options.write(out)
    this.#cursorRow = row
  }
}

export function commonPrefix(words: string[]): string {
  if (words.length === 0) return ''
  let prefix = words[0]!
  for (const w of words) {
    while (!w.startsWith(prefix)) prefix = prefix.slice(0, -1)
  }
  return prefix
}

function displayName(candidate: string): string {
  const trimmed = candidate.endsWith(' ') ? candidate.slice(0, -1) : candidate
  const slash = trimmed.lastIndexOf('/', trimmed.length - 2)
  return trimmed.slice(slash + 1)
}

/** Lays names out in columns like `ls`, `\r\n`-terminated. */
export function columns(names: string[], width: number, colour?: (name: string) => string): string {
  if (names.length === 0) return ''
  const w = Math.max(...names.map((n) => [...n].length)) + 2
  const perRow = Math.max(1, Math.floor(width / w))
  const rows = Math.ceil(names.length / perRow)
  let out = ''
  for (let r = 0; r < rows; r++) {
    let line = ''
    for (let c = 0; c < perRow; c++) {
      const name = names[c * rows + r]
      if (name === undefined) continue
      const isLast = (c + 1) * rows + r >= names.length
      const shown = colour ? colour(name) : name
      line += isLast ? shown : shown + ' '.repeat(w - [...name].length)
    }
    out += `${line}\r\n`
  }
  return out
}
