import { randomUUID } from 'node:crypto'
import { RunnerError, type RunnerKind, type TerminalSize } from '@shellfolio/runner'
import { CLOSE, type ServerMessage } from '@shellfolio/runner/terminal-protocol'
import type { TerminalConfig } from '../config.ts'
import { AppError, BadRequestError, NotFoundError, ServiceUnavailableError } from '../http/errors.ts'
import type { SessionManager } from './manager.ts'
import type { ProjectResolver } from './projects.ts'
import { estimate, QUEUE_LIMITS } from './queue.ts'
import type { LiveSession, TerminalSocket } from './session.ts'
import type { TicketStore } from './tickets.ts'

/** The subset of the flags service the terminal needs (api/src/flags). */
export interface TerminalFlags {
  isEnabled(key: string, subject?: string, fallback?: boolean): Promise<boolean>
}

export interface TerminalServiceOptions {
  config: Pick<TerminalConfig, 'maxPerIp' | 'maxSessions' | 'ticketTtlMs' | 'timeLimitMs'>
  manager: SessionManager
  tickets: TicketStore
  /** Finds a live project by slug (api/src/terminal/projects.ts). */
  projects: ProjectResolver
  /** Feature flags; when absent every terminal flag is treated as on. */
  flags?: TerminalFlags | undefined
}

/** A session request was granted: the ticket the WebSocket redeems. */
export interface IssuedTicket {
  sessionId: string
  ticket: string
  runner: RunnerKind
  /** When the ticket stops being accepted (ISO 8601). */
  expiresAt: string
}

/** A place in the waiting line (docs/terminal-protocol.md, "Waiting for a slot"). */
export interface QueuePlace {
  status: 'waiting'
  /** The place's id: poll `GET /api/v1/terminal/queue/:id`, leave with `DELETE`. */
  id: string
  project: string
  /** 1-based place among everyone waiting (the slots are shared by every project). */
  position: number
  /** 1-based place among those waiting for the same project. */
  projectPosition: number
  /** About how long until a slot is this place's. */
  estimateSeconds: number
  /** What the estimate is made of: recently ended sessions' lengths, or the live sessions' time limits. */
  estimateBasis: 'recent-sessions' | 'time-limit'
  /** This client already holds its per-IP sessions: the place waits for one of them to end. */
  waitingForOwnSession: boolean
  /** Poll again after this long. */
  pollAfterMs: number
  /** The place is dropped when not polled for this long. */
  leaveAfterMs: number
}

/** A poll's answer: still waiting, or the slot is yours (a ticket, as `POST /sessions` answers). */
export type QueueStatus = QueuePlace | ({ status: 'ready' } & IssuedTicket)

/** A socket that cannot be served: the messages it gets, then the close code and reason. */
export interface Refusal {
  messages: ServerMessage[]
  close: number
  reason: string
}

export type Attached = { ok: true; session: LiveSession } | ({ ok: false } & Refusal)

/** A refusal with one `error` message, closing with the message as the reason (capped at 120 bytes). */
export const refusal = (close: number, code: string, message: string): Refusal => ({
  messages: [{ type: 'error', code, message }],
  close,
  reason: message.slice(0, 120),
})

/**
 * The terminal feature without HTTP: grants session requests (flags, project, runner, caps),
 * opens or resumes sessions for sockets, and serves the admin's list, kill and recordings.
 */
