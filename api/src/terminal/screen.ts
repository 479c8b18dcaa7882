import { type ITerminalAddon, Terminal } from '@xterm/headless'

/** What the API uses of @xterm/addon-serialize (docs/terminal-protocol.md, Resume). */
interface Serializer extends ITerminalAddon {
  serialize(options?: { scrollback?: number }): string
}
/**
 * Loaded untyped: the addon's typings import @xterm/xterm's, which bring the DOM library into the
 * API's types (Bun's ReadableStream and Blob types then clash).
 */
const { SerializeAddon } = require('@xterm/addon-serialize') as { SerializeAddon: new () => Serializer }

/**
 * The screen of one session as the visitor's terminal shows it, kept by a headless xterm.js fed
 * the session's output (docs/terminal-protocol.md, Resume). A resume replays its serialization
 * (normal buffer with its scrollback, the alternate screen, cursor, modes), so a full-screen
 * program (`life`, an editor) comes back as it was instead of as a garbled replay of raw bytes.
 *
 * Budgets (docs/budgets.md, terminal screen): xterm keeps 12 bytes per cell, so the scrollback is
 * bounded in cells rather than lines, the screen's own size is capped, and output the parser has
 * not caught up with is capped too. A screen without output for SCREEN_HIBERNATE_MS keeps only its
 * serialization and frees its terminal; the next output revives it from that serialization.
 */

/** Scrollback cells kept behind the viewport: 500 lines at 80 columns, 200 at 200. */
export const SCROLLBACK_CELLS = 40_000
/** Scrollback lines whatever the width: at least this many (narrow phones), at most that many. */
export const SCROLLBACK_LINES = { min: 100, max: 1000 }
/**
 * The screen never grows past this (the protocol allows 1000×1000, i.e. 12 MB a buffer); a larger
 * terminal still works, its replay wraps at these bounds.
 */
export const SCREEN_MAX = { cols: 400, rows: 200 }
/** Output written but not parsed yet above which the screen drops output and starts over. */
export const SCREEN_BACKLOG_BYTES = 8 * 1024 * 1024
/**
 * A screen without output for this long is kept serialized (what a resume sends anyway) and its
 * terminal freed: an idle xterm costs ~150 KiB before any line, its serialization a few KiB.
 */
export const SCREEN_HIBERNATE_MS = 5000
/** The serialized state of a hibernating screen, at most (history lines are left out to fit). */
export const SCREEN_FROZEN_BYTES = 256 * 1024

export interface ScreenSize {
  cols: number
  rows: number
}

const encoder = new TextEncoder()
/** RIS: what the screen starts over with after dropping output. */
const RESET = encoder.encode('\x1bc')

const clampSize = (size: ScreenSize): ScreenSize => ({
  cols: Math.max(1, Math.min(SCREEN_MAX.cols, Math.floor(size.cols))),
  rows: Math.max(1, Math.min(SCREEN_MAX.rows, Math.floor(size.rows))),
})

/** Scrollback lines for a screen `cols` wide (SCROLLBACK_CELLS, within SCROLLBACK_LINES). */
export const scrollbackLines = (cols: number): number =>
  Math.max(SCROLLBACK_LINES.min, Math.min(SCROLLBACK_LINES.max, Math.floor(SCROLLBACK_CELLS / cols)))

export class TerminalScreen {
  /** The live terminal; null while hibernating (then `frozen` holds its state). */
  private term: Terminal | null = null
  private serializer: Serializer | null = null
  private frozen: Uint8Array | null = null
  private size: ScreenSize
  /** Bytes written and not parsed yet. */
  private backlog = 0
  /** Output was dropped over the backlog cap: start over once the parser caught up. */
  private dropped = false
  private disposed = false
  private lastWrite = 0
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(
    size: ScreenSize,
    private readonly hibernateMs = SCREEN_HIBERNATE_MS,
  ) {
    this.size = clampSize(size)
    this.wake()
  }

  get cols(): number {
    return this.size.cols
  }

  get rows(): number {
    return this.size.rows
  }

  /** Bytes written but not parsed yet (xterm parses in timed slices). */
  get pendingBytes(): number {
    return this.backlog
  }

  /** True while only the serialized state is kept (no output for a while). */
  get hibernating(): boolean {
    return this.term === null && !this.disposed
  }

  /** Feeds output (raw bytes, UTF-8 split across chunks is fine); parsed soon after. */
  write(data: Uint8Array): void {
    if (this.disposed || data.length === 0) return
    this.wake()
    if (this.dropped || this.backlog + data.length > SCREEN_BACKLOG_BYTES) {
      // Flow control keeps this from happening (docs/terminal-protocol.md); should it anyway, the
      // memory stays bounded and the screen restarts from the output after the gap.
      if (this.backlog > 0) {
        this.dropped = true
        return
      }
      this.dropped = false
      this.feed(RESET)
    }
    this.feed(data)
  }

