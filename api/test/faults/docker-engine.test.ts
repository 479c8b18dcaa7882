import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { sandboxImageTag } from '../../../runner/image/build.ts'
import { REPO_ROOT } from '../../src/config.ts'
import { TerminalClient } from '../scale/instances.ts'
import { Load, nextIp, summarize } from './load.ts'
import { type ApiProcess, publishReadPost, signIn, startApi } from './services.ts'

/**
 * The Docker engine restarted under load (docs/faults.md, "The Docker engine"): the machine's own
 * dockerd is stopped (SIGTERM, as `systemctl restart docker` does) and started again the way
 * `scripts/ensure-docker.sh` starts it (which also keeps the runsc runtime registered). Expected: no
 * 500; a Docker session open at the time ends with a clear exit message (reason `error`), and is one
 * Problems group; a WASI session open at the time lives on; a Docker session asked for meanwhile is
 * refused (503 RUNNER_UNAVAILABLE, or an error on its socket); once the engine is back, a Docker
 * session opens again and the warm pool refills.
 *
 * The engine is shared with every other suite on the machine: this file restarts it once, keeps the
 * window short, and leaves it running (afterAll starts it again whatever happened).
 */

const admin = { email: 'docker-fault@example.com', password: 'docker-fault-password-1' }
const POOL_SIZE = 2
/**
 * The sandbox image this file uses: a tag of its own on this checkout's sandbox image, so
 * an image build elsewhere on the machine (which prunes older `shellfolio-sandbox` tags) cannot
 * remove it mid-test. Removed (the tag only) afterwards.
 */
const IMAGE = 'shellfolio-faults-sandbox:engine-restart'
let api: ApiProcess
let token = ''
let load: Load
const report: string[] = []

function run(cmd: string[]): { code: number; out: string } {
  try {
    const r = Bun.spawnSync(cmd, { stdout: 'pipe', stderr: 'pipe' })
    return { code: r.exitCode ?? -1, out: `${r.stdout.toString()}${r.stderr.toString()}`.trim() }
  } catch (err) {
    // the command is not installed (systemctl on a machine without systemd)
    return { code: -1, out: String(err) }
  }
}

/**
 * How this machine runs its engine: under systemd (a CI runner, a server) it is stopped and started
 * with systemctl (its socket unit too, or the API's next ping would start it again); otherwise it
 * was started by scripts/ensure-docker.sh (`setsid dockerd`), so it is stopped with SIGTERM and
 * started by that script again.
 */
const systemd = run(['systemctl', 'is-active', '--quiet', 'docker']).code === 0

const engineAnswers = () => run(['docker', 'info', '--format', '{{.ID}}']).code === 0
const dockerdPid = () => Number(run(['pgrep', '-x', 'dockerd']).out.split('\n')[0]) || 0

/** Starts the engine as scripts/ensure-docker.sh does (setsid dockerd, wait, runsc registered). */
async function ensureEngine(): Promise<void> {
  if (systemd) {
    const started = run(['systemctl', 'start', 'docker.socket', 'docker'])
    if (started.code !== 0) throw new Error(`systemctl start docker failed: ${started.out}`)
  }
  const proc = Bun.spawn(['bash', join(REPO_ROOT, 'scripts/ensure-docker.sh')], { stdout: 'pipe', stderr: 'pipe' })
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  if (code !== 0) throw new Error(`scripts/ensure-docker.sh failed (${code}): ${err || out}`)
}

/** Stops dockerd with SIGTERM and waits until the process is gone. */
async function stopEngine(): Promise<void> {
  if (systemd) {
    const stopped = run(['systemctl', 'stop', 'docker.socket', 'docker'])
    if (stopped.code !== 0) throw new Error(`systemctl stop docker failed: ${stopped.out}`)
    return
  }
  const pid = dockerdPid()
  if (!pid) throw new Error('no dockerd runs on this machine: the Docker engine fault needs the local engine')
  process.kill(pid, 'SIGTERM')
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0)
    } catch {
      return
    }
    await Bun.sleep(100)
  }
  throw new Error(`dockerd (pid ${pid}) did not stop within 60 s of SIGTERM`)
}

/**
 * Running sandbox containers of this API's Docker runner: their owner label is
 * `host/pid/start/random` (runner/src/docker/sandbox.ts). With no Docker session open, these are
 * the warm pool.
 */
