import type { Duplex } from 'node:stream'
import type Docker from 'dockerode'
import { INTERRUPT_SLACK } from '../protocol/terminal.ts'
import { RunnerError } from '../types.ts'
import { type CreateSpec, containerOptions, DETACH_KEYS, destroyContainer } from './sandbox.ts'

/** The shell prints this (an OSC sequence terminals ignore) once it waits for the handshake (the image's /etc/bash.bashrc). */
const READY = Buffer.from('\x1b]6973;ready\x07', 'latin1')

/**
 * Input bytes this process buffers for one container at most (docs/budgets.md): beyond it the
 * container is not taking its input and `write` refuses more.
 */
export const INPUT_IN_FLIGHT = 64 * 1024

/** The hijacked attach both a new and an adopted container use: raw TTY bytes, detach keys nobody types. */
async function attachRaw(container: Docker.Container): Promise<Duplex> {
  const stream = await container.attach({
    stream: true,
    stdin: true,
    stdout: true,
    stderr: true,
    hijack: true,
    detachKeys: DETACH_KEYS,
  })
  return stream as unknown as Duplex
}

/**
 * A sandbox container that is created, attached, started and waiting in its entry script for the
 * handshake: what the warm pool keeps and what a session takes over.
 */
export class PreparedContainer {
  /** Output that arrived after the ready marker and before a session took over. */
  private backlog: Buffer[] = []
  private sink: ((chunk: Buffer) => void) | null = null
  private exitListener: ((code: number | null) => void) | null = null
  private exitCode: number | null | undefined = undefined
  private streamOpen = true
  /** Resolves when the attach stream has ended (all output delivered). */
  readonly streamEnded: Promise<void>

  private constructor(
    readonly container: Docker.Container,
    readonly stream: Duplex,
    readonly sessionId: string,
    readonly createdAt: number,
  ) {
    // why: a write racing the container's exit errors on the socket; the exit itself is reported by
    // the engine's wait, so the error needs no handling beyond not crashing the process
    stream.on('error', () => {})
    this.streamEnded = new Promise((resolve) => {
      const done = () => {
        this.streamOpen = false
        resolve()
      }
      stream.once('end', done)
      stream.once('close', done)
      stream.once('error', done)
    })
  }

  /** True while the container has not exited: a pooled container may have died while waiting. */
  get alive(): boolean {
    return this.exitCode === undefined && this.streamOpen && !this.stream.destroyed
  }

  /** Hands the output (backlog first) and the exit to a session. */
  takeOver(onData: (chunk: Buffer) => void, onExit: (code: number | null) => void): void {
    this.sink = onData
    for (const chunk of this.backlog.splice(0)) onData(chunk)
    this.exitListener = onExit
    if (this.exitCode !== undefined) onExit(this.exitCode)
  }

  /**
   * Sends terminal input to the container (dropped once the stream is gone). Returns false, and
   * writes nothing, when `bytes` would take the input buffered in this process past
   * `INPUT_IN_FLIGHT`: the container is not reading its input (a program that never reads stdin, a
   * full TTY), and buffering on would grow the API's memory with every frame (docs/budgets.md).
   * `interrupt` (interrupt keys only) may go `INTERRUPT_SLACK` bytes past the bound.
   */
  write(bytes: Uint8Array | string, interrupt = false): boolean {
    if (this.stream.destroyed || !this.stream.writable) return true
    const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.length
    const bound = INPUT_IN_FLIGHT + (interrupt ? INTERRUPT_SLACK : 0)
    if (this.stream.writableLength > 0 && this.stream.writableLength + size > bound) return false
    this.stream.write(bytes)
    return true
  }

  /** Input written to the container's stream and not yet taken by the engine, in bytes. */
  get inputInFlight(): number {
    return this.stream.writableLength
  }

  async destroy(): Promise<void> {
    this.stream.destroy()
    await destroyContainer(this.container)
  }

  /**
   * create → attach (hijacked) → start → wait for the ready marker. Attaching before start is what
   * keeps the first bytes of output; the TTY size is set later, after start (409 before).
   */
  static async create(docker: Docker, spec: CreateSpec, readyTimeoutMs = 20_000): Promise<PreparedContainer> {
    let container: Docker.Container | undefined
    try {
      container = await docker.createContainer(containerOptions(spec))
      const stream = await attachRaw(container)
      const prepared = new PreparedContainer(container, stream, spec.sessionId, Date.now())
      const ready = prepared.waitReady(readyTimeoutMs)
      await container.start()
      // why: the default wait condition returns at once for a container that is not running yet,
      // so it is only requested after start
      container.wait().then(
        (res: { StatusCode?: number }) => prepared.exited(typeof res?.StatusCode === 'number' ? res.StatusCode : null),
        () => prepared.exited(null),
      )
      await ready
      return prepared
    } catch (err) {
      if (container) await destroyContainer(container).catch(() => {})
      if (err instanceof RunnerError) throw err
      throw new RunnerError('SANDBOX_START_FAILED', `could not start a sandbox container: ${errorText(err)}`)
    }
  }

  /**
   * Attaches to a running sandbox container another runner instance started (it crashed or handed
   * the session over): no start, no handshake; output flows from now on (the API replays what came
   * before from its scrollback).
   */
  static async attachRunning(docker: Docker, containerId: string, sessionId: string): Promise<PreparedContainer> {
    const container = docker.getContainer(containerId)
    const stream = await attachRaw(container)
    const prepared = new PreparedContainer(container, stream, sessionId, Date.now())
    stream.on('data', (chunk: Buffer) => {
      if (prepared.sink) prepared.sink(chunk)
      else prepared.backlog.push(chunk)
    })
    container.wait().then(
      (res: { StatusCode?: number }) => prepared.exited(typeof res?.StatusCode === 'number' ? res.StatusCode : null),
      () => prepared.exited(null),
    )
    return prepared
  }

  private exited(code: number | null): void {
    if (this.exitCode !== undefined) return
    this.exitCode = code
    this.exitListener?.(code)
  }

  /** Collects output until the ready marker; later output goes to the backlog or the session. */
  private waitReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let seen = Buffer.alloc(0)
      let ready = false
      const timer = setTimeout(() => {
        reject(
          new RunnerError(
            'SANDBOX_START_FAILED',
            `the sandbox entry script did not get ready within ${timeoutMs} ms; output: ${JSON.stringify(seen.toString('utf8').slice(-300))}`,
          ),
        )
      }, timeoutMs)
      this.stream.on('data', (chunk: Buffer) => {
        if (ready) {
          if (this.sink) this.sink(chunk)
          else this.backlog.push(chunk)
          return
        }
        seen = Buffer.concat([seen, chunk])
        const at = seen.indexOf(READY)
        if (at < 0) return
        ready = true
        clearTimeout(timer)
        // Output before the marker (the entry script's own work) is not part of the session.
        const rest = seen.subarray(at + READY.length)
        if (rest.length > 0) this.backlog.push(Buffer.from(rest))
        resolve()
      })
      this.stream.once('end', () => {
        if (!ready) {
          clearTimeout(timer)
          reject(
            new RunnerError(
              'SANDBOX_START_FAILED',
              `the sandbox ended before it was ready; output: ${JSON.stringify(seen.toString('utf8').slice(-300))}`,
            ),
          )
        }
      })
    })
  }
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message.trim()
  return String(err)
}
