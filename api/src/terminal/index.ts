import { randomUUID } from 'node:crypto'
import { join, resolve, sep } from 'node:path'
import { DEFAULT_POLICY, RunnerError, type RunnerKind } from '@shellfolio/runner'
import { and, eq, isNull } from 'drizzle-orm'
import { Elysia, t } from 'elysia'
import { type AuthDeps, authPlugin } from '../auth/index.ts'
import type { Config } from '../config.ts'
import { REPO_ROOT } from '../config.ts'
import type { Db } from '../db/index.ts'
import { projects } from '../db/schema/index.ts'
import { clientIp } from '../http/client-ip.ts'
import { ok } from '../http/envelope.ts'
import { AppError, BadRequestError, NotFoundError, ServiceUnavailableError } from '../http/errors.ts'
import { CLOSE, type LiveSession, type SessionManager, type TerminalProject, type TerminalSocket } from './manager.ts'
import { parseClientMessage, terminalModels } from './model.ts'
import { ASCIICAST_CONTENT_TYPE } from './recording.ts'
import type { TicketStore } from './tickets.ts'

export { CLOSE, SessionManager, type TerminalProject } from './manager.ts'
export { parseAsciicast } from './recording.ts'
export { createRunnerRegistry, type RunnerRegistry, runnerRegistryOf } from './runners.ts'
export { TicketStore } from './tickets.ts'

/** The subset of the flags service the terminal needs (api/src/flags). */
export interface TerminalFlags {
  isEnabled(key: string, subject?: string, fallback?: boolean): Promise<boolean>
}

export interface TerminalModuleOptions {
  config: Pick<Config, 'terminal' | 'trustProxyHops' | 'publicOrigin' | 'corsOrigins'>
  manager: SessionManager
  tickets: TicketStore
  /** Finds a live project by slug; default: the projects table. */
  resolveProject: (slug: string) => Promise<TerminalProject | null>
  /** Feature flags; when absent every terminal flag is treated as on. */
  flags?: TerminalFlags | undefined
  /** The app's deps object: the auth plugin keys its service on it (admin routes). */
  auth: AuthDeps
}

const PROJECTS_DIR = join(REPO_ROOT, 'wasm-projects')