function running(): number {
  const r = run(['docker', 'ps', '--filter', 'label=shellfolio.managed=1', '--format', '{{.Label "shellfolio.owner"}}'])
  if (r.code !== 0) return 0
  const mine = `${hostname()}/${api.pid}/`
  return r.out.split('\n').filter((owner) => owner.startsWith(mine)).length
}

/** Waits until `running()` reaches `n`; the milliseconds it took, or -1. */
async function runningReaches(n: number, ms: number): Promise<number> {
  const t = Date.now()
  while (Date.now() - t < ms) {
    if (running() >= n) return Date.now() - t
    await Bun.sleep(250)
  }
  return -1
}

async function openSession(
  runner: 'docker' | 'wasi',
): Promise<{ status: number; code?: string; client?: TerminalClient; sessionId?: string }> {
  // The ticket is bound to the address that asked for it: the socket connects from the same one.
  const ip = nextIp()
  const res = await api.fetch('/api/v1/terminal/sessions', { method: 'POST', ip, json: { project: 'calc', runner } })
  const body = (await res.json()) as { data?: { ticket: string; sessionId: string }; error?: { code: string } }
  if (res.status !== 201 || !body.data) return { status: res.status, code: body.error?.code }
  const client = await TerminalClient.open(
    `${api.url.replace(/^http/, 'ws')}/api/v1/terminal/ws?ticket=${encodeURIComponent(body.data.ticket)}`,
    { ip },
  )
  return { status: 201, client, sessionId: body.data.sessionId }
}

async function echo(client: TerminalClient, timeoutMs = 30_000): Promise<void> {
  const word = `w${randomBytes(3).toString('hex')}`
  client.type(`echo ${word}\r`)
  await client.sees(`\n${word}`, timeoutMs)
}

beforeAll(async () => {
  if (!engineAnswers()) throw new Error('the Docker engine fault needs a running engine: bash scripts/ensure-docker.sh')
  const current = sandboxImageTag()
  const tagged = run(['docker', 'tag', current, IMAGE])
  if (tagged.code !== 0)
    throw new Error(
      `the sandbox image ${current} is missing (${tagged.out}): bun run runner/image/build.ts --runtime c`,
    )
  api = await startApi({
    APP_ENV: 'test',
    LOG_LEVEL: 'warn',
    ADMIN_EMAIL: admin.email,
    ADMIN_PASSWORD: admin.password,
    JWT_SECRET: randomBytes(48).toString('base64url'),
    TRUST_PROXY_HOPS: '1',
    RUNNERS: 'docker,wasi',
    DOCKER_POOL_SIZE: String(POOL_SIZE),
    SANDBOX_IMAGE: IMAGE,
    TERMINAL_MAX_PER_IP: '1000',
    TERMINAL_MAX_SESSIONS: '100000',
    ...(process.env.SANDBOX_RUNTIME ? { SANDBOX_RUNTIME: process.env.SANDBOX_RUNTIME } : {}),
  })
  token = await signIn(api, admin, nextIp())
  const post = await publishReadPost(api, token, 'docker-fault-read', nextIp())
  load = new Load({ instance: api, admin, token: () => token, post })
}, 240_000)

afterAll(async () => {
  await load?.stop()
  // Whatever happened, the shared engine is left running (with runsc registered).
  if (!engineAnswers()) await ensureEngine().catch((err) => process.stderr.write(`${err}\n`))
  process.stderr.write(`\n── Docker engine fault ──\n${report.map((l) => `  ${l}`).join('\n')}\n\n`)
  await api?.stop()
  run(['docker', 'image', 'rm', IMAGE])
}, 120_000)

