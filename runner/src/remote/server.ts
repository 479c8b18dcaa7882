import { randomBytes } from 'node:crypto'
import { existsSync, rmSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import type { Server, ServerWebSocket } from 'bun'
import { CLOSE } from '../protocol/terminal.ts'
import { type Runner, RunnerError, type RunnerKind, type RunnerSession } from '../types.ts'
import { BUNDLE_LIMIT, type BundleReceiver, type BundleRef, checkBundleRef, createBundleStore } from './bundle.ts'
import { FILES_PATH, serveFiles } from './files.ts'
import { createGrantVerifier, type Grant, grantOf } from './grant.ts'
import {
  type ClientFrame,
  HEALTH_PATH,
  normalizeUrl,
  type RunnerInfo,
  SESSIONS_PATH,
  type ServerFrame,
} from './protocol.ts'
import type { Registration } from './registration.ts'

export interface RunnerServerOptions {
  runners: Runner[]
  /** Shared secret grants are signed with (RUNNER_TOKEN, at least 32 characters). */
  token: string
  /** Stable name shown to admins (default `<hostname>:<port>`). */
  id?: string
  /** The URL API instances reach this service at (default `ws://<hostname>:<port>`). */
  advertiseUrl?: string
  /** Sessions accepted at once; further opens get `RUNNER_FULL` (default 64). */
  capacity?: number
  /**
   * How long a session whose API connection dropped (that API instance died) waits for another
   * instance to re-attach before it is ended (default 2 min).
   */
  detachGraceMs?: number
  /** Output kept for a detached session before it is paused (default 256 KiB). */
  detachedBufferBytes?: number
  /**
   * Output sent to an API instance and not yet credited by it before the session is paused
   * (default 256 KiB): bounds what can pile up in the API however slow the hop is.
   */
  outputWindowBytes?: number
  /** Where project sources live on this host (default: this checkout's wasm-projects and runner/fixtures). */
  projectRoots?: string[]
  /**
   * Where project files the API sends (imported versions, bundle.ts) are kept, unpacked by hash
   * (RUNNER_PROJECT_CACHE; default a folder of this process under the system's temporary folder,
   * removed on close).
   */
  projectCache?: string
  /** Largest project tar accepted from an API instance (default 256 MiB). */
  projectLimitBytes?: number
  hostname?: string
  port?: number
  /** Close `runners` with the service (default true). */
  ownsRunners?: boolean
  /** Publishes capacity and health (Redis, registration.ts); called on changes and every 2 s. */
  registration?: Registration
  log?: (event: string, fields?: Record<string, unknown>) => void
}

const REPO_ROOT = join(import.meta.dir, '..', '..', '..')
const DEFAULT_ROOTS = [join(REPO_ROOT, 'wasm-projects'), join(REPO_ROOT, 'runner', 'fixtures')]
const HEARTBEAT_MS = 2_000

/** One session hosted here, with the API socket currently attached to it (if any). */
interface Hosted {
  id: string
  kind: RunnerKind
  session: RunnerSession
  ws: ServerWebSocket<Conn> | null
  /**
   * Paused by the API (its client is behind), by us (socket backpressure, or the API has not
   * credited a window of output), or while detached and full.
   */
  clientPaused: boolean
  socketPaused: boolean
  windowPaused: boolean
  detachedFull: boolean
  /** Output bytes sent on the current socket that the API has not credited yet. */
  uncredited: number
  /**
   * Output the session produced after it was asked to pause (the source stops a moment later), held
   * until the API credits or resumes: what reaches the API after it pauses stays within the window
   * plus the frame that crossed it (docs/terminal-protocol.md).
   */
  held: Uint8Array[]
  /** Output produced while no API socket was attached, sent on re-attach. */
  buffer: Uint8Array[]
  bufferBytes: number
  detachTimer?: ReturnType<typeof setTimeout>
}

interface Conn {
  grant: Grant
  hosted?: Hosted
  /**
   * Frames are applied in arrival order: input typed after a resize must reach the program after
   * the resize took effect (as with a local runner). Set while async frames (resize, kill) run.
   */
  busy?: Promise<void>
  /** Bytes of the frames waiting behind `busy` (bounded by `QUEUED_LIMIT`). */
  queued?: number
  /** Set while the project's files arrive (before `opened`): binary frames go here. */
  upload?: {
    receiver: BundleReceiver
    ref: BundleRef
    /** Restarts the idle timer (a frame arrived). */
    touch: () => void
    fail: (err: unknown) => void
    finish: () => void
  }
}

/** A transfer of project files that receives nothing for this long is abandoned. */
const UPLOAD_IDLE_MS = 30_000
const SLUG = /^[a-z0-9][a-z0-9_-]*$/i

/**
 * Frame bytes a connection may have waiting behind a slow frame (a resize the engine is slow to
 * answer); more is dropped. The API sends at most 64 KiB of input per frame and refuses input
 * while 64 KiB wait in its socket (docs/budgets.md), so only a misbehaving peer reaches this.
 */
const QUEUED_LIMIT = 256 * 1024
/** Largest frame an API instance sends (input frames are at most 64 KiB). */
const MAX_FRAME = 128 * 1024

/**
 * Serves this host's runners to API instances (placement, docs/runners.md): one WebSocket per
 * session, each opened or re-attached with a signed, single-use grant. A session outlives its
 * API socket for `detachGraceMs`, so another API instance can take it over when one dies.
 */
export function createRunnerServer(options: RunnerServerOptions) {
  if (options.token.length < 32) throw new Error('the runner token must be at least 32 characters')
  const byKind = new Map<RunnerKind, Runner>(options.runners.map((r) => [r.kind, r]))
  const roots = options.projectRoots ?? DEFAULT_ROOTS
  const boot = randomBytes(9).toString('base64url')
  const ownCache = options.projectCache === undefined
  const bundles = createBundleStore(
    options.projectCache ?? join(tmpdir(), 'shellfolio-runner-projects', `${process.pid}-${boot}`),
  )
  const projectLimit = options.projectLimitBytes ?? BUNDLE_LIMIT
  const verifier = createGrantVerifier(options.token, boot)
  const capacity = options.capacity ?? 64
  const detachGraceMs = options.detachGraceMs ?? 120_000
  const detachedBufferBytes = options.detachedBufferBytes ?? 256 * 1024
  const outputWindow = options.outputWindowBytes ?? 256 * 1024
  const startedAt = Date.now()
  const hosted = new Map<string, Hosted>()
  /** Opens in progress count against capacity too. */
  let opening = 0
  let stopping = false
  const log = options.log ?? (() => {})

  // Never trust a path from the wire: the project is looked up by name under our own roots.
  // The API's path is never trusted: only its last segment, or the project's slug, names a folder
  // under this host's roots. The API lays imported projects out by version (docs/projects.md), so for
  // a bundled project the slug is the name that matches here.
  const sourceDirOf = (sent: string, slug: string): string | undefined => {
    for (const name of [basename(sent), slug]) {
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) continue
      const found = roots.map((r) => join(r, name)).find((d) => existsSync(d))
      if (found) return found
    }
    return undefined
  }

  const kindsUp = async () => {
    const kinds: RunnerInfo['kinds'] = {}
    for (const [kind, r] of byKind) kinds[kind] = !stopping && (await r.available().catch(() => false))
    return kinds
  }
  let lastKinds: RunnerInfo['kinds'] = {}
  const info = (): RunnerInfo => ({
    id: self.id,
    boot,
    url: self.url,
    startedAt,
    capacity,
    sessions: hosted.size + opening,
    kinds: lastKinds,
  })
  let publishing: Promise<void> | null = null
  let publishAgain = false
  /** Publishes the registration; calls during a publish coalesce into one more. */
  const publish = () => {
    if (!options.registration) return
    if (publishing) {
      publishAgain = true
      return
    }
    publishing = options.registration
      .publish(info())
      .catch((err: unknown) => log('registration failed', { error: String(err) }))
      .finally(() => {
        publishing = null
        if (publishAgain) {
          publishAgain = false
          publish()
        }
      })
  }
  const heartbeat = async () => {
    lastKinds = await kindsUp()
    publish()
  }

  const send = (ws: ServerWebSocket<Conn>, frame: ServerFrame) => ws.sendText(JSON.stringify(frame))
  const syncPause = (h: Hosted) => {
    if (h.clientPaused || h.socketPaused || h.windowPaused || h.detachedFull) h.session.pause()
    else h.session.resume()
  }
  /** Sends output to the attached API socket, pausing at the window or under backpressure. */
  const sendOutput = (h: Hosted, ws: ServerWebSocket<Conn>, chunk: Uint8Array) => {
    // -1: queued under backpressure; stop reading the program until the socket drains.
    if (ws.send(chunk) === -1) h.socketPaused = true
    h.uncredited += chunk.length
    if (h.uncredited >= outputWindow) h.windowPaused = true
    if (h.socketPaused || h.windowPaused) syncPause(h)
  }
  /** Sends held output while the API takes it. */
  const drainHeld = (h: Hosted) => {
    const ws = h.ws
    while (ws && h.held.length > 0 && !h.clientPaused && !h.windowPaused)
      sendOutput(h, ws, h.held.shift() as Uint8Array)
    syncPause(h)
  }

  /** Wires a hosted session to a socket: output goes there, or to the buffer while detached. */
  const host = (id: string, kind: RunnerKind, session: RunnerSession): Hosted => {
    const h: Hosted = {
      id,
      kind,
      session,
      ws: null,
      clientPaused: false,
      socketPaused: false,
      windowPaused: false,
      detachedFull: false,
      uncredited: 0,
      held: [],
      buffer: [],
      bufferBytes: 0,
    }
    hosted.set(id, h)
    // Chunks arriving in one event-loop turn travel as one frame (small writes of a chatty program
    // would otherwise each pay a frame here and another in the API).
    let parts: Uint8Array[] = []
    let partBytes = 0
    let scheduled = false
    const flush = () => {
      scheduled = false
      if (partBytes === 0) return
      const frame = parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts, partBytes)
      parts = []
      partBytes = 0
      const ws = h.ws
      if (!ws) {
        h.buffer.push(frame)
        h.bufferBytes += frame.length
        if (h.bufferBytes >= detachedBufferBytes && !h.detachedFull) {
          h.detachedFull = true
          syncPause(h)
        }
        return
      }
      if (h.clientPaused || h.windowPaused || h.held.length > 0) h.held.push(frame)
      else sendOutput(h, ws, frame)
    }
    session.onData((chunk) => {
      parts.push(chunk)
      partBytes += chunk.length
      if (partBytes >= 64 * 1024) flush()
      else if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    })
    void session.exited.then((exit) => {
      flush()
      clearTimeout(h.detachTimer)
      hosted.delete(id)
      publish()
      const ws = h.ws
      h.ws = null
      if (ws && ws.readyState === 1) {
        // the session's last words go out before its exit, paused or not: nothing more will follow
        for (const chunk of h.held.splice(0)) ws.send(chunk)
        const info = stopping && !exit.message ? { ...exit, message: 'the runner service stopped' } : exit
        send(ws, { type: 'exit', info })
        ws.close(CLOSE.normal, 'session ended')
      }
      log('session ended', { session: id, kind, reason: exit.reason })
    })
    publish()
    return h
  }

  const attach = (h: Hosted, ws: ServerWebSocket<Conn>) => {
    clearTimeout(h.detachTimer)
    h.detachTimer = undefined
    const previous = h.ws
    if (previous && previous !== ws) {
      previous.data.hosted = undefined
      previous.close(CLOSE.replaced, 'replaced by another API connection')
    }
    h.ws = ws
    ws.data.hosted = h
    send(ws, { type: 'opened', id: h.id, host: self.id, window: outputWindow })
    h.clientPaused = false
    h.socketPaused = false
    h.windowPaused = false
    h.uncredited = 0
    for (const chunk of [...h.buffer.splice(0), ...h.held.splice(0)]) sendOutput(h, ws, chunk)
    h.bufferBytes = 0
    h.detachedFull = false
    syncPause(h)
  }

  /** The API socket dropped without a kill: keep the session for another API instance. */
  const detach = (h: Hosted) => {
    h.ws = null
    for (const chunk of h.held.splice(0)) {
      h.buffer.push(chunk)
      h.bufferBytes += chunk.length
    }
    h.clientPaused = false
    h.socketPaused = false
    h.windowPaused = false
    h.uncredited = 0
    syncPause(h)
    h.detachTimer = setTimeout(() => {
      log('session abandoned', { session: h.id })
      void h.session.kill('idle')
    }, detachGraceMs)
    h.detachTimer.unref?.()
    log('session detached', { session: h.id })
  }

  /**
   * The project's files the API sends on this socket (bundle.ts): asks for them with
   * `send-project`, takes exactly `ref.bytes` in binary frames, checks the hash and unpacks.
   */
  const receiveProject = (ws: ServerWebSocket<Conn>, ref: BundleRef): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      const receiver = bundles.receive(ref)
      let timer: ReturnType<typeof setTimeout> | undefined
      const upload: NonNullable<Conn['upload']> = {
        receiver,
        ref,
        touch: () => {
          clearTimeout(timer)
          timer = setTimeout(
            () => upload.fail(new RunnerError('RUNNER_TIMEOUT', "the project's files stopped arriving")),
            UPLOAD_IDLE_MS,
          )
        },
        fail: (err) => {
          clearTimeout(timer)
          ws.data.upload = undefined
          receiver.abort()
          reject(err)
        },
        finish: () => {
          clearTimeout(timer)
          ws.data.upload = undefined
          receiver.done().then(resolve, reject)
        },
      }
      ws.data.upload = upload
      upload.touch()
      if (ref.bytes === 0) upload.finish()
      else send(ws, { type: 'send-project' })
    })

  /** Takes one binary frame of a transfer. */
  const uploadFrame = (ws: ServerWebSocket<Conn>, chunk: Uint8Array) => {
    const upload = ws.data.upload
    if (!upload) return
    try {
      upload.receiver.push(chunk)
    } catch (err) {
      upload.fail(err)
      return
    }
    upload.touch()
    if (upload.receiver.received === upload.ref.bytes) upload.finish()
  }

  /** Transfers in progress by hash: a second session of the same version waits for the first one's. */
  const receiving = new Map<string, Promise<string>>()
  /** The folder of the project files `ref` names: kept from before, or received on this socket. */
  const projectFiles = async (ws: ServerWebSocket<Conn>, ref: BundleRef, slug: string): Promise<string> => {
    const inflight = receiving.get(ref.sha256)
    const kept = bundles.get(ref) ?? (inflight && (await inflight.catch(() => undefined)))
    if (kept) return kept
    log('receiving project files', { project: slug, bytes: ref.bytes })
    const transfer = receiveProject(ws, ref)
    receiving.set(ref.sha256, transfer)
    try {
      return await transfer
    } finally {
      if (receiving.get(ref.sha256) === transfer) receiving.delete(ref.sha256)
    }
  }

  const open = async (ws: ServerWebSocket<Conn>, grant: Extract<Grant, { typ: 'open' }>) => {
    const runner = byKind.get(grant.kind)
    if (!runner) throw new RunnerError('RUNNER_UNAVAILABLE', `this runner service has no ${grant.kind} runner`)
    const slug = grant.options.project.slug
    // An imported version comes with its files (checked by size and hash); a bundled project is
    // looked up by name under this host's roots.
    const ref = grant.bundle === undefined ? undefined : checkBundleRef(grant.bundle, projectLimit)
    if (ref && !SLUG.test(slug)) throw new RunnerError('INVALID_PROJECT', `invalid project slug '${slug}'`)
    const rootDir = ref ? undefined : sourceDirOf(grant.options.project.sourceDir, slug)
    if (!ref && !rootDir) throw new RunnerError('PROJECT_NOT_FOUND', `project ${slug} is not on this runner host`)
    if (hosted.size + opening >= capacity)
      throw new RunnerError('RUNNER_FULL', 'every terminal slot is taken right now; try again in a minute')
    opening++
    publish()
    let session: RunnerSession
    let release = () => {}
    try {
      let sourceDir = rootDir as string
      if (ref) {
        sourceDir = await projectFiles(ws, ref, slug)
        release = bundles.hold(ref)
      }
      session = await runner.open({ ...grant.options, project: { ...grant.options.project, sourceDir } })
    } catch (err) {
      release()
      throw err
    } finally {
      opening--
    }
    void session.exited.then(release)
    const h = host(`${boot}:${session.id}`, grant.kind, session)
    if (ws.readyState !== 1) {
      await session.kill()
      return
    }
    attach(h, ws)
    log('session opened', { session: h.id, kind: grant.kind, project: grant.options.project.slug })
  }

  const fail = (ws: ServerWebSocket<Conn>, err: unknown) => {
    const code = err instanceof RunnerError ? err.code : 'RUNNER_ERROR'
    const message = err instanceof RunnerError ? err.message : 'the session could not be started'
    if (!(err instanceof RunnerError)) log('open failed', { error: String(err) })
    if (ws.readyState === 1) {
      send(ws, { type: 'error', code, message })
      ws.close(1011, code)
    }
  }

  const credit = (h: Hosted, bytes: number) => {
    if (!Number.isFinite(bytes) || bytes <= 0) return
    h.uncredited = Math.max(0, h.uncredited - bytes)
    if (h.windowPaused && h.uncredited < outputWindow) {
      h.windowPaused = false
      drainHeld(h)
    }
  }

  /** Applies one frame from the API (in order, see `Conn.busy`). */
  const apply = async (ws: ServerWebSocket<Conn>, message: string | Buffer): Promise<void> => {
    const h = ws.data.hosted
    if (typeof message !== 'string') {
      h?.session.write(new Uint8Array(message))
      return
    }
    let frame: ClientFrame
    try {
      frame = JSON.parse(message) as ClientFrame
    } catch {
      send(ws, { type: 'error', code: 'BAD_FRAME', message: 'text frames must be JSON' })
      return
    }
    if (!h) return
    switch (frame.type) {
      case 'resize':
        await h.session.resize({ cols: frame.cols, rows: frame.rows }).catch(() => {})
        return
      case 'pause':
        h.clientPaused = true
        syncPause(h)
        return
      case 'resume':
        h.clientPaused = false
        drainHeld(h)
        return
      case 'credit':
        credit(h, frame.bytes)
        return
      case 'kill':
        await h.session.kill(frame.reason)
        return
    }
  }

  const refuse = (status: number, code: string, message: string) =>
    Response.json({ error: { code, message } }, { status })

  const server: Server<Conn> = Bun.serve<Conn>({
    hostname: options.hostname ?? '127.0.0.1',
    port: options.port ?? 4100,
    async fetch(req, srv) {
      const url = new URL(req.url)
      if (url.pathname !== HEALTH_PATH && url.pathname !== SESSIONS_PATH && url.pathname !== FILES_PATH)
        return refuse(404, 'NOT_FOUND', 'not found')
      const token = grantOf(req)
      if (!token) return refuse(401, 'UNAUTHORIZED', 'a signed grant is required')
      const grant = verifier.verify(token)
      if ('refused' in grant) {
        log('grant refused', { reason: grant.refused, path: url.pathname })
        return refuse(401, 'UNAUTHORIZED', grant.refused)
      }
      if (url.pathname === HEALTH_PATH) {
        if (grant.typ !== 'health') return refuse(403, 'FORBIDDEN', 'not a health grant')
        lastKinds = await kindsUp()
        return Response.json(info())
      }
      if (grant.typ === 'health') return refuse(403, 'FORBIDDEN', 'a health grant cannot open sessions')
      if ((url.pathname === FILES_PATH) !== (grant.typ === 'files'))
        return refuse(403, 'FORBIDDEN', 'a files grant is for /v1/files only, and only a files grant is')
      if (grant.typ === 'files') return serveFiles(req, grant, hosted.get(grant.session)?.session)
      if (stopping) return refuse(503, 'RUNNER_STOPPING', 'the runner service is stopping')
      if (srv.upgrade(req, { data: { grant } })) return undefined
      return refuse(400, 'BAD_REQUEST', 'expected a WebSocket upgrade')
    },
    websocket: {
      maxPayloadLength: MAX_FRAME,
      async open(ws) {
        const { grant } = ws.data
        if (grant.typ === 'open') {
          await open(ws, grant).catch((err: unknown) => fail(ws, err))
          return
        }
        if (grant.typ === 'attach') {
          const h = hosted.get(grant.session)
          if (!h) {
            fail(ws, new RunnerError('SESSION_GONE', 'the session has ended on its runner service'))
            return
          }
          attach(h, ws)
          await h.session.resize(grant.size).catch(() => {})
          log('session re-attached', { session: h.id })
        }
      },
      message(ws, message) {
        const c = ws.data
        if (c.upload) {
          if (typeof message !== 'string') uploadFrame(ws, new Uint8Array(message))
          return
        }
        // Fast path (keystrokes, nothing pending): no promise between the key and the program.
        if (!c.busy && typeof message !== 'string') {
          c.hosted?.session.write(new Uint8Array(message))
          return
        }
        const size = typeof message === 'string' ? message.length : message.length
        if ((c.queued ?? 0) + size > QUEUED_LIMIT) return
        c.queued = (c.queued ?? 0) + size
        const busy: Promise<void> = (c.busy ?? Promise.resolve())
          .then(() => apply(ws, message))
          .catch(() => {})
          .finally(() => {
            c.queued = (c.queued ?? size) - size
            if (c.busy === busy) c.busy = undefined
          })
        c.busy = busy
      },
      drain(ws) {
        const h = ws.data.hosted
        if (h?.socketPaused) {
          h.socketPaused = false
          syncPause(h)
        }
      },
      close(ws) {
        ws.data.upload?.fail(new RunnerError('RUNNER_UNREACHABLE', 'the API closed the socket'))
        const h = ws.data.hosted
        if (h && h.ws === ws) detach(h)
      },
    },
  })

  const port = server.port as number
  const self = {
    id: options.id ?? `${hostname()}:${port}`,
    url: normalizeUrl(
      options.advertiseUrl ?? `ws://${server.hostname === '0.0.0.0' ? hostname() : server.hostname}:${port}`,
    ),
    boot,
    port,
    capacity,
    /** Uncredited output bytes sent to an API socket before its session is paused. */
    outputWindow,
    /** Live sessions hosted here. */
    get sessions() {
      return hosted.size
    },
    info,
    /** Ends every session (their API connections get `exit` saying the service stopped) and stops. */
    async close() {
      stopping = true
      clearInterval(beat)
      await options.registration?.remove(self.id).catch(() => {})
      await Promise.allSettled([...hosted.values()].map((h) => h.session.kill('killed')))
      await server.stop(true)
      if (options.ownsRunners !== false) await Promise.allSettled(options.runners.map((r) => r.close()))
      if (ownCache) rmSync(bundles.dir, { recursive: true, force: true })
      await options.registration?.close().catch(() => {})
    },
  }
  const beat = setInterval(() => void heartbeat(), HEARTBEAT_MS)
  beat.unref?.()
  void heartbeat()
  return self
}

export type RunnerServer = ReturnType<typeof createRunnerServer>
