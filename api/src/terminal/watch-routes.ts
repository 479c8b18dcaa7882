import { CLOSE, type ServerMessage } from '@shellfolio/runner/terminal-protocol'
import { Elysia, t } from 'elysia'
import { type AuthDeps, authPlugin } from '../auth/index.ts'
import type { Config } from '../config.ts'
import { clientIp } from '../http/client-ip.ts'
import { ok } from '../http/envelope.ts'
import { NotFoundError } from '../http/errors.ts'
import type { SessionManager } from './manager.ts'
import type { TerminalSocket } from './session.ts'
import type { Spectator } from './watch.ts'

export interface WatchRoutesOptions {
  config: Pick<Config, 'trustProxyHops' | 'publicOrigin' | 'corsOrigins'>
  manager: SessionManager
  auth: AuthDeps
  /** The terminal socket's Origin rule (index.ts): a spectator socket follows it too. */
  originAllowed(request: Request): boolean
}

interface RawSocket {
  readonly remoteAddress: string
  send(data: Uint8Array | string): number
  sendText(data: string): number
  getBufferedAmount(): number
  close(code?: number, reason?: string): void
}

interface Watcher {
  socket: TerminalSocket
  spectator: Spectator | null
  closed: boolean
  /** The client was told once that it cannot type. */
  toldReadOnly: boolean
}

const ownerBody = t.Object({ resumeToken: t.String({ minLength: 1, maxLength: 100 }) })
const idParams = t.Object({ id: t.String({ format: 'uuid' }) })
const watchLink = t.Object({
  data: t.Object({ watchUrl: t.String(), token: t.String() }),
  meta: t.Null(),
  error: t.Null(),
})

const sendMessage = (socket: TerminalSocket, message: ServerMessage) => socket.sendText(JSON.stringify(message))

/**
 * Watch links (docs/terminal-protocol.md, "Watching"): the owner of a live session creates and
 * revokes its link, an admin gets a view of any live session, and `WS /api/v1/terminal/watch`
 * serves read-only spectators. The work is done by `WatchHub` (watch.ts).
 */
export function watchRoutes({ config, manager, auth, originAllowed }: WatchRoutesOptions) {
  const hub = manager.watch
  const watchers = new WeakMap<object, Watcher>()
  const urlOf = (request: Request, token: string) =>
    `${config.publicOrigin ?? new URL(request.url).origin}/watch/${token}`
  const notFound = () => new NotFoundError('no live session with this id and resume token', 'SESSION_NOT_FOUND')

  return new Elysia({ name: 'module.terminal.watch' })
    .use(authPlugin(auth))
    .post(
      '/api/v1/terminal/sessions/:id/watch',
      async ({ params, body, request, set }) => {
        const token = await hub.link(params.id, body.resumeToken)
        if (!token) throw notFound()
        set.status = 201
        set.headers['cache-control'] = 'no-store'
        return ok({ watchUrl: urlOf(request, token), token })
      },
      {
        params: idParams,
        body: ownerBody,
        response: { 201: watchLink },
        detail: { summary: "A read-only watch link to one's own live session (its resume token)", tags: ['terminal'] },
      },
    )
    .delete(
      '/api/v1/terminal/sessions/:id/watch',
      async ({ params, body }) => {
        if (!(await hub.revoke(params.id, body.resumeToken))) throw notFound()
        return ok({ id: params.id, status: 'revoked' })
      },
      {
        params: idParams,
        body: ownerBody,
        detail: { summary: 'Revoke the watch link (its spectators are disconnected)', tags: ['terminal'] },
      },
    )
    .post(
      '/api/v1/terminal/sessions/:id/watch/admin',
      async ({ params, request, set }) => {
        const token = await hub.adminToken(params.id)
        if (!token) throw new NotFoundError('no live session with this id', 'SESSION_NOT_FOUND')
        set.status = 201
        set.headers['cache-control'] = 'no-store'
        return ok({ watchUrl: urlOf(request, token), token })
      },
      {
        auth: 'admin',
        params: idParams,
        response: { 201: watchLink },
        detail: { summary: 'Watch any live session (admin; not revoked by the owner)', tags: ['terminal'] },
      },
    )
    .ws('/api/v1/terminal/watch', {
      async open(ws) {
        const raw = ws.raw as unknown as RawSocket
        const socket: TerminalSocket = {
          sendBinary: (data) => raw.send(data),
          sendText: (text) => raw.sendText(text),
          bufferedAmount: () => raw.getBufferedAmount(),
          close: (code, reason) => raw.close(code, reason),
        }
        const watcher: Watcher = { socket, spectator: null, closed: false, toldReadOnly: false }
        watchers.set(ws.raw, watcher)
        const refuse = (close: number, code: string, message: string) => {
          sendMessage(socket, { type: 'error', code, message })
          socket.close(close, message.slice(0, 120))
        }
        if (!originAllowed(ws.data.request)) {
          refuse(CLOSE.forbidden, 'ORIGIN_REFUSED', 'this origin may not watch terminals')
          return
        }
        const query = ws.data.query as Record<string, string | undefined>
        const ip = clientIp(ws.data.request, raw.remoteAddress, config.trustProxyHops)
        try {
          const attached = await hub.attach(query.token, socket, ip)
          if (!attached.ok) {
            refuse(attached.close, attached.code, attached.message)
            return
          }
          watcher.spectator = attached.spectator
          if (watcher.closed) hub.detach(attached.spectator)
        } catch {
          refuse(CLOSE.internal, 'INTERNAL', 'the session could not be watched; try again')
        }
      },
      message(ws, message) {
        const watcher = watchers.get(ws.raw)
        if (!watcher) return
        // A ping is answered; anything else (keystrokes, resize) is refused: a spectator only watches.
        if (typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'ping') {
          sendMessage(watcher.socket, { type: 'pong' })
          return
        }
        if (message !== null && typeof message === 'object' && 'type' in message && message.type === 'ack') return
        if (watcher.toldReadOnly) return
        watcher.toldReadOnly = true
        sendMessage(watcher.socket, {
          type: 'error',
          code: 'READ_ONLY',
          message: 'this is a read-only view: input from spectators is refused',
        })
      },
      close(ws) {
        const watcher = watchers.get(ws.raw)
        if (!watcher) return
        watcher.closed = true
        if (watcher.spectator) hub.detach(watcher.spectator)
      },
    })
}
