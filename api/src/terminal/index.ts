import {
  CLOSE,
  INPUT_LIMITS,
  MAX_TERMINAL_DIMENSION,
  parseClientMessage,
  type ServerMessage,
} from '@shellfolio/runner/terminal-protocol'
import { Elysia, t } from 'elysia'
import { type AuthDeps, authPlugin } from '../auth/index.ts'
import type { Config } from '../config.ts'
import { clientIp } from '../http/client-ip.ts'
import { ok } from '../http/envelope.ts'
import { terminalFiles } from './files.ts'
import { terminalModels } from './model.ts'
import { ASCIICAST_CONTENT_TYPE } from './recording.ts'
import { replayRoutes } from './replay-routes.ts'
import { type Attached, type Refusal, refusal, type TerminalService } from './service.ts'
import type { LiveSession, TerminalSocket } from './session.ts'
import { watchRoutes } from './watch-routes.ts'

export { SessionManager } from './manager.ts'
export { type ProjectResolver, type TerminalProject, terminalProjects } from './projects.ts'
export { parseAsciicast } from './recording.ts'
export { createRunnerRegistry, type RunnerRegistry, runnerRegistryOf } from './runners.ts'
export { createTerminalService, type TerminalFlags, type TerminalService } from './service.ts'
export { TicketStore } from './tickets.ts'

export interface TerminalModuleOptions {
  config: Pick<Config, 'trustProxyHops' | 'publicOrigin' | 'corsOrigins'>
  terminal: TerminalService
  /** The app's deps object: the auth plugin keys its service on it (admin routes). */
  auth: AuthDeps
}

/** Per-connection state, keyed by Bun's socket (Elysia wraps it in a new object per event). */
interface Connection {
  socket: TerminalSocket
  session: LiveSession | null
  /** Frames that arrived while the session was being opened (bounded: `INPUT_LIMITS`). */
  early: unknown[]
  earlyBytes: number
  /** Early frames were dropped and the client was told. */
  earlyOverflow: boolean
  closed: boolean
  /** Bun's socket: reading it stops while the client sends over its input rate. */
  raw: RawSocket
  /** Reading is paused until `until` (performance.now()), when `timer` resumes it. */
  paused?: { until: number; timer: ReturnType<typeof setTimeout> } | undefined
}

interface RawSocket {
  readonly remoteAddress: string
  send(data: Uint8Array | string): number
  sendText(data: string): number
  getBufferedAmount(): number
  close(code?: number, reason?: string): void
  /** Stops / restarts reading the socket: the client sees TCP backpressure (Bun ≥ 1.4). */
  pause?(): void
  resume?(): void
}

/** Bytes an early frame counts for (a text frame arrives parsed: its JSON length). */
const frameBytes = (message: unknown): number => {
  if (message instanceof Uint8Array) return message.length
  if (message instanceof ArrayBuffer) return message.byteLength
  if (typeof message === 'string') return message.length
  try {
    return JSON.stringify(message)?.length ?? 0
  } catch {
    return INPUT_LIMITS.earlyBytes
  }
}

function originAllowed(
  request: Request,
  config: Pick<Config, 'publicOrigin' | 'corsOrigins'>,
): { ok: true } | { ok: false; origin: string } {
  const origin = request.headers.get('origin')
  // Non-browser clients send no Origin; the check protects browsers from cross-site sockets.
  if (!origin) return { ok: true }
  if (origin === config.publicOrigin || config.corsOrigins.includes(origin)) return { ok: true }
  try {
    const host = request.headers.get('host')
    if (host && new URL(origin).host === host) return { ok: true }
  } catch {
    // An unparsable Origin is refused below.
  }
  return { ok: false, origin }
}

/** A place's id: 24 random bytes, base64url (queue.ts). */
const QUEUE_ID = '^[A-Za-z0-9_-]{32}$'

const intParam = (v: unknown, fallback: number) => {
  const n = typeof v === 'string' && /^\d{1,4}$/.test(v) ? Number(v) : Number.NaN
  return n >= 1 && n <= MAX_TERMINAL_DIMENSION ? n : fallback
}

const sendMessage = (socket: TerminalSocket, message: ServerMessage) => socket.sendText(JSON.stringify(message))

const refuse = (socket: TerminalSocket, { messages, close, reason }: Refusal) => {
  for (const message of messages) sendMessage(socket, message)
  socket.close(close, reason)
}

