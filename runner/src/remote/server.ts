import { timingSafeEqual } from 'node:crypto'
import { existsSync } from 'node:fs'
import { basename, join } from 'node:path'
import type { ServerWebSocket } from 'bun'
import { type ExitReason, type Runner, RunnerError, type RunnerKind, type RunnerSession } from '../types.ts'
import { type ClientFrame, HEALTH_PATH, type HealthBody, SESSIONS_PATH, type ServerFrame } from './protocol.ts'

export interface RunnerServerOptions {
  runners: Runner[]
  /** Shared secret every request must present as `Authorization: Bearer <token>`. */
  token: string
  /** Where project sources live on this host (default: this checkout's wasm-projects and runner/fixtures). */
  projectRoots?: string[]
  hostname?: string
  port?: number
}

const REPO_ROOT = join(import.meta.dir, '..', '..', '..')
const DEFAULT_ROOTS = [join(REPO_ROOT, 'wasm-projects'), join(REPO_ROOT, 'runner', 'fixtures')]

interface Conn {
  session?: RunnerSession
  /** Paused by the API (its client is behind) or by us (this socket is backpressured). */
  clientPaused: boolean
  socketPaused: boolean
}

const sameSecret = (a: string, b: string) => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/**
 * Serves runners to API instances (DESIGN.md §7 placement): one WebSocket per session. A session
 * ends when its socket closes, so an API crash never leaves sessions behind here.
 */
export function createRunnerServer(options: RunnerServerOptions) {
  if (options.token.length < 32) throw new Error('the runner token must be at least 32 characters')
  const byKind = new Map<RunnerKind, Runner>(options.runners.map((r) => [r.kind, r]))
  const roots = options.projectRoots ?? DEFAULT_ROOTS
  const authorized = (req: Request) => {
    const header = req.headers.get('authorization') ?? ''
    return header.startsWith('Bearer ') && sameSecret(header.slice(7), options.token)
  }
  // Never trust a path from the wire: the project is looked up by name under our own roots.
  const sourceDirOf = (sent: string): string | undefined => {
    const name = basename(sent)
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) return undefined
    return roots.map((r) => join(r, name)).find((d) => existsSync(d))
  }

  const send = (ws: ServerWebSocket<Conn>, frame: ServerFrame) => ws.sendText(JSON.stringify(frame))
  const syncPause = (c: Conn) => {
    if (!c.session) return
    if (c.clientPaused || c.socketPaused) c.session.pause()
    else c.session.resume()
  }

  const open = async (ws: ServerWebSocket<Conn>, frame: Extract<ClientFrame, { type: 'open' }>) => {
    const runner = byKind.get(frame.kind)
    if (!runner) throw new RunnerError('RUNNER_UNAVAILABLE', `this runner service has no ${frame.kind} runner`)
    const sourceDir = sourceDirOf(frame.options.project.sourceDir)
    if (!sourceDir)
      throw new RunnerError('PROJECT_NOT_FOUND', `project ${frame.options.project.slug} is not on this host`)
    const session = await runner.open({ ...frame.options, project: { ...frame.options.project, sourceDir } })
    if (ws.readyState !== 1) {
      await session.kill()
      return
    }
    ws.data.session = session
    session.onData((chunk) => {
      // -1: queued under backpressure; stop reading the program until the socket drains.
      if (ws.send(chunk) === -1 && !ws.data.socketPaused) {
        ws.data.socketPaused = true
        syncPause(ws.data)
      }
    })
    void session.exited.then((info) => {
      if (ws.readyState === 1) {
        send(ws, { type: 'exit', info })
        ws.close(1000, 'session ended')
      }
    })
    send(ws, { type: 'opened', id: session.id })
  }

  const server = Bun.serve<Conn>({
    hostname: options.hostname ?? '127.0.0.1',
    port: options.port ?? 4100,
    async fetch(req, srv) {
      const url = new URL(req.url)
      if (!authorized(req)) return Response.json({ error: 'unauthorized' }, { status: 401 })
      if (url.pathname === HEALTH_PATH) {
        const kinds: HealthBody['kinds'] = {}
        for (const [kind, r] of byKind) kinds[kind] = await r.available().catch(() => false)
        return Response.json({ kinds } satisfies HealthBody)
      }
      if (url.pathname === SESSIONS_PATH) {
        if (srv.upgrade(req, { data: { clientPaused: false, socketPaused: false } })) return undefined
        return Response.json({ error: 'expected a WebSocket upgrade' }, { status: 400 })
      }
      return Response.json({ error: 'not found' }, { status: 404 })
    },
    websocket: {
      maxPayloadLength: 1024 * 1024,
      async message(ws, message) {
        const c = ws.data
        if (typeof message !== 'string') {
          c.session?.write(new Uint8Array(message))
          return
        }
        let frame: ClientFrame
        try {
          frame = JSON.parse(message) as ClientFrame
        } catch {
          send(ws, { type: 'error', code: 'BAD_FRAME', message: 'text frames must be JSON' })
          return
        }
        switch (frame.type) {
          case 'open':
            if (c.session) return
            try {
              await open(ws, frame)
            } catch (err) {
              const code = err instanceof RunnerError ? err.code : 'RUNNER_ERROR'
              send(ws, { type: 'error', code, message: err instanceof Error ? err.message : String(err) })
              ws.close(1011, code)
            }
            return
          case 'resize':
            await c.session?.resize({ cols: frame.cols, rows: frame.rows }).catch(() => {})
            return
          case 'pause':
            c.clientPaused = true
            syncPause(c)
            return
          case 'resume':
            c.clientPaused = false
            syncPause(c)
            return
          case 'kill':
            await c.session?.kill(frame.reason as ExitReason)
            return
        }
      },
      drain(ws) {
        if (ws.data.socketPaused) {
          ws.data.socketPaused = false
          syncPause(ws.data)
        }
      },
      close(ws) {
        void ws.data.session?.kill('killed')
      },
    },
  })

  return {
    url: `ws://${server.hostname}:${server.port}`,
    port: server.port as number,
    async close() {
      await server.stop(true)
      await Promise.allSettled(options.runners.map((r) => r.close()))
    },
  }
}