/** Resolves projects from the database; sources live under wasm-projects/ and never outside it. */
export function projectsFromDatabase(db: Db): (slug: string) => Promise<TerminalProject | null> {
  return async (slug) => {
    const [row] = await db
      .select()
      .from(projects)
      .where(and(eq(projects.slug, slug), isNull(projects.deletedAt)))
      .limit(1)
    if (!row) return null
    const folder = row.sourcePath.replace(/^wasm-projects\//, '')
    const sourceDir = resolve(PROJECTS_DIR, folder)
    if (!sourceDir.startsWith(PROJECTS_DIR + sep)) return null
    const runners = row.runners.filter((r): r is RunnerKind => r === 'wasi' || r === 'docker')
    return { slug: row.slug, sourceDir, policy: row.policy?.allow ? row.policy : DEFAULT_POLICY, runners }
  }
}

/** Per-connection state, keyed by Bun's socket (Elysia wraps it in a new object per event). */
interface Connection {
  socket: TerminalSocket
  session: LiveSession | null
  /** Frames that arrived while the session was being opened (bounded). */
  early: unknown[]
  closed: boolean
}

interface RawSocket {
  send(data: Uint8Array | string): number
  sendText(data: string): number
  getBufferedAmount(): number
  close(code?: number, reason?: string): void
}

const MAX_EARLY_FRAMES = 64

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

const intParam = (v: unknown, fallback: number) => {
  const n = typeof v === 'string' && /^\d{1,4}$/.test(v) ? Number(v) : Number.NaN
  return n >= 1 && n <= 1000 ? n : fallback
}

/**
 * module.terminal: `POST /api/v1/terminal/sessions` issues a ticket, `WS /api/v1/terminal/ws`
 * redeems it and speaks the protocol of DESIGN.md §6.
 */
export function terminalModule(options: TerminalModuleOptions) {
  const { config, manager, tickets } = options
  const flagOn = async (key: string, subject: string) =>
    options.flags ? options.flags.isEnabled(key, subject, true) : true
  const connections = new WeakMap<object, Connection>()

  const handle = (conn: Connection, message: unknown) => {
    const session = conn.session
    if (!session) return
    if (message instanceof Uint8Array) {
      session.input(message)
      return
    }
    if (message instanceof ArrayBuffer) {
      session.input(new Uint8Array(message))
      return
    }
    const parsed = parseClientMessage(message)
    if (typeof parsed === 'string') {
      conn.socket.sendText(JSON.stringify({ type: 'error', code: 'BAD_MESSAGE', message: parsed }))
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

  const refuse = (socket: TerminalSocket, code: number, errorCode: string, message: string) => {
    socket.sendText(JSON.stringify({ type: 'error', code: errorCode, message }))
    socket.close(code, message.slice(0, 120))
  }

  return new Elysia({ name: 'module.terminal' })
    .use(authPlugin(options.auth))
    .model(terminalModels)
    .post(
      '/api/v1/terminal/sessions',
      async ({ body, request, server, set }) => {
        const ip = clientIp(request, server?.requestIP(request)?.address, config.trustProxyHops)
        if (!(await flagOn('terminal.enabled', ip))) {
          throw new ServiceUnavailableError('live terminals are turned off right now', 'TERMINAL_DISABLED')
        }
        const project = await options.resolveProject(body.project)
        if (!project) throw new NotFoundError(`no project '${body.project}'`, 'PROJECT_NOT_FOUND')
        const availability = manager.runners.availability()
        const runner: RunnerKind | undefined =
          body.runner ?? project.runners.find((r) => availability[r]) ?? project.runners[0]
        if (!runner || !project.runners.includes(runner)) {
          throw new BadRequestError(
            `project '${project.slug}' does not run on ${runner ?? 'any runner'} (runs on: ${project.runners.join(', ') || 'none'})`,
            undefined,
            'RUNNER_NOT_SUPPORTED',
          )
        }
        if (!(await flagOn(`terminal.${runner}`, ip))) {
          throw new ServiceUnavailableError(`the ${runner} runner is turned off right now`, 'RUNNER_UNAVAILABLE')
        }
        if (!manager.runners.get(runner) || !availability[runner]) {
          throw new ServiceUnavailableError(
            `the ${runner} runner is not available on this server`,
            'RUNNER_UNAVAILABLE',
          )
        }
        const sessionId = randomUUID()
        const expiresAt = Date.now() + config.terminal.ticketTtlMs
        const verdict = await manager.reserve({ sessionId, project: project.slug, runner, ip, expiresAt })
        if (verdict === 'ip') {
          throw new AppError(
            429,
            'SESSION_LIMIT_IP',
            `you already have ${config.terminal.maxPerIp} live terminal sessions; close one first`,
            { limit: config.terminal.maxPerIp },
            { 'Retry-After': '30' },
          )
        }
        if (verdict === 'global') {
          throw new AppError(
            503,
            'SESSION_LIMIT_GLOBAL',
            'all terminal sessions are in use right now; try again in a minute',
            { limit: config.terminal.maxSessions },
            { 'Retry-After': '60' },
          )
        }
        const issued = await tickets.issue({ sessionId, project: project.slug, runner, ip })
        set.status = 201
        set.headers['cache-control'] = 'no-store'
        return ok({ sessionId, ticket: issued.ticket, runner, expiresAt: new Date(issued.expiresAt).toISOString() })
      },
      {
        body: 'terminal.create',
        response: { 201: 'terminal.ticket' },
        detail: {
          summary: 'Start a terminal session: returns a single-use WebSocket ticket',
          tags: ['terminal'],
        },
      },
    )
    .get(
      '/api/v1/terminal/sessions',
      async ({ set }) => {
        set.headers['cache-control'] = 'no-store'
        const live = await manager.registry.list()
        const items = live
          .filter((r) => r.status !== 'pending')
          .map((r) => ({
            id: r.id,
            project: r.project,
            runner: r.runner,
            ip: r.ip,
            instance: r.instance,
            host: r.host ?? r.instance,
            status: r.status,
            startedAt: new Date(r.startedAt).toISOString(),
            expiresAt: new Date(r.expiresAt).toISOString(),
          }))
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
        if (!(await manager.kill(params.id)))
          throw new NotFoundError('no live session with this id', 'SESSION_NOT_FOUND')
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
        const body = await manager.recording(params.id)
        if (!body) throw new NotFoundError('no recording for this session', 'RECORDING_NOT_FOUND')
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
        const conn: Connection = { socket, session: null, early: [], closed: false }
        connections.set(ws.raw, conn)
        const request = ws.data.request
        const query = ws.data.query as Record<string, string | undefined>
        const origin = originAllowed(request, config)
        if (!origin.ok) {
          refuse(
            socket,
            CLOSE.forbidden,
            'ORIGIN_REFUSED',
            `origin ${origin.origin.slice(0, 80)} may not open terminals`,
          )
          return
        }
        try {
          if (query.resume) {
            const result = await manager.resume(query.session ?? '', query.resume, socket, options.resolveProject)
            if (!result.ok) {
              if (result.exit) {
                socket.sendText(JSON.stringify({ type: 'exit', ...result.exit }))
                socket.close(result.code, result.reason)
              } else refuse(socket, result.code, 'SESSION_GONE', result.reason)
              return
            }
            conn.session = result.session
          } else {
            const ticket = query.ticket ? await tickets.redeem(query.ticket) : null
            if (!ticket) {
              refuse(
                socket,
                CLOSE.unauthorized,
                'TICKET_INVALID',
                query.ticket
                  ? 'the ticket is invalid, expired or already used; request a new session'
                  : 'missing ?ticket=; create a session with POST /api/v1/terminal/sessions first',
              )
              return
            }
            const project = await options.resolveProject(ticket.project)
            if (!project) {
              await manager.registry.remove(ticket.sessionId)
              refuse(socket, CLOSE.gone, 'PROJECT_NOT_FOUND', `project '${ticket.project}' no longer exists`)
              return
            }
            const size = { cols: intParam(query.cols, 80), rows: intParam(query.rows, 24) }
            try {
              conn.session = await manager.open(ticket, project, size, socket)
            } catch (err) {
              const code = err instanceof RunnerError ? err.code : 'RUNNER_ERROR'
              const message = err instanceof RunnerError ? err.message : 'the session could not be started'
              socket.sendText(JSON.stringify({ type: 'error', code, message }))
              socket.sendText(JSON.stringify({ type: 'exit', code: null, reason: 'error' }))
              socket.close(CLOSE.unavailable, 'the session could not be started')
              return
            }
          }
          // The client may have gone while we were opening: start the grace period now.
          if (conn.closed) conn.session.detach(socket)
          else for (const frame of conn.early.splice(0)) handle(conn, frame)
        } catch {
          refuse(socket, 1011, 'INTERNAL', 'the terminal could not be opened; try again')
        }
      },
      message(ws, message) {
        const conn = connections.get(ws.raw)
        if (!conn) return
        if (!conn.session) {
          if (conn.early.length < MAX_EARLY_FRAMES) conn.early.push(message)
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
        conn.session?.detach(conn.socket)
      },
    })
}
