import { resolve as resolvePath, sep } from 'node:path'
import { CLOSE } from '../protocol/terminal.ts'
import { type OpenOptions, type Runner, RunnerError, type RunnerKind, type RunnerSession } from '../types.ts'
import { BUNDLE_CHUNK, makeBundle } from './bundle.ts'
import { remoteFileHop } from './files.ts'
import { type GrantBody, signGrant } from './grant.ts'
import { HEALTH_PATH, normalizeUrl, type RunnerInfo, SESSIONS_PATH, type ServerFrame } from './protocol.ts'
import { type RegistryReader, readRegistrations } from './registration.ts'
import { RemoteSession } from './session.ts'

export interface RemotePoolOptions {
  /** Runner services, `ws://host:port` or `wss://…`. Sessions are placed only on these. */
  urls: string[]
  /** Shared secret (RUNNER_TOKEN) the grants are signed with; it never travels. */
  token: string
  /**
   * Redis with the runner services' registrations (capacity, load, health). Without it, or for a
   * service that has not registered, the pool asks the service itself (`/v1/health`).
   */
  redis?: RegistryReader
  /** How often service state is refreshed in the background (default 2 s). */
  refreshMs?: number
  /** How long opening a session may take (default 60 s: a cold container, or a project's files to send). */
  openTimeoutMs?: number
  /**
   * Folders whose projects travel with the session (bundle.ts): a project whose `sourceDir` is inside
   * one of them (the API's laid-out imported versions, DATA_DIR/project-files) is sent to the runner
   * service by hash, once per service; any other project is looked up by name on the service host.
   */
  shipRoots?: string[]
  log?: (event: string, fields?: Record<string, unknown>) => void
}

/** What the API knows about one runner service. */
export interface ServiceState {
  url: string
  info: RunnerInfo | null
  /** Where `info` came from. */
  source: 'redis' | 'probe' | null
  /** Set when a session socket dropped or a connection failed; cleared by a good probe or a restart. */
  down: { since: number; boot: string | null; why: string } | null
  /** Opens this API instance has in flight there (not yet in the service's count). */
  inflight: number
  /** Sessions this API instance holds there (exact, while `info` may lag behind by one publish). */
  mine: number
}

const httpOf = (url: string) => url.replace(/^ws/, 'http')
/** Bytes queued on a session socket before a transfer of project files waits for it to drain. */
const SEND_HIGH_WATER = 1024 * 1024

/** Sends a project tar in frames the service accepts, pacing on the socket's buffer. */
async function sendBundle(ws: WebSocket, body: Uint8Array): Promise<void> {
  for (let at = 0; at < body.length; at += BUNDLE_CHUNK) {
    while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount > SEND_HIGH_WATER) await Bun.sleep(2)
    if (ws.readyState !== WebSocket.OPEN) return
    ws.send(body.subarray(at, at + BUNDLE_CHUNK))
  }
}
const STOPPED = 'the runner service running this session stopped'

/** A Runner on runner services that can also re-attach to a session another API instance opened. */
export interface RemoteRunner extends Runner {
  resume(runnerSessionId: string, options: OpenOptions): Promise<RunnerSession>
}

/**
 * The API side of remote placement (docs/runners.md): knows the runner services' capacity and health
 * (Redis registrations, or their own `/v1/health`), places each session on the least-loaded healthy
 * service offering the back end, marks a service down when its sockets drop, and hands out one
 * `Runner` per kind so the session manager needs no Docker access at all.
 */