  /** Follows the session's size (within SCREEN_MAX); the scrollback budget follows the width. */
  resize(size: ScreenSize): void {
    if (this.disposed) return
    const { cols, rows } = clampSize(size)
    if (cols === this.size.cols && rows === this.size.rows) return
    // Revived at the size it was serialized at, then resized (xterm reflows).
    const term = this.wake()
    this.size = { cols, rows }
    const apply = () => {
      if (this.disposed || (cols === term.cols && rows === term.rows)) return
      term.options.scrollback = scrollbackLines(cols)
      term.resize(cols, rows)
    }
    // Output written before the resize is parsed at the old size, as the client did.
    if (this.backlog === 0) apply()
    else term.write('', apply)
  }

  /** Resolves once everything written so far is parsed. */
  flushed(): Promise<void> {
    const term = this.term
    if (this.backlog === 0 || !term) return Promise.resolve()
    return new Promise((resolve) => term.write('', resolve))
  }

  /**
   * What restores this screen when written to a reset terminal of the same size: the parsed state
   * now (call after `flushed()` to include everything written).
   */
  serialize(): Uint8Array {
    if (this.disposed) return new Uint8Array(0)
    return this.frozen ?? this.serializeLive()
  }

  /**
   * The serialized screen once everything written so far is parsed, at most `maxBytes` long:
   * history lines are left out (the oldest first) until it fits. Null when even the screen alone
   * does not fit.
   */
  async snapshot(maxBytes = Number.POSITIVE_INFINITY): Promise<Uint8Array | null> {
    if (this.frozen && this.frozen.length <= maxBytes) return this.frozen
    // Too large as it is: revive it to leave history out.
    if (this.frozen) this.wake()
    await this.flushed()
    if (this.disposed) return null
    return this.frozen && this.frozen.length <= maxBytes ? this.frozen : this.bounded(maxBytes)
  }

  /** Keeps only the serialized state and frees the terminal (done by itself after SCREEN_HIBERNATE_MS without output). */
  hibernate(): boolean {
    if (!this.term || this.backlog > 0 || this.disposed) return false
    const state = this.bounded(SCREEN_FROZEN_BYTES)
    this.frozen = state ?? RESET
    this.term.dispose()
    this.term = null
    this.serializer = null
    clearTimeout(this.timer)
    this.timer = undefined
    return true
  }

  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    clearTimeout(this.timer)
    this.term?.dispose()
    this.term = null
    this.serializer = null
    this.frozen = null
  }

  /** The live terminal's state (all of its history, or the last `scrollback` lines of it). */
  private serializeLive(scrollback?: number): Uint8Array {
    if (!this.serializer) return new Uint8Array(0)
    return encoder.encode(this.serializer.serialize(scrollback === undefined ? {} : { scrollback }))
  }

  /** The live terminal's state within `maxBytes` (history left out to fit); null when it cannot fit. */
  private bounded(maxBytes: number): Uint8Array | null {
    let lines: number | undefined
    for (;;) {
      const out = this.serializeLive(lines)
      if (out.length <= maxBytes) return out
      const term = this.term as Terminal
      const held = lines ?? term.buffer.normal.length - term.rows
      if (held <= 0) return null
      lines = Math.floor(held / 2)
    }
  }

  /** The live terminal, revived from the serialized state when hibernating. */
  private wake(): Terminal {
    if (this.term) return this.term
    const { cols, rows } = this.size
    const term = new Terminal({ cols, rows, scrollback: scrollbackLines(cols), allowProposedApi: true })
    const serializer = new SerializeAddon()
    term.loadAddon(serializer)
    this.term = term
    this.serializer = serializer
    const frozen = this.frozen
    this.frozen = null
    if (frozen) this.feed(frozen)
    return term
  }

  private feed(data: Uint8Array): void {
    const term = this.term as Terminal
    this.backlog += data.length
    term.write(data, () => {
      this.backlog -= data.length
    })
    this.lastWrite = performance.now()
    if (!this.timer && Number.isFinite(this.hibernateMs)) this.arm(this.hibernateMs)
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined
      const quiet = performance.now() - this.lastWrite
      if (quiet < this.hibernateMs) this.arm(this.hibernateMs - quiet)
      else if (!this.hibernate() && this.term) this.arm(this.hibernateMs)
    }, ms)
    this.timer.unref?.()
  }
}
