/** Counts permits; waiters queue in order. Bounds concurrent compiles and concurrent programs. */
export class Semaphore {
  #free: number
  #queue: (() => void)[] = []
  constructor(permits: number) {
    this.#free = permits
  }
  /** Resolves once a permit is free, with the function that gives it back (once). */
  async acquire(): Promise<() => void> {
    if (this.#free > 0) this.#free--
    else await new Promise<void>((resolve) => this.#queue.push(resolve))
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.#queue.shift()
      if (next) next()
      else this.#free++
    }
  }
}