export function createRemotePool(options: RemotePoolOptions) {
  const { token } = options
  const log = options.log ?? (() => {})
  const states = new Map<string, ServiceState>(
    options.urls.map((u) => {
      const url = normalizeUrl(u)
      return [url, { url, info: null, source: null, down: null, inflight: 0, mine: 0 }]
    }),
  )
  const sessions = new Set<RemoteSession>()
  let closed = false
  let turn = 0
  const unregisteredWarned = new Set<string>()

  const probe = async (s: ServiceState): Promise<RunnerInfo | null> => {
    try {
      const res = await fetch(`${httpOf(s.url)}${HEALTH_PATH}`, {
        headers: { authorization: `Grant ${signGrant(token, { typ: 'health' }, '*')}` },
        signal: AbortSignal.timeout(3000),
      })
      if (res.status === 401) {
        log('runner service refused the grant (is RUNNER_TOKEN the same on both sides?)', { url: s.url })
        return null
      }
      if (!res.ok) return null
      return (await res.json()) as RunnerInfo
    } catch {
      return null
    }
  }

  const markDown = (s: ServiceState, why: string) => {
    if (!s.down) log('runner service marked unhealthy', { url: s.url, why })
    s.down = { since: Date.now(), boot: s.info?.boot ?? null, why }
  }

  let refreshing: Promise<void> | null = null
  /** Reads registrations (one round trip) and probes services that did not register or are down. */
  const refresh = () => {
    refreshing ??= (async () => {
      let registered = new Map<string, RunnerInfo>()
      if (options.redis) registered = await readRegistrations(options.redis).catch(() => new Map())
      await Promise.all(
        [...states.values()].map(async (s) => {
          const reg = registered.get(s.url)
          if (reg && !s.down) {
            s.info = reg
            s.source = 'redis'
            return
          }
          if (reg && s.down && s.down.boot !== reg.boot) {
            // Restarted (a new boot registered): healthy again.
            s.down = null
            s.info = reg
            s.source = 'redis'
            log('runner service is back', { url: s.url })
            return
          }
          if (options.redis && !reg && !unregisteredWarned.has(s.url)) {
            unregisteredWarned.add(s.url)
            log('runner service has not registered in Redis (does it have REDIS_URL?); asking it directly', {
              url: s.url,
            })
          }
          const info = await probe(s)
          s.info = info
          s.source = info ? 'probe' : null
          if (info && s.down) {
            s.down = null
            log('runner service is back', { url: s.url })
          }
          if (!info && !s.down && !options.redis) markDown(s, 'no answer to a health check')
        }),
      )
    })().finally(() => {
      refreshing = null
    })
    return refreshing
  }
  const timer = setInterval(() => void refresh(), options.refreshMs ?? 2_000)
  timer.unref?.()

  // The service's own count covers every API instance; ours is exact for our sessions.
  const load = (s: ServiceState) => (s.info ? Math.max(s.info.sessions, s.mine) + s.inflight : Number.POSITIVE_INFINITY)
  const offers = (s: ServiceState, kind: RunnerKind) => !s.down && s.info?.kinds[kind] === true

  /** Healthy services offering `kind` with a free slot, least loaded first (ties: round robin). */
  const candidates = (kind: RunnerKind): ServiceState[] => {
    const list = [...states.values()].filter((s) => offers(s, kind) && load(s) < (s.info?.capacity ?? 0))
    const start = turn++
    return list
      .map((s, i) => ({ s, tie: (i + start) % Math.max(1, list.length) }))
      .sort((a, b) => {
        const ca = a.s.info?.capacity ?? 1
        const cb = b.s.info?.capacity ?? 1
        return load(a.s) / ca - load(b.s) / cb || load(a.s) - load(b.s) || a.tie - b.tie
      })
      .map((x) => x.s)
  }

  const shipRoots = (options.shipRoots ?? []).map((r) => resolvePath(r) + sep)
  const shipped = (dir: string) => shipRoots.some((root) => resolvePath(dir).startsWith(root))

  /** File operations go to the service that hosts the session, with grants for its current boot. */
  const fileHopOf = (s: ServiceState) =>
    remoteFileHop(httpOf(s.url), (body) => signGrant(token, body, s.info?.boot ?? '?'))

  const connect = (s: ServiceState, kind: RunnerKind, grant: GrantBody, bundle?: Uint8Array) =>
    new Promise<RemoteSession>((resolve, reject) => {
      const aud = s.info?.boot ?? '?'
      // Bun's WebSocket client can send headers: the grant never travels in the URL.
      const ws = new WebSocket(`${s.url}${SESSIONS_PATH}`, {
        headers: { authorization: `Grant ${signGrant(token, grant, aud)}` },
      } as unknown as string[])
      ws.binaryType = 'arraybuffer'
      const session = new RemoteSession(kind, ws, fileHopOf(s))
      let opened = false
      let exited = false
      const timer = setTimeout(() => {
        ws.close()
        reject(new RunnerError('RUNNER_TIMEOUT', 'the runner service did not open the session in time'))
      }, options.openTimeoutMs ?? 60_000)
      ws.addEventListener('message', (ev) => {
        if (typeof ev.data !== 'string') {
          session.output(new Uint8Array(ev.data as ArrayBuffer))
          return
        }
        const frame = JSON.parse(ev.data) as ServerFrame
        if (frame.type === 'send-project') {
          if (bundle) void sendBundle(ws, bundle)
          else ws.close()
        } else if (frame.type === 'opened') {
          opened = true
          clearTimeout(timer)
          session.opened(frame)
          sessions.add(session)
          s.mine++
          resolve(session)
        } else if (frame.type === 'error') {
          clearTimeout(timer)
          reject(new RunnerError(frame.code, frame.message))
          ws.close()
        } else if (frame.type === 'exit') {
          exited = true
          session.end(frame.info)
        }
      })
      ws.addEventListener('close', (ev) => {
        clearTimeout(timer)
        if (sessions.delete(session)) s.mine--
        if (!opened) {
          if (ev.code !== 1011) markDown(s, `connection refused or closed (${ev.code})`)
          reject(new RunnerError('RUNNER_UNREACHABLE', 'the runner service could not be reached'))
          return
        }
        if (exited || closed) return
        // Dropped without `exit`: the service died (or the network between us did).
        if (ev.code !== CLOSE.replaced) markDown(s, `session socket dropped (${ev.code})`)
        session.end({ code: null, reason: 'error', message: STOPPED })
      })
    })

  const runner = (kind: RunnerKind): RemoteRunner => ({
    kind,
    async available() {
      if (closed) return false
      await refresh()
      return [...states.values()].some((s) => offers(s, kind))
    },
    async open(open) {
      if (closed) throw new RunnerError('RUNNER_CLOSED', 'the remote runner is closed')
      if (options.redis) await refresh()
      const list = candidates(kind)
      if (list.length === 0) {
        const healthy = [...states.values()].filter((s) => offers(s, kind))
        log('no runner service can take the session', {
          kind,
          services: [...states.values()].map((s) => ({
            url: s.url,
            down: s.down?.why ?? null,
            offers: s.info?.kinds[kind] ?? false,
            load: s.info ? `${s.info.sessions + s.inflight}/${s.info.capacity}` : null,
          })),
        })
        if (healthy.length > 0)
          throw new RunnerError('RUNNER_FULL', `every ${kind} terminal slot is taken right now; try again in a minute`)
        throw new RunnerError('RUNNER_UNAVAILABLE', `no ${kind} runner service is available right now`)
      }
      // An imported version's files travel with the grant (by hash) and on the socket when asked.
      const bundle = shipped(open.project.sourceDir) ? await makeBundle(open.project.sourceDir) : undefined
      let lastError: unknown
      for (const s of list) {
        s.inflight++
        try {
          return await connect(
            s,
            kind,
            { typ: 'open', kind, options: open, ...(bundle ? { bundle: bundle.ref } : {}) },
            bundle?.body,
          )
        } catch (err) {
          lastError = err
          // Try the next service when this one is unreachable or full; anything else is final.
          if (
            !(err instanceof RunnerError) ||
            !['RUNNER_UNREACHABLE', 'RUNNER_TIMEOUT', 'RUNNER_FULL'].includes(err.code)
          )
            throw err
        } finally {
          s.inflight--
        }
      }
      throw lastError instanceof Error ? lastError : new RunnerError('RUNNER_UNAVAILABLE', 'no runner service answered')
    },
    async resume(runnerSessionId, open) {
      const boot = runnerSessionId.split(':')[0]
      if (options.redis) await refresh()
      const s = [...states.values()].find((x) => x.info?.boot === boot && !x.down)
      if (!s) throw new RunnerError('SESSION_GONE', 'the runner service holding the session is gone')
      return connect(s, kind, { typ: 'attach', session: runnerSessionId, size: open.size })
    },
    async close() {
      closed = true
      clearInterval(timer)
      await Promise.all([...sessions].filter((x) => x.kind === kind).map((x) => x.kill()))
    },
  })

  return {
    runner,
    refresh,
    /** What this instance knows about each runner service (for /readyz and tests). */
    services: (): ServiceState[] => [...states.values()].map((s) => ({ ...s })),
    /** Ends every session of this instance's and stops refreshing. */
    async close() {
      closed = true
      clearInterval(timer)
      await Promise.all([...sessions].map((x) => x.kill()))
    },
  }
}

export type RemotePool = ReturnType<typeof createRemotePool>
