/**
 * asciicast v2 recorder (https://docs.asciinema.org/manual/asciicast/v2/): a JSON header line, then
 * one JSON array per event: `[seconds, "o", text]` for output, `[seconds, "r", "COLSxROWS"]` for a
 * resize. The size is capped; reaching the cap adds a final `"m"` (marker) event and stops.
 */

export const ASCIICAST_CONTENT_TYPE = 'application/x-asciicast'

export interface RecordingHeader {
  version: 2
  width: number
  height: number
  timestamp: number
  title?: string
  env: { TERM: string }
}

export class AsciicastRecorder {
  private readonly lines: string[] = []
  private readonly decoder = new TextDecoder('utf-8')
  private readonly started: number
  private bytes: number
  private full = false
  /** Output bytes seen (recorded or not). */
  bytesOut = 0
  /** The lines the visitor submitted (what "Continue live" re-runs, docs/api.md "Replays"). */
  readonly commands = new CommandLines()

  constructor(
    size: { cols: number; rows: number },
    private readonly limitBytes: number,
    options: { title?: string; now?: () => number } = {},
  ) {
    this.now = options.now ?? Date.now
    this.started = this.now()
    const header: RecordingHeader = {
      version: 2,
      width: size.cols,
      height: size.rows,
      timestamp: Math.floor(this.started / 1000),
      ...(options.title ? { title: options.title } : {}),
      env: { TERM: 'xterm-256color' },
    }
    const line = JSON.stringify(header)
    this.lines.push(line)
    this.bytes = Buffer.byteLength(line) + 1
  }

  private readonly now: () => number

  /** True once the size cap was reached. */
  get truncated(): boolean {
    return this.full
  }

  get size(): number {
    return this.bytes
  }

  output(chunk: Uint8Array): void {
    this.bytesOut += chunk.length
    if (this.full) return
    // Streaming decode: a character split across chunks is emitted whole with the later chunk.
    const text = this.decoder.decode(chunk, { stream: true })
    if (text) this.event('o', text)
  }

  /** Input the session took (keystrokes): only the submitted lines are kept, not the keystrokes. */
  input(chunk: Uint8Array): void {
    this.commands.feed(chunk)
  }

  resize(cols: number, rows: number): void {
    if (!this.full) this.event('r', `${cols}x${rows}`)
  }

  /** The whole file (header + events, newline-terminated). */
  toBytes(): Uint8Array {
    return new TextEncoder().encode(`${this.lines.join('\n')}\n`)
  }

  private event(type: 'o' | 'r' | 'm', data: string): void {
    const line = JSON.stringify([this.elapsed(), type, data])
    const size = Buffer.byteLength(line) + 1
    const marker = JSON.stringify([this.elapsed(), 'm', 'recording truncated: size limit reached'])
    if (this.bytes + size + Buffer.byteLength(marker) + 1 > this.limitBytes) {
      this.full = true
      this.lines.push(marker)
      this.bytes += Buffer.byteLength(marker) + 1
      return
    }
    this.lines.push(line)
    this.bytes += size
  }

  private elapsed(): number {
    return Math.round(this.now() - this.started) / 1000
  }
}

/** Parses an asciicast v2 file (used by tests and the admin viewer's checks). */
export function parseAsciicast(text: string): { header: RecordingHeader; events: [number, string, string][] } {
  const [head, ...rest] = text.split('\n').filter((l) => l.length > 0)
  if (!head) throw new Error('empty recording')
  const header = JSON.parse(head) as RecordingHeader
  if (header.version !== 2) throw new Error('not asciicast v2')
  return { header, events: rest.map((l) => JSON.parse(l) as [number, string, string]) }
}

/** At most this many submitted lines are kept per session, each cut at `COMMAND_MAX_CHARS`. */
export const COMMAND_MAX_LINES = 100
export const COMMAND_MAX_CHARS = 500

/**
 * The lines a visitor submitted, rebuilt from keystrokes as a shell's line editor would see the
 * simple ones: printable text, Backspace, Ctrl-U (erase the line), Ctrl-C (abandon it), Enter
 * (submit). A line edited with escape sequences (arrows, history, completion) cannot be rebuilt
 * faithfully and is left out; so are empty lines. Bounded (`COMMAND_MAX_LINES`, `COMMAND_MAX_CHARS`).
 */
export class CommandLines {
  readonly lines: string[] = []
  private line = ''
  private garbled = false
  private escape = false
  private readonly decoder = new TextDecoder('utf-8')

  feed(chunk: Uint8Array): void {
    if (this.lines.length >= COMMAND_MAX_LINES) return
    // why bytes, not characters: every key a visitor sends passes here, floods included; the keys
    // that edit a line are ASCII, which never occurs inside a multi-byte UTF-8 character, so text
    // is decoded a run at a time (and not at all once the line is full) (docs/budgets.md)
    let run = -1
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i] as number
      if (this.escape) {
        // An escape sequence ends with a letter or ~ (CSI/SS3 keys); the line is not rebuilt faithfully.
        if ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x7e) this.escape = false
        continue
      }
      if (b >= 0x20 && b !== 0x7f) {
        if (run < 0) run = i
        continue
      }
      if (run >= 0) this.text(chunk.subarray(run, i))
      run = -1
      if (b === 0x1b) {
        this.escape = true
        this.garbled = true
      } else if (b === 0x0d || b === 0x0a) this.submit()
      else if (b === 0x7f || b === 0x08) this.line = [...this.line].slice(0, -1).join('')
      else if (b === 0x15 || b === 0x03) {
        this.decoder.decode()
        this.line = ''
        this.garbled = false
      } else if (b === 0x09) this.garbled = true
    }
    if (run >= 0) this.text(chunk.subarray(run))
  }

  /** Printable text typed on the line, kept up to `COMMAND_MAX_CHARS`. */
  private text(bytes: Uint8Array): void {
    const room = COMMAND_MAX_CHARS - this.line.length
    if (room <= 0) return
    const text = this.decoder.decode(bytes.length > room * 4 ? bytes.subarray(0, room * 4) : bytes, { stream: true })
    this.line += text.length > room ? text.slice(0, room) : text
  }

  private submit(): void {
    this.decoder.decode() // a character cut by a full line does not spill into the next one
    const line = this.line.trim()
    if (line && !this.garbled && this.lines.length < COMMAND_MAX_LINES) this.lines.push(line)
    this.line = ''
    this.garbled = false
  }
}
