/**
 * The raw-byte scrollback sessions replayed on resume before the headless screen (screen.ts) took
 * over; kept as the baseline of api/bench/screen.bench.ts. A bounded buffer of raw bytes that, when trimmed,
 * only ever starts at a clean point: outside any escape sequence and on a UTF-8 character boundary
 * (a replay that starts inside `ESC [ 3 8 ; 5 ; …` or a multi-byte character shows garbage).
 */

const ESC = 0x1b
const LF = 0x0a

/** Parser states of a reduced VT500 machine: enough to know whether we are inside a sequence. */
enum State {
  Ground,
  Escape,
  Csi,
  /** OSC, DCS, SOS, PM, APC: a string ended by BEL (OSC) or ST (ESC \). */
  Str,
  StrEscape,
}

/**
 * Clean points are recorded at line starts (at most one per 64 bytes), or every 4 KiB when there is
 * no newline: this bounds both their number and the extra bytes a trim drops.
 */
const SAFE_POINT_SPACING = 4096
const LINE_POINT_SPACING = 64

export class Scrollback {
  private chunks: { start: number; data: Uint8Array }[] = []
  /** Absolute stream offsets (ascending) where a replay may start. */
  private safe: number[] = [0]
  private end = 0
  private begin = 0
  private state = State.Ground
  private utf8Pending = 0
  private lastSafe = 0
  private beginClean = true
  private lastByte = LF

  constructor(readonly capacity: number) {}

  /** Total bytes written since the session started. */
  get written(): number {
    return this.end
  }

  /** Bytes currently held. */
  get size(): number {
    return this.end - this.begin
  }

  append(data: Uint8Array): void {
    if (data.length === 0) return
    const base = this.end
    for (let i = 0; i < data.length; i++) {
      const at = base + i
      if (this.state === State.Ground && this.utf8Pending === 0) {
        const prev = i > 0 ? data[i - 1] : this.lastByte
        const gap = at - this.lastSafe
        if (gap >= SAFE_POINT_SPACING || (prev === LF && gap >= LINE_POINT_SPACING)) {
          this.safe.push(at)
          this.lastSafe = at
        }
      }
      this.step(data[i] as number)
    }
    this.lastByte = data[data.length - 1] as number
    this.chunks.push({ start: base, data })
    this.end += data.length
    this.trim()
  }

  /** The held bytes (at most `maxBytes` of the most recent), starting at a clean point. */
  snapshot(maxBytes = this.capacity): Uint8Array {
    // After a trim that landed inside a sequence, the replay waits for the next clean point.
    const from = Math.max(this.begin, this.end - maxBytes)
    const begin = from === this.begin && this.beginClean ? this.begin : (this.safe.find((p) => p >= from) ?? this.end)
    const out = new Uint8Array(this.end - begin)
    let at = 0
    for (const c of this.chunks) {
      if (c.start + c.data.length <= begin) continue
      const from = Math.max(0, begin - c.start)
      out.set(from > 0 ? c.data.subarray(from) : c.data, at)
      at += c.data.length - from
    }
    return out
  }

  private trim(): void {
    if (this.size <= this.capacity) return
    const needed = this.end - this.capacity
    // The first clean point at or after `needed`; when none is held yet, drop everything (the
    // next clean point is where the replay will start).
    let idx = this.safe.findIndex((p) => p >= needed)
    const cut = idx === -1 ? this.end : (this.safe[idx] as number)
    if (idx === -1) idx = this.safe.length
    this.safe = this.safe.slice(idx)
    this.begin = cut
    while (this.chunks.length > 0) {
      const first = this.chunks[0] as { start: number; data: Uint8Array }
      if (first.start + first.data.length <= cut) this.chunks.shift()
      else break
    }
    this.beginClean = cut !== this.end || (this.state === State.Ground && this.utf8Pending === 0)
    // Nothing clean is held: record the next clean point as soon as there is one.
    if (this.safe.length === 0) this.lastSafe = -SAFE_POINT_SPACING
  }

  private step(b: number): void {
    if (b === 0x18 || b === 0x1a) {
      // CAN / SUB abort any sequence.
      this.state = State.Ground
      this.utf8Pending = 0
      return
    }
    switch (this.state) {
      case State.Ground:
        if (b === ESC) {
          this.state = State.Escape
          this.utf8Pending = 0
        } else if (b >= 0x80) {
          if (b < 0xc0) this.utf8Pending = Math.max(0, this.utf8Pending - 1)
          else if (b < 0xe0) this.utf8Pending = 1
          else if (b < 0xf0) this.utf8Pending = 2
          else if (b < 0xf8) this.utf8Pending = 3
          else this.utf8Pending = 0
        } else this.utf8Pending = 0
        return
      case State.Escape:
        this.escape(b)
        return
      case State.Csi:
        if (b === ESC) this.state = State.Escape
        else if (b >= 0x40 && b <= 0x7e) this.state = State.Ground
        return
      case State.Str:
        if (b === 0x07) this.state = State.Ground
        else if (b === ESC) this.state = State.StrEscape
        return
      case State.StrEscape:
        if (b === 0x5c) this.state = State.Ground
        else this.escape(b)
        return
    }
  }

  private escape(b: number): void {
    if (b === 0x5b)
      this.state = State.Csi // [
    else if (b === 0x5d || b === 0x50 || b === 0x58 || b === 0x5e || b === 0x5f)
      this.state = State.Str // ] P X ^ _
    else if (b === ESC) this.state = State.Escape
    else if (b >= 0x20 && b <= 0x2f)
      this.state = State.Escape // intermediates
    else this.state = State.Ground
  }
}