describe('the Docker engine restarted under load', () => {
  test('Docker sessions end with a message, WASI lives on, no 500; then sessions open and the pool refills', async () => {
    // The API probes Docker at start and every 15 s (a probe over 5 s counts as down on a loaded machine).
    let docker = await openSession('docker')
    const available = Date.now() + 120_000
    while (docker.status === 503 && docker.code === 'RUNNER_UNAVAILABLE' && Date.now() < available) {
      await Bun.sleep(1000)
      docker = await openSession('docker')
    }
    expect(docker.status).toBe(201)
    const dockerTerm = docker.client!
    await echo(dockerTerm, 60_000)
    const wasi = await openSession('wasi')
    expect(wasi.status).toBe(201)
    const wasiTerm = wasi.client!
    await echo(wasiTerm)
    // The session's container and the warm pool run.
    expect(await runningReaches(POOL_SIZE + 1, 60_000)).toBeGreaterThanOrEqual(0)

    load.start()
    await Bun.sleep(1000)
    const t0 = Date.now()
    await stopEngine()
    const stopped = Date.now()
    let back = 0
    let grantedDuring = false
    try {
      // The open Docker session ends, saying why; the WASI one does not notice.
      const exit = await dockerTerm.message('exit', 30_000)
      expect(exit).toMatchObject({ type: 'exit', reason: 'error' })
      expect(String(exit.message)).toContain('Docker engine stopped')
      await echo(wasiTerm)
      // A Docker session asked for now: refused over HTTP, or (granted before the API noticed) on its socket.
      const during = await openSession('docker')
      if (during.status === 201) {
        grantedDuring = true
        const closed = await during.client!.until(
          'the socket to close',
          () => during.client!.closed ?? undefined,
          60_000,
        )
        expect(closed.code).toBeGreaterThanOrEqual(4000)
      } else {
        expect(during).toMatchObject({ status: 503, code: 'RUNNER_UNAVAILABLE' })
      }
    } finally {
      await ensureEngine()
      back = Date.now()
    }
    const downMs = back - stopped

    // Full service: a Docker session opens and answers.
    let recoverMs = -1
    const deadline = Date.now() + 90_000
    let last = ''
    while (recoverMs < 0 && Date.now() < deadline) {
      const next = await openSession('docker')
      last = JSON.stringify({ status: next.status, code: next.code })
      if (next.client) {
        const ok = await echo(next.client, 30_000).then(
          () => true,
          (err: Error) => {
            last = err.message.slice(0, 300)
            return false
          },
        )
        if (ok) {
          recoverMs = Date.now() - back
          next.client.type('exit\r')
          await next.client.message('exit', 30_000)
        }
        next.client.close()
      }
      if (recoverMs < 0) await Bun.sleep(500)
    }
    if (recoverMs < 0) throw new Error(`no Docker session 90 s after the engine was back: ${last}`)
    // The warm pool refills (the open above, or the next reap, tops it up); no Docker session is open now.
    const refill = await runningReaches(POOL_SIZE, 90_000)
    expect(refill).toBeGreaterThanOrEqual(0)
    const poolMs = Date.now() - back
    await echo(wasiTerm)
    expect(wasiTerm.closed).toBeNull()
    // The engine came back with the gVisor runtime registered.
    expect(run(['docker', 'info', '--format', '{{json .Runtimes}}']).out).toContain('runsc')

    await load.stop()
    const s = summarize(load.between(t0))
    report.push(
      `docker engine: down ${downMs} ms (from dockerd exiting to answering again); ${s.total} requests while down and recovering, ` +
        `${s.refused} refused with 503 ${JSON.stringify(s.byCode)}, other non-2xx ${JSON.stringify(s.other)}; ` +
        `a Docker session works ${recoverMs} ms after it is back, the pool (${POOL_SIZE}) is full after ${poolMs} ms; ` +
        'lost: the Docker session that ran at the time (ended with a message), nothing else',
    )
    expect(s.wrong).toEqual([])

    // The admin hears about it: the ended session is one group, and nothing is an INTERNAL.
    const res = await api.fetch('/api/v1/problems', { token, ip: nextIp() })
    const { data } = (await res.json()) as { data: { code: string; route: string; count: number }[] }
    report.push(`problems: ${JSON.stringify(data.map((p) => [p.code, p.route, p.count]))}`)
    expect(
      data.filter((p) => p.code === 'SESSION_ENDED_IN_ERROR' && p.route === 'terminal:docker').length,
    ).toBeGreaterThanOrEqual(1)
    // A session granted before the API noticed, whose start then failed: a runner that failed to start a session.
    if (grantedDuring) {
      expect(data.filter((p) => p.code === 'SESSION_START_FAILED' && p.route === 'terminal:docker').length).toBe(1)
    }
    expect(data.filter((p) => p.code === 'INTERNAL')).toEqual([])
  }, 400_000)
})
