/**
 * The browser runner's side of the terminal panel (docs/runners.md, "The browser runner"): the
 * same `Connection` the server's WebSocket session offers (connection.ts), over a shell worker in
 * this tab. After the project's files are fetched (once, HTTP-cached), a session makes no request.
 */
import type { CommandPolicy } from '@shellfolio/runner'
import type { FromBrowserShell, ToBrowserShell } from '@shellfolio/runner/browser'
import type { Connection, ConnectionEvents, SessionInfo } from '../connection.ts'

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
    const worker = new Worker(new URL('./shell-worker.ts', import.meta.url), { type: 'module', name: 'shell' })
    this.#worker = worker
    let started = false
    worker.onmessage = (ev: MessageEvent<FromBrowserShell>) => {
      if (worker !== this.#worker) return
      const m = ev.data
      switch (m.type) {
        case 'loaded':
          this.loaded = { bytes: m.bytes, ms: m.ms }
          break
        case 'out':
          if (!started) {
            started = true
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
    worker.onerror = (ev) => {
      this.events.state('failed', { message: ev.message || 'the browser runner could not start' })
      this.#stop()
    }
    this.#send({
      type: 'init',
      slug: this.project,
      policy: this.policy,
      size: this.#size,
      filesUrl: `/api/v1/projects/${encodeURIComponent(this.project)}/files`,
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
