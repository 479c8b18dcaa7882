/**
 * End-to-end flow control of one session's output (docs/terminal-protocol.md): bytes sent on the
 * socket count as unacknowledged until the client acks them; above the high watermark, or when
 * Bun queues a frame under backpressure, the runner is paused; it resumes once the client caught
 * up (unacknowledged and socket-buffered bytes both below the low watermark).
 */
export interface FlowLimits {
  /** Pause the runner when this many bytes are sent but not acknowledged (default 2 MB). */
  highWatermark: number
  /** Resume once unacknowledged and socket-buffered bytes are both below this (default 512 KB). */
  lowWatermark: number
}

/** Where the output goes: the session's socket (Bun's `ws.send` result: -1 = queued under backpressure). */
export interface FlowSink {
  sendBinary(data: Uint8Array): number
  /** Bytes queued in the socket, not yet written to the network. */
  bufferedAmount(): number
}

/** Where the output comes from: the runner session. */
export interface FlowSource {
  pause(): void
  resume(): void
}

export class OutputFlow {
  /** Bytes sent on the current socket and not acknowledged yet. */
  unacked = 0
  /** True while the source is paused. */
  paused = false
  /** Output that arrived after pausing (the runner stops soon after `pause()`), sent on resume. */
  private pending: Uint8Array[] = []
  pendingBytes = 0
  private sink: FlowSink | null = null
  private stopped = false

  constructor(
    private readonly limits: FlowLimits,
    private readonly source: FlowSource,
  ) {}

  /** A new socket, or none: nothing is in flight on it, nothing held for the previous one. */
  connect(sink: FlowSink | null): void {
    this.sink = sink
    this.unacked = 0
    this.pending = []
    this.pendingBytes = 0
  }

  /** Output for the socket: sent now, or held while paused; dropped without a socket. */
  write(chunk: Uint8Array): void {
    if (!this.sink) return
    if (this.paused) {
      this.pending.push(chunk)
      this.pendingBytes += chunk.length
      return
    }
    this.send(chunk)
  }

  /** Sends `chunk` now, even while paused (the scrollback replay to a new socket). */
  send(chunk: Uint8Array): void {
    const sink = this.sink
    if (!sink) return
    const sent = sink.sendBinary(chunk)
    this.unacked += chunk.length
    // -1: Bun queued it under backpressure; stop the source until `drain`.
    if (sent === -1 || this.unacked >= this.limits.highWatermark) this.pause()
  }

  /** The client processed `bytes` more bytes. */
  ack(bytes: number): void {
    this.unacked = Math.max(0, this.unacked - bytes)
    this.resume()
  }

  /** Stops the source (nobody reads the output: the socket went away). */
  pause(): void {
    if (this.paused) return
    this.paused = true
    this.source.pause()
  }

  /** Restarts the source once the client caught up; held output goes first. */
  resume(): void {
    const sink = this.sink
    if (!this.paused || !sink || this.stopped) return
    const { lowWatermark } = this.limits
    if (this.unacked > lowWatermark || sink.bufferedAmount() > lowWatermark) return
    this.paused = false
    while (this.pending.length > 0 && !this.paused) {
      const chunk = this.pending.shift() as Uint8Array
      this.pendingBytes -= chunk.length
      this.send(chunk)
    }
    if (!this.paused) this.source.resume()
  }

  /** The session ended: never resume again. */
  stop(): void {
    this.stopped = true
  }
}