export function createTerminalService({ config, manager, tickets, projects, flags }: TerminalServiceOptions) {
  const flagOn = async (key: string, subject: string) => (flags ? flags.isEnabled(key, subject, true) : true)

  /** A waiting place's poll: its place and estimate, or the ticket when a slot was taken for it. */
  const queueStatus = async (id: string): Promise<QueueStatus> => {
    const claim = await manager.claim(id)
    if (claim.state === 'gone') {
      throw new NotFoundError(
        'this place in line is gone (left, served, or not polled in time); request a session again',
        'QUEUE_PLACE_GONE',
      )
    }
    if (claim.state === 'ready') {
      const { entry } = claim
      const sessionId = claim.sessionId as string
      const issued = await tickets.issue({
        sessionId,
        project: entry.project,
        runner: entry.runner,
        ip: entry.ip,
        ...(entry.origin ? { origin: entry.origin } : {}),
      })
      return {
        status: 'ready',
        sessionId,
        ticket: issued.ticket,
        runner: entry.runner,
        expiresAt: new Date(issued.expiresAt).toISOString(),
      }
    }
    const lengths = await manager.queue.lengths().catch(() => [])
    return {
      status: 'waiting',
      id,
      project: claim.project,
      position: claim.position,
      projectPosition: claim.projectPosition,
      ...estimate(claim, lengths, config, Date.now()),
      waitingForOwnSession: claim.ownLimit,
      pollAfterMs: QUEUE_LIMITS.pollMs,
      leaveAfterMs: QUEUE_LIMITS.ttlMs,
    }
  }

  return {
    /** The session manager: the file routes (files.ts) find this instance's sessions in it; watch links (watch.ts) are served from it. */
    manager,

    /**
     * Grants a session for `project` on `runner` (default: the first of the project's runners that
     * is up) to the client at `ip`: reserves a slot under the caps and issues a single-use ticket.
     */
    async createSession(input: {
      project: string
      runner?: RunnerKind | undefined
      ip: string
      /** The embedding page's origin (an embed's request), shown in the admin's live list. */
      origin?: string | undefined
      /** Wait in line when the deployment is full instead of being refused (docs/terminal-protocol.md). */
      queue?: boolean | undefined
    }): Promise<IssuedTicket | QueuePlace> {
      const { ip } = input
      if (!(await flagOn('terminal.enabled', ip))) {
        throw new ServiceUnavailableError('live terminals are turned off right now', 'TERMINAL_DISABLED')
      }
      const project = await projects(input.project)
      if (!project) throw new NotFoundError(`no project '${input.project}'`, 'PROJECT_NOT_FOUND')
      const availability = manager.runners.availability()
      const runner: RunnerKind | undefined =
        input.runner ?? project.runners.find((r) => availability[r]) ?? project.runners[0]
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
        throw new ServiceUnavailableError(`the ${runner} runner is not available on this server`, 'RUNNER_UNAVAILABLE')
      }
      const sessionId = randomUUID()
      const expiresAt = Date.now() + config.ticketTtlMs
      const verdict = await manager.reserve({ sessionId, project: project.slug, runner, ip, expiresAt })
      if (verdict === 'ip') {
        throw new AppError(
          429,
          'SESSION_LIMIT_IP',
          `you already have ${config.maxPerIp} live terminal sessions; close one first`,
          { limit: config.maxPerIp },
          { 'Retry-After': '30' },
        )
      }
      if (verdict === 'global' && input.queue) {
        const placed = await manager.queue.enqueue({
          project: project.slug,
          runner,
          ip,
          ...(input.origin ? { origin: input.origin } : {}),
        })
        if (!placed.ok && placed.reason === 'ip') {
          throw new AppError(
            429,
            'QUEUE_LIMIT_IP',
            `you are already waiting for ${QUEUE_LIMITS.perIp} terminals; wait in one of those tabs`,
            { limit: QUEUE_LIMITS.perIp },
            { 'Retry-After': '30' },
          )
        }
        if (!placed.ok) {
          throw new AppError(
            503,
            'QUEUE_FULL',
            'all terminal sessions are in use and the waiting line is full; try again in a few minutes',
            { limit: QUEUE_LIMITS.total },
            { 'Retry-After': '120' },
          )
        }
        // A slot may have freed meanwhile: the first poll is made now.
        const status = await queueStatus(placed.entry.id)
        if (status.status === 'ready') {
          const { status: _ready, ...ticket } = status
          return ticket
        }
        return status
      }
      if (verdict === 'global') {
        throw new AppError(
          503,
          'SESSION_LIMIT_GLOBAL',
          'all terminal sessions are in use right now; try again in a minute',
          { limit: config.maxSessions },
          { 'Retry-After': '60' },
        )
      }
      const issued = await tickets.issue({
        sessionId,
        project: project.slug,
        runner,
        ip,
        ...(input.origin ? { origin: input.origin } : {}),
      })
      return { sessionId, ticket: issued.ticket, runner, expiresAt: new Date(issued.expiresAt).toISOString() }
    },

    /** A waiting place's poll (its heartbeat): the place and estimate, or the ticket once a slot is its. */
    queueStatus,

    /** Gives up a place in line. */
    async leaveQueue(id: string): Promise<void> {
      if (!(await manager.queue.leave(id))) {
        throw new NotFoundError('no such place in line', 'QUEUE_PLACE_GONE')
      }
    },

    /**
     * Redeems `ticket` and opens its session on `socket` at `size`; the ticket must be redeemed
     * from the IP that requested it (`ip`, docs/terminal-protocol.md).
     */
    async open(ticket: string | undefined, size: TerminalSize, socket: TerminalSocket, ip: string): Promise<Attached> {
      const payload = ticket ? await tickets.redeem(ticket, ip) : null
      if (payload === 'wrong-ip') {
        return {
          ok: false,
          ...refusal(
            CLOSE.forbidden,
            'TICKET_IP_MISMATCH',
            'this ticket was issued to another network address; request a new session from this one',
          ),
        }
      }
      if (!payload) {
        return {
          ok: false,
          ...refusal(
            CLOSE.unauthorized,
            'TICKET_INVALID',
            ticket
              ? 'the ticket is invalid, expired or already used; request a new session'
              : 'missing ?ticket=; create a session with POST /api/v1/terminal/sessions first',
          ),
        }
      }
      const project = await projects(payload.project)
      if (!project) {
        await manager.release(payload.sessionId)
        return {
          ok: false,
          ...refusal(CLOSE.gone, 'PROJECT_NOT_FOUND', `project '${payload.project}' no longer exists`),
        }
      }
      try {
        return { ok: true, session: await manager.open(payload, project, size, socket) }
      } catch (err) {
        const known = err instanceof RunnerError
        return {
          ok: false,
          messages: [
            {
              type: 'error',
              code: known ? err.code : 'RUNNER_ERROR',
              message: known ? err.message : 'the session could not be started',
            },
            { type: 'exit', code: null, reason: 'error' },
          ],
          close: CLOSE.unavailable,
          reason: 'the session could not be started',
        }
      }
    },

    /** Reattaches `socket` to session `sessionId` with its resume token (on this instance, or adopted). */
    async resume(sessionId: string, token: string, socket: TerminalSocket): Promise<Attached> {
      const result = await manager.resume(sessionId, token, socket, projects)
      if (result.ok) return result
      if (result.exit) {
        return { ok: false, messages: [{ type: 'exit', ...result.exit }], close: result.code, reason: result.reason }
      }
      return { ok: false, ...refusal(result.code, 'SESSION_GONE', result.reason) }
    },

    /** Live sessions on every instance (tickets not redeemed yet are left out). */
    async live() {
      const records = await manager.registry.list()
      return records
        .filter((r) => r.status !== 'pending')
        .map((r) => ({
          id: r.id,
          project: r.project,
          runner: r.runner,
          ip: r.ip,
          instance: r.instance,
          host: r.host ?? r.instance,
          status: r.status,
          ...(r.origin ? { origin: r.origin } : {}),
          startedAt: new Date(r.startedAt).toISOString(),
          expiresAt: new Date(r.expiresAt).toISOString(),
        }))
    },

    /** Kills a live session on whichever instance runs it. */
    async kill(id: string): Promise<void> {
      if (!(await manager.kill(id))) throw new NotFoundError('no live session with this id', 'SESSION_NOT_FOUND')
    },

    /** A session's asciicast recording (live or stored). */
    async recording(id: string): Promise<Uint8Array> {
      const body = await manager.recording(id)
      if (!body) throw new NotFoundError('no recording for this session', 'RECORDING_NOT_FOUND')
      return body
    },
  }
}

export type TerminalService = ReturnType<typeof createTerminalService>
