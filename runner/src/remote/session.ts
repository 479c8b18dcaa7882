import type { FileDownload, FileUpload, PutFilesResult } from '../files.ts'
import { CLOSE, INTERRUPT_SLACK, interruptKeys } from '../protocol/terminal.ts'
import {
  type ExitInfo,
  type ExitReason,
  RunnerError,
  type RunnerKind,
  type RunnerSession,
  type TerminalSize,
} from '../types.ts'
import type { RemoteFileHop } from './files.ts'
import type { ClientFrame, ServerFrame } from './protocol.ts'

/** Input bytes waiting in the socket to the service at most before more is refused (docs/budgets.md). */
export const INPUT_IN_FLIGHT = 64 * 1024

/** A session that lives on a runner service; the same interface as a local one. */
export class RemoteSession implements RunnerSession {
  id = ''
  host = ''
  private readonly listeners = new Set<(chunk: Uint8Array) => void>()
  /** Output that arrived before anyone listened (as local runners keep it). */
  private unheard: Uint8Array[] = []
  private finish!: (info: ExitInfo) => void
  private ended = false
  readonly exited: Promise<ExitInfo>
  /** The service's output window (from `opened`); credit goes back in quarters of it. */
  private window = 256 * 1024
  /** Output taken since the last credit; withheld while the session manager has us paused. */
  private uncredited = 0
  private paused = false

  constructor(
    readonly kind: RunnerKind,
    private readonly ws: WebSocket,
    /** Files in and out go over HTTP to the same service (files.ts), not over this socket. */
    private readonly files?: RemoteFileHop,
  ) {
    this.exited = new Promise((resolve) => {
      this.finish = resolve
    })
  }

  /** @internal The service opened the session (or re-attached it): its id, host and output window. */
  opened(frame: Extract<ServerFrame, { type: 'opened' }>): void {
    this.id = frame.id
    this.host = frame.host
    if (frame.window > 0) this.window = frame.window
  }

  /** @internal Output bytes from the service. */
  output(chunk: Uint8Array): void {
    if (this.listeners.size === 0) this.unheard.push(chunk)
    for (const l of this.listeners) l(chunk)
    this.uncredited += chunk.length
    if (!this.paused && this.uncredited >= this.window / 4) this.credit()
  }

  private credit(): void {
    if (this.uncredited === 0) return
    this.frame({ type: 'credit', bytes: this.uncredited })
    this.uncredited = 0
  }

  /** @internal The session ended (an `exit` frame, or the socket dropped). */
  end(info: ExitInfo): void {
    if (this.ended) return
    this.ended = true
    this.finish(info)
    if (this.ws.readyState <= WebSocket.OPEN) this.ws.close(CLOSE.normal, 'session ended')
  }

  private frame(f: ClientFrame): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(f))
  }

  /**
   * Sends input to the service; refuses it (false) while more than `INPUT_IN_FLIGHT` bytes wait
   * in this socket's send buffer (the service or the hop is not keeping up, docs/budgets.md). The
   * interrupt keys of a refused chunk still go (`INTERRUPT_SLACK` past the bound).
   */
  write(data: Uint8Array | string): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return true
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data
    const buffered = this.ws.bufferedAmount
    if (buffered > 0 && buffered + bytes.length > INPUT_IN_FLIGHT) {
      const keys = interruptKeys(bytes)
      if (keys && buffered + keys.length <= INPUT_IN_FLIGHT + INTERRUPT_SLACK) this.ws.send(keys)
      return false
    }
    this.ws.send(bytes)
    return true
  }

  putFiles(dir: string, files: FileUpload[]): Promise<PutFilesResult> {
    if (this.ended || !this.files) return Promise.reject(new RunnerError('SESSION_GONE', 'the session has ended'))
    return this.files.putFiles(this.id, dir, files)
  }

  getFile(path: string): Promise<FileDownload> {
    if (this.ended || !this.files) return Promise.reject(new RunnerError('SESSION_GONE', 'the session has ended'))
    return this.files.getFile(this.id, path)
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
    this.paused = true
    this.frame({ type: 'pause' })
  }

  resume(): void {
    this.paused = false
    this.credit()
    this.frame({ type: 'resume' })
  }

  async kill(reason: ExitReason = 'killed'): Promise<void> {
    if (this.ended) return
    if (this.ws.readyState === WebSocket.OPEN) this.frame({ type: 'kill', reason })
    else this.end({ code: null, reason })
    await this.exited
  }
}
