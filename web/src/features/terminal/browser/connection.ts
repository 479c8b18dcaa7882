/**
 * The browser runner's side of the terminal panel (docs/runners.md, "The browser runner"): the
 * same `Connection` the server's WebSocket session offers (connection.ts), over a shell worker in
 * this tab. After the project's files are fetched (once, HTTP-cached), a session makes no request.
 */
import type { CommandPolicy } from '@shellfolio/runner'
import type { FromBrowserShell, ToBrowserShell } from '@shellfolio/runner/browser'
import type { Connection, ConnectionEvents, SessionInfo } from '../connection.ts'

const filesUrl = (slug: string) => `/api/v1/projects/${encodeURIComponent(slug)}/files`
const spawnShell = () => new Worker(new URL('./shell-worker.ts', import.meta.url), { type: 'module', name: 'shell' })

/** A shell worker started ahead of the Start click, with what it said so far. */
interface Warm {
  slug: string
  worker: Worker
  said: FromBrowserShell[]
  failed?: string
  timer: ReturnType<typeof setTimeout>
}

/** How long a shell started ahead waits for its Start click before it is dropped (docs/budgets.md). */
export const WARM_SHELL_MS = 60_000
let warm: Warm | undefined

function dropWarm(): void {
  if (!warm) return
  clearTimeout(warm.timer)
  warm.worker.terminate()
  warm = undefined
}

/**
 * Starts the shell of `slug` before the visitor presses Start (the pointer is over the button, or
 * it has the focus): the worker's code is evaluated and the project's files fetched meanwhile, so
 * the click only shows the prompt (docs/performance.md, "Browser runner"). One at a time; dropped
 * after WARM_SHELL_MS unless a session takes it.
 */
export function prewarmBrowserShell(slug: string, policy: CommandPolicy): void {
  if (warm?.slug === slug && !warm.failed) return
  dropWarm()
  const worker = spawnShell()
  const w: Warm = { slug, worker, said: [], timer: setTimeout(dropWarm, WARM_SHELL_MS) }
  worker.onmessage = (ev: MessageEvent<FromBrowserShell>) => w.said.push(ev.data)
  worker.onerror = (ev) => {
    w.failed = ev.message || 'the browser runner could not start'
  }
  const init: ToBrowserShell = { type: 'init', slug, policy, size: { cols: 80, rows: 24 }, filesUrl: filesUrl(slug) }
  worker.postMessage(init)
  warm = w
}

/** The shell started ahead for `slug`, if any: the caller owns its worker from now on. */
function takeWarm(slug: string): Warm | undefined {
  const w = warm
  if (!w || w.slug !== slug || w.failed) {
    dropWarm()
    return undefined
  }
  clearTimeout(w.timer)
  warm = undefined
  return w
}

export class BrowserConnection implements Connection {
  embedOrigin: string | undefined
  ackedBytes = 0
  /** Bytes of the project's files and how long they took, for the status and the bench. */
  loaded: { bytes: number; ms: number } | undefined
  #worker: Worker | undefined
  #size = { cols: 80, rows: 24 }
  #unacked = 0
  #inFlight = 0

  constructor(
    private readonly project: string,
    private readonly policy: CommandPolicy,
    private readonly events: ConnectionEvents,
  ) {}

  saved(): SessionInfo | undefined {
    return undefined
  }

  forget(): void {}

  async start(): Promise<void> {
    this.close()
    this.events.state('starting', {})
    performance.mark('browser-runner:start')
    const ahead = takeWarm(this.project)
    const worker = ahead?.worker ?? spawnShell()
    this.#worker = worker
    let started = false
    const handle = (m: FromBrowserShell) => {
      if (worker !== this.#worker) return
      switch (m.type) {
        case 'loaded':
          this.loaded = { bytes: m.bytes, ms: m.ms }
          // the worker's start-up steps on this page's timeline, for the bench (docs/performance.md)
          for (const [name, at] of Object.entries(m.marks ?? {})) {
            performance.mark(`browser-runner:${name}`, { startTime: Math.max(0, at - performance.timeOrigin) })
          }
          break
        case 'out':
          if (!started) {
            started = true
            performance.mark('browser-runner:first-output')
            this.events.state('connected', {})
            this.events.ready(
              {
                sessionId: `browser-${Date.now().toString(36)}`,
                runner: 'browser',
                // no server budget applies: the tab's own session has no end time
                expiresAt: new Date(Date.now() + 365 * 24 * 3600_000).toISOString(),
              },
              false,
            )
          }
          this.#output(m.bytes)
          break
        case 'exit':
          this.events.exit(m.code, 'exit')
          this.events.state('exited', { message: 'exit' })
          this.#stop()
          break
        case 'error':
          this.events.state('failed', { message: m.message })
          this.#stop()
          break
      }
    }
    worker.onmessage = (ev: MessageEvent<FromBrowserShell>) => handle(ev.data)
    worker.onerror = (ev) => {
      this.events.state('failed', { message: ev.message || 'the browser runner could not start' })
      this.#stop()
    }
    if (ahead) {
      // started ahead at the default size: what it said so far, then this terminal's size
      for (const m of ahead.said) handle(m)
      this.#send({ type: 'resize', size: this.#size })
      return
    }
    this.#send({
      type: 'init',
      slug: this.project,
      policy: this.policy,
      size: this.#size,
      filesUrl: filesUrl(this.project),
    })
  }

  #output(bytes: Uint8Array): void {
    this.#inFlight++
    this.events.output(bytes, () => {
      this.#inFlight--
      this.#unacked += bytes.length
      if (this.#unacked >= 64 * 1024 || this.#inFlight === 0) {
        this.#send({ type: 'ack', bytes: this.#unacked })
        this.ackedBytes += this.#unacked
        this.#unacked = 0
      }
    })
  }

  #send(message: ToBrowserShell): void {
    this.#worker?.postMessage(message)
  }

  resume(): void {}

  input(data: string | Uint8Array): void {
    this.#send({ type: 'input', data })
  }

  resize(cols: number, rows: number): void {
    this.#size = { cols, rows }
    this.#send({ type: 'resize', size: this.#size })
  }

  #stop(): void {
    this.#worker?.terminate()
    this.#worker = undefined
  }

  close(): void {
    this.#stop()
    this.#unacked = 0
    this.#inFlight = 0
  }

  async share(): Promise<string> {
    throw new Error('a session running in your browser cannot be shared')
  }

  async unshare(): Promise<void> {}

  reconnectNow(): void {}
}
