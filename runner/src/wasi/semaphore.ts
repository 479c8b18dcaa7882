/** Counts permits; waiters queue in order. Bounds concurrent compiles and concurrent programs. */
export class Semaphore {
  #free: number
  #queue: (() => void)[] = []
  constructor(permits: number) {
    this.#free = permits
  }

  /** Waiters queued for a permit. */
  get waiting(): number {
    return this.#queue.length
  }

  /**
   * Resolves once a permit is free, with the function that gives it back (once). With `signal`,
   * a waiter that is aborted leaves the queue and the promise rejects with the signal's reason.
   */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted()
    if (this.#free > 0) this.#free--
    else {
      await new Promise<void>((resolve, reject) => {
        const grant = () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        }
        const onAbort = () => {
          const i = this.#queue.indexOf(grant)
          if (i >= 0) this.#queue.splice(i, 1)
          reject(signal?.reason)
        }
        this.#queue.push(grant)
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    }
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
