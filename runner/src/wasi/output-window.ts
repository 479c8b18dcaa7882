/** Largest output message: small chunks are coalesced up to this. */
const CHUNK = 64 * 1024

/**
 * Output towards the session (the session host's parent, or the page for the browser runner): at
 * most `window` bytes unacknowledged; the rest waits here (docs/budgets.md).
 */
export class OutputWindow {
  readonly #queue: Uint8Array[] = []
  #queued = 0
  #unacked = 0
  #waiters: (() => void)[] = []

  constructor(
    readonly window: number,
    readonly send: (bytes: Uint8Array) => void,
  ) {}

  write(bytes: Uint8Array): void {
    if (bytes.length === 0) return
    this.#queue.push(bytes)
    this.#queued += bytes.length
    this.#pump()
  }

  /** Program output: resolves once the queue is below the window again (the program waits). */
  async writeAsync(bytes: Uint8Array): Promise<void> {
    this.write(bytes)
    while (this.#queued > this.window) await new Promise<void>((resolve) => this.#waiters.push(resolve))
  }

  ack(bytes: number): void {
    this.#unacked -= bytes
    this.#pump()
  }

  #pump(): void {
    while (this.#queue.length > 0 && this.#unacked < this.window) {
      // why: with a message in flight, small writes gather until its ack (or a full chunk), so a
      // flood of small writes becomes few large messages while a lone keystroke echo goes at once
      if (this.#unacked > 0 && this.#queued < CHUNK) break
      let size = 0
      let n = 0
      while (n < this.#queue.length && (n === 0 || size + this.#queue[n]!.length <= CHUNK)) {
        size += this.#queue[n]!.length
        n++
      }
      const parts = this.#queue.splice(0, n)
      let bytes = parts[0]!
      if (n > 1) {
        bytes = new Uint8Array(size)
        let at = 0
        for (const p of parts) {
          bytes.set(p, at)
          at += p.length
        }
      }
      this.#queued -= size
      this.#unacked += size
      this.send(bytes)
    }
    if (this.#queued <= this.window) {
      const waiters = this.#waiters
      this.#waiters = []
      for (const w of waiters) w()
    }
  }
}