/**
 * module.terminal: `POST /api/v1/terminal/sessions` issues a ticket, `WS /api/v1/terminal/ws`
 * redeems it and speaks the protocol of docs/terminal-protocol.md; admins list and kill live
 * sessions and download recordings. The work is done by the terminal service (service.ts).
 */
export function terminalModule({ config, terminal, auth }: TerminalModuleOptions) {
  const connections = new WeakMap<object, Connection>()

  /**
   * A client over its input rate is not read for `ms` (docs/budgets.md, "API and transport"): its
   * flood waits in its own TCP buffers instead of costing this event loop a frame at a time.
   */
  const throttle = (conn: Connection, ms: number) => {
    if (ms <= 0 || conn.closed || !conn.raw.pause || !conn.raw.resume) return
    const until = performance.now() + ms
    if (conn.paused) {
      // frames read before the pause still arrive: each may push the end further out
      if (until <= conn.paused.until) return
      clearTimeout(conn.paused.timer)
    } else conn.raw.pause()
    conn.paused = {
      until,
      timer: setTimeout(() => {
        conn.paused = undefined
        if (!conn.closed) conn.raw.resume?.()
      }, ms),
    }
  }

  const handle = (conn: Connection, message: unknown) => {
    const session = conn.session
    if (!session) return
    if (message instanceof Uint8Array || message instanceof ArrayBuffer) {
      throttle(conn, session.input(message instanceof Uint8Array ? message : new Uint8Array(message)))
      return
    }
    const parsed = parseClientMessage(message)
    if (typeof parsed === 'string') {
      sendMessage(conn.socket, { type: 'error', code: 'BAD_MESSAGE', message: parsed })
      return
    }
    switch (parsed.type) {
      case 'resize':
        void session.resize(parsed.cols, parsed.rows).catch(() => {})
        return
      case 'ack':
        session.ack(parsed.bytes)
        return
      case 'ping':
        session.send({ type: 'pong' })
        return
    }
  }

  return (
    new Elysia({ name: 'module.terminal' })
      .use(authPlugin(auth))
      .use(watchRoutes({ config, manager: terminal.manager, auth, originAllowed: (r) => originAllowed(r, config).ok }))
      .use(replayRoutes({ replays: terminal.manager.replays, auth }))
      .model(terminalModels)
      // Files in and out of a live session (files.ts, docs/api.md)
      .use(terminalFiles(terminal.manager))
      .post(
        '/api/v1/terminal/sessions',
        async ({ body, request, server, set }) => {
          const ip = clientIp(request, server?.requestIP(request)?.address, config.trustProxyHops)
          const issued = await terminal.createSession({
            project: body.project,
            runner: body.runner,
            ip,
            origin: body.origin,
            queue: body.queue,
          })
          set.headers['cache-control'] = 'no-store'
          if ('status' in issued) {
            set.status = 202
            return ok(issued)
          }
          set.status = 201
          return ok(issued)
        },
        {
          body: 'terminal.create',
          response: { 201: 'terminal.ticket', 202: 'terminal.queued' },
          detail: {
            summary: 'Start a terminal session: returns a single-use WebSocket ticket',
            tags: ['terminal'],
          },
        },
      )
      // The waiting line (queue.ts, docs/terminal-protocol.md "Waiting for a slot"): each poll is the place's heartbeat.
      .get(
        '/api/v1/terminal/queue/:id',
        async ({ params, set }) => {
          set.headers['cache-control'] = 'no-store'
          return ok(await terminal.queueStatus(params.id))
        },
        {
          params: t.Object({ id: t.String({ pattern: QUEUE_ID }) }),
          response: { 200: 'terminal.queueStatus' },
          detail: { summary: 'A place in the waiting line: position and estimate, or the ticket', tags: ['terminal'] },
        },
      )
      .delete(
        '/api/v1/terminal/queue/:id',
        async ({ params }) => {
          await terminal.leaveQueue(params.id)
          return ok({ id: params.id, status: 'left' as const })
        },
        {
          params: t.Object({ id: t.String({ pattern: QUEUE_ID }) }),
          response: { 200: 'terminal.queueLeft' },
          detail: { summary: 'Leave the waiting line', tags: ['terminal'] },
        },
      )
      .get(
        '/api/v1/terminal/sessions',
        async ({ set }) => {
          set.headers['cache-control'] = 'no-store'
          const items = await terminal.live()
          return ok(items, { count: items.length })
        },
        {
          auth: 'admin',
          response: { 200: 'terminal.live' },
          detail: { summary: 'Live terminal sessions on every instance', tags: ['terminal'] },
        },
      )
      .delete(
        '/api/v1/terminal/sessions/:id',
        async ({ params, set }) => {
          await terminal.kill(params.id)
          set.status = 202
          return ok({ id: params.id, status: 'killing' })
        },
        {
          auth: 'admin',
          params: t.Object({ id: t.String({ format: 'uuid' }) }),
          detail: { summary: 'Kill a live session (its client gets exit with reason killed)', tags: ['terminal'] },
        },
      )
      .get(
        '/api/v1/terminal/sessions/:id/recording',
        async ({ params }) => {
          const body = await terminal.recording(params.id)
          // The DOM lib (web/ type-checks this file through App) wants an ArrayBuffer-backed view.
          return new Response(body as Uint8Array<ArrayBuffer>, {
            headers: {
              'content-type': ASCIICAST_CONTENT_TYPE,
              'content-disposition': `attachment; filename="${params.id}.cast"`,
              'cache-control': 'no-store',
            },
          })
        },
        {
          auth: 'admin',
          params: t.Object({ id: t.String({ format: 'uuid' }) }),
          detail: { summary: 'A session recording (asciicast v2)', tags: ['terminal'] },
        },
      )
      .ws('/api/v1/terminal/ws', {
        // Frames are handled raw: binary = terminal input, text = JSON control (Elysia pre-parses JSON).
        async open(ws) {
          const raw = ws.raw as unknown as RawSocket
          const socket: TerminalSocket = {
            sendBinary: (data) => raw.send(data),
            sendText: (text) => raw.sendText(text),
            bufferedAmount: () => raw.getBufferedAmount(),
            close: (code, reason) => raw.close(code, reason),
          }
          const conn: Connection = {
            socket,
            session: null,
            early: [],
            earlyBytes: 0,
            earlyOverflow: false,
            closed: false,
            raw,
          }
          connections.set(ws.raw, conn)
          const query = ws.data.query as Record<string, string | undefined>
          const origin = originAllowed(ws.data.request, config)
          if (!origin.ok) {
            const message = `origin ${origin.origin.slice(0, 80)} may not open terminals`
            refuse(socket, refusal(CLOSE.forbidden, 'ORIGIN_REFUSED', message))
            return
          }
          try {
            const attached: Attached = query.resume
              ? await terminal.resume(query.session ?? '', query.resume, socket)
              : await terminal.open(
                  query.ticket,
                  { cols: intParam(query.cols, 80), rows: intParam(query.rows, 24) },
                  socket,
                  clientIp(ws.data.request, raw.remoteAddress, config.trustProxyHops),
                )
            if (!attached.ok) {
              refuse(socket, attached)
              return
            }
            conn.session = attached.session
            // The client may have gone while we were opening: start the grace period now.
            if (conn.closed) conn.session.detach(socket)
            else for (const frame of conn.early.splice(0)) handle(conn, frame)
            conn.earlyBytes = 0
          } catch {
            refuse(socket, refusal(CLOSE.internal, 'INTERNAL', 'the terminal could not be opened; try again'))
          }
        },
        message(ws, message) {
          const conn = connections.get(ws.raw)
          if (!conn) return
          if (!conn.session) {
            const size = frameBytes(message)
            if (conn.early.length < INPUT_LIMITS.earlyFrames && conn.earlyBytes + size <= INPUT_LIMITS.earlyBytes) {
              conn.early.push(message)
              conn.earlyBytes += size
            } else if (!conn.earlyOverflow) {
              conn.earlyOverflow = true
              sendMessage(conn.socket, {
                type: 'error',
                code: 'INPUT_OVERFLOW',
                message: `the session is still opening: input beyond ${INPUT_LIMITS.earlyFrames} frames or ${INPUT_LIMITS.earlyBytes / 1024} KiB was dropped`,
              })
            }
            return
          }
          handle(conn, message)
        },
        drain(ws) {
          connections.get(ws.raw)?.session?.drained()
        },
        close(ws) {
          const conn = connections.get(ws.raw)
          if (!conn) return
          conn.closed = true
          clearTimeout(conn.paused?.timer)
          conn.session?.detach(conn.socket)
        },
      })
  )
}
