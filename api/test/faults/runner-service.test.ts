import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { clusterEnv, type RunnerService, startRunnerService, TerminalClient } from '../scale/instances.ts'
import { Load, nextIp, summarize } from './load.ts'
import {
  type ApiProcess,
  freePort,
  type PgCluster,
  publishReadPost,
  type RedisServer,
  signIn,
  startApi,
  startPgCluster,
  startRedisServer,
} from './services.ts'

/**
 * A runner service (docs/runners.md, "Placement") killed under load and started again on the same
 * URL (docs/faults.md): the API answers no 500 while it is gone; a session request is refused with
 * 503 `RUNNER_UNAVAILABLE` or, granted before the API noticed, its socket gets an error and closes;
 * the session that ran on the service ends with a message (its sandbox died with it: the one thing
 * this fault loses, by design); the failed starts are one Problems group; sessions open again once
 * the service is back.
 */

const admin = { email: 'runner-fault@example.com', password: 'runner-fault-password-1' }
const TOKEN = randomBytes(32).toString('hex')
let pg: PgCluster
let redis: RedisServer
let api: ApiProcess
let runner: RunnerService
let runnerPort = 0
let token = ''
let load: Load
const report: string[] = []

const startRunner = () =>
  startRunnerService('faults-runner', {
    RUNNER_TOKEN: TOKEN,
    RUNNERS: 'wasi',
    RUNNER_ID: 'faults-runner',
    RUNNER_PORT: String(runnerPort),
    REDIS_URL: redis.url,
    REDIS_PREFIX: 'runner-fault:',
  })

async function openSession(): Promise<{ status: number; client?: TerminalClient; code?: string }> {
  // The ticket is bound to the address that asked for it: the socket connects from the same one.
  const ip = nextIp()
  const res = await api.fetch('/api/v1/terminal/sessions', {
    method: 'POST',
    ip,
    json: { project: 'calc', runner: 'wasi' },
  })
  const body = (await res.json()) as { data?: { ticket: string }; error?: { code: string } }
  if (res.status !== 201 || !body.data) return { status: res.status, code: body.error?.code }
  const client = await TerminalClient.open(
    `${api.url.replace(/^http/, 'ws')}/api/v1/terminal/ws?ticket=${encodeURIComponent(body.data.ticket)}`,
    { ip },
  )
  return { status: 201, client }
}

async function echo(client: TerminalClient): Promise<void> {
  const word = `w${randomBytes(3).toString('hex')}`
  client.type(`echo ${word}\r`)
  await client.sees(`\n${word}`, 30_000)
}

beforeAll(async () => {
  ;[pg, redis] = await Promise.all([startPgCluster(), startRedisServer()])
  runnerPort = await freePort()
  runner = await startRunner()
  api = await startApi(
    clusterEnv(
      { databaseUrl: pg.url, redisUrl: redis.url, prefix: 'runner-fault:', admin },
      {
        RUNNERS: 'wasi',
        RUNNER_URLS: runner.url,
        RUNNER_TOKEN: TOKEN,
        DOCKER_HOST: 'unix:///nonexistent/docker.sock',
        TERMINAL_MAX_PER_IP: '1000',
        TERMINAL_MAX_SESSIONS: '100000',
        TERMINAL_TICKET_TTL_MS: '2000',
        LOG_LEVEL: 'warn',
      },
    ),
  )
  token = await signIn(api, admin, nextIp())
  const post = await publishReadPost(api, token, 'runner-fault-read', nextIp())
  load = new Load({ instance: api, admin, token: () => token, post })
}, 120_000)

afterAll(async () => {
  await load?.stop()
  process.stderr.write(`\n── runner service fault ──\n${report.map((l) => `  ${l}`).join('\n')}\n\n`)
  await api?.stop()
  await runner?.stop()
  await Promise.allSettled([pg?.[Symbol.asyncDispose](), redis?.[Symbol.asyncDispose]()])
}, 60_000)

describe('a runner service killed under load', () => {
  test('no 500; sessions refused with a code or a closing message; back in service after a restart', async () => {
    const open = await openSession()
    expect(open.status).toBe(201)
    const term = open.client!
    await term.message('ready', 60_000)
    await echo(term)
    load.start()
    await Bun.sleep(1000)

    const t0 = Date.now()
    await runner.crash()
    // Its session ends with a message: the sandbox was in the dead process.
    expect(await term.message('exit', 30_000)).toMatchObject({ type: 'exit', reason: 'error' })
    // A session requested while it is gone: refused, over HTTP or on the socket, never left hanging.
    const during = await openSession()
    if (during.status === 201) {
      const closed = await during.client!.until('the socket to close', () => during.client!.closed ?? undefined, 30_000)
      expect(closed.code).toBeGreaterThanOrEqual(4000)
    } else {
      expect(during).toMatchObject({ status: 503, code: 'RUNNER_UNAVAILABLE' })
    }
    await Bun.sleep(Math.max(0, 3000 - (Date.now() - t0)))

    runner = await startRunner()
    const back = Date.now()
    let recoverMs = -1
    const deadline = Date.now() + 60_000
    while (recoverMs < 0 && Date.now() < deadline) {
      const next = await openSession()
      if (next.client) {
        const ready = await next.client
          .message('ready', 10_000)
          .then(() => true)
          .catch(() => false)
        if (ready) {
          await echo(next.client)
          recoverMs = Date.now() - back
          next.client.type('exit\r')
          await next.client.message('exit', 30_000)
        }
        next.client.close()
      }
      if (recoverMs < 0) await Bun.sleep(250)
    }
    expect(recoverMs).toBeGreaterThanOrEqual(0)
    await load.stop()
    const s = summarize(load.between(t0))
    report.push(
      `runner service: ${s.total} requests while down and recovering, ${s.refused} refused with 503 ${JSON.stringify(s.byCode)}, ` +
        `other non-2xx ${JSON.stringify(s.other)}; a new session works ${recoverMs} ms after it is back; ` +
        'lost: the session that ran on it (ended with a message)',
    )
    expect(s.wrong).toEqual([])

    // Failed starts, if any socket got that far, are one Problems group.
    const problems = await api.fetch('/api/v1/problems', { token, ip: nextIp() })
    const { data } = (await problems.json()) as { data: { code: string; route: string; count: number }[] }
    const starts = data.filter((p) => p.code === 'SESSION_START_FAILED')
    report.push(`problems: ${JSON.stringify(data.map((p) => [p.code, p.route, p.count]))}`)
    expect(starts.length).toBeLessThanOrEqual(1)
    // The session granted while the service was gone failed to start: a runner that failed to start a session.
    if (during.status === 201) {
      expect(starts.map((p) => p.route)).toEqual(['terminal:wasi'])
      expect(starts[0]!.count).toBeGreaterThanOrEqual(1)
    }
    // The session that died with the service is one group too.
    expect(data.filter((p) => p.code === 'SESSION_ENDED_IN_ERROR').map((p) => p.route)).toEqual(['terminal:wasi'])
    expect(data.filter((p) => p.code === 'INTERNAL')).toEqual([])
  }, 180_000)
})
