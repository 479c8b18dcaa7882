import {
  type ExitInfo,
  type ExitReason,
  type OpenOptions,
  type Runner,
  RunnerError,
  type RunnerKind,
  type RunnerSession,
  type TerminalSize,
} from '../types.ts'
import { type ClientFrame, HEALTH_PATH, type HealthBody, SESSIONS_PATH, type ServerFrame } from './protocol.ts'

export interface RemoteRunnerOptions {
  /** Runner services, `ws://host:port` or `wss://…`; sessions are spread over those that answer. */
  urls: string[]
  /** Shared secret (RUNNER_TOKEN). */
  token: string
  kind: RunnerKind
  /** How long opening a session may take (default 60 s: a cold container). */
  openTimeoutMs?: number
}

const httpOf = (url: string) => url.replace(/^ws/, 'http').replace(/\/$/, '')

/** A session that lives on a runner service; the same interface as a local one. */
class RemoteSession implements RunnerSession {
  id = ''
  private readonly listeners = new Set<(chunk: Uint8Array) => void>()
  /** Output that arrived before anyone listened (as local runners keep it). */
  private unheard: Uint8Array[] = []
  private finish!: (info: ExitInfo) => void
  private ended = false
  readonly exited: Promise<ExitInfo>

  constructor(
    readonly kind: RunnerKind,
    private readonly ws: WebSocket,
  ) {
    this.exited = new Promise((resolve) => {
      this.finish = resolve
    })
  }

  /** @internal */
  output(chunk: Uint8Array): void {
    if (this.listeners.size === 0) this.unheard.push(chunk)
    for (const l of this.listeners) l(chunk)
  }

  /** @internal */
  end(info: ExitInfo): void {
    if (this.ended) return
    this.ended = true
    this.finish(info)
    if (this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000, 'session ended')
  }

  private frame(f: ClientFrame): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(f))
  }

  write(data: Uint8Array | string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return
    this.ws.send(typeof data === 'string' ? new TextEncoder().encode(data) : data)
  }

  async resize(size: TerminalSize): Promise<void> {
    this.frame({ type: 'resize', cols: size.cols, rows: size.rows })
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    this.listeners.add(listener)
    for (const chunk of this.unheard.splice(0)) listener(chunk)
    return () => this.listeners.delete(listener)
  }

  pause(): void {
    this.frame({ type: 'pause' })
  }

  resume(): void {
    this.frame({ type: 'resume' })
  }

  async kill(reason: ExitReason = 'killed'): Promise<void> {
    if (this.ended) return
    if (this.ws.readyState === WebSocket.OPEN) this.frame({ type: 'kill', reason })
    else this.end({ code: null, reason })
    await this.exited
  }
}

/**
 * A Runner whose sessions run on runner services (`bun run runner`) reached over an internal,
 * authenticated WebSocket: the API then needs no Docker access at all.
 */
export function createRemoteRunner(options: RemoteRunnerOptions): Runner {
  const { token, kind } = options
  const sessions = new Set<RemoteSession>()
  let up: string[] = []
  let next = 0
  let closed = false

  const health = async (url: string): Promise<boolean> => {
    try {
      const res = await fetch(`${httpOf(url)}${HEALTH_PATH}`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(3000),
      })
      if (!res.ok) return false
      return ((await res.json()) as HealthBody).kinds[kind] === true
    } catch {
      return false
    }
  }

  const connect = (url: string, open: OpenOptions) =>
    new Promise<RemoteSession>((resolve, reject) => {
      // Bun's WebSocket client can send headers: the token never travels in the URL.
      const ws = new WebSocket(`${url.replace(/\/$/, '')}${SESSIONS_PATH}`, {
        headers: { authorization: `Bearer ${token}` },
      } as unknown as string[])
      ws.binaryType = 'arraybuffer'
      const session = new RemoteSession(kind, ws)
      let opened = false
      const timer = setTimeout(() => {
        ws.close()
        reject(new RunnerError('RUNNER_TIMEOUT', `the runner service at ${url} did not open a session in time`))
      }, options.openTimeoutMs ?? 60_000)
      ws.addEventListener('open', () =>
        ws.send(JSON.stringify({ type: 'open', kind, options: open } satisfies ClientFrame)),
      )
      ws.addEventListener('message', (ev) => {
        if (typeof ev.data !== 'string') {
          session.output(new Uint8Array(ev.data as ArrayBuffer))
          return
        }
        const frame = JSON.parse(ev.data) as ServerFrame
        if (frame.type === 'opened') {
          opened = true
          clearTimeout(timer)
          session.id = frame.id
          sessions.add(session)
          resolve(session)
        } else if (frame.type === 'error') {
          clearTimeout(timer)
          reject(new RunnerError(frame.code, frame.message))
          ws.close()
        } else if (frame.type === 'exit') session.end(frame.info)
      })
      ws.addEventListener('close', () => {
        clearTimeout(timer)
        sessions.delete(session)
        if (!opened) reject(new RunnerError('RUNNER_UNREACHABLE', `the runner service at ${url} refused or closed`))
        else session.end({ code: null, reason: 'error', message: 'the connection to the runner service was lost' })
      })
    })

  return {
    kind,
    async available() {
      if (closed) return false
      const states = await Promise.all(options.urls.map(health))
      up = options.urls.filter((_, i) => states[i])
      return up.length > 0
    },
    async open(open) {
      if (closed) throw new RunnerError('RUNNER_CLOSED', 'the remote runner is closed')
      const candidates = up.length > 0 ? up : options.urls
      // Round robin over the services that answered the last probe; fall through to the next on failure.
      let lastError: unknown
      for (let i = 0; i < candidates.length; i++) {
        const url = candidates[next++ % candidates.length] as string
        try {
          return await connect(url, open)
        } catch (err) {
          lastError = err
          if (err instanceof RunnerError && err.code !== 'RUNNER_UNREACHABLE' && err.code !== 'RUNNER_TIMEOUT')
            throw err
        }
      }
      throw lastError instanceof Error ? lastError : new RunnerError('RUNNER_UNREACHABLE', 'no runner service answered')
    },
    async close() {
      closed = true
      await Promise.all([...sessions].map((s) => s.kill()))
    },
  }
}
