/**
 * Runner services (placement, docs/runners.md): the contract every back end passes, run through a
 * runner service, plus grants, placement by load, failure and re-attach. Uses the Redis of
 * `make test` (TEST_REDIS_URL) for registrations; Docker cases need the engine (`make test`
 * starts it) and fail loudly without it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHash, randomBytes } from 'node:crypto'
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Redis from 'ioredis'
import { floodBody, runRunnerContract, track } from '../contract.ts'
import { requireDockerRunner } from '../docker/test-fixtures.ts'
import { selftestProject } from '../test-fixtures.ts'
import { RunnerError } from '../types.ts'
import { createWasiRunner } from '../wasi/index.ts'
import { makeBundle } from './bundle.ts'
import { createGrantVerifier, GRANT_TTL_MS, signGrant } from './grant.ts'
import { REGISTRY_SET, type RunnerInfo, SESSIONS_PATH, type ServerFrame } from './protocol.ts'
import { createRedisRegistration, readRegistrations } from './registration.ts'
import { createRemotePool } from './runner.ts'
import { createRunnerServer, type RunnerServer } from './server.ts'

const TOKEN = `remote-runner-test-${randomBytes(12).toString('hex')}`
const SIZE = { cols: 80, rows: 24 }
const redisUrl = process.env.TEST_REDIS_URL
if (!redisUrl) throw new Error('remote runner tests need Redis: set TEST_REDIS_URL (make test does)')
const prefix = `sf:test:runner:${randomBytes(4).toString('hex')}:`
const redis = new Redis(redisUrl, { keyPrefix: prefix })
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.del(...keys.map((k) => k.slice(prefix.length)))
  await redis.quit()
})

/**
 * Projects under this folder travel to the service with their sessions (`shipRoots`, bundle.ts),
 * as the API's laid-out imported versions do; the services' own roots do not have them.
 */
const SHIPPED = mkdtempSync(join(tmpdir(), 'sf-remote-shipped-'))
afterAll(() => rmSync(SHIPPED, { recursive: true, force: true }))

const started: RunnerServer[] = []
const service = (opts: Partial<Parameters<typeof createRunnerServer>[0]> = {}) => {
  const s = createRunnerServer({
    runners: [createWasiRunner()],
    token: TOKEN,
    port: 0,
    registration: createRedisRegistration(redisUrl, prefix),
    ...opts,
  })
  started.push(s)
  return s
}
afterAll(() => Promise.allSettled(started.map((s) => s.close())))

async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await Bun.sleep(25)
  }
}

// The same contract every back end passes, with each back end behind a runner service.
const WINDOW = 256 * 1024
/**
 * Output that may still reach the API after it pauses a session: the service sends at most its
 * window that nobody credited, plus the frame that crossed it (at most 64 KiB of coalesced output
 * and the program's last write).
 */
const PAUSED_OUTPUT_BYTES = WINDOW + 128 * 1024

let wasiService: RunnerServer | undefined
runRunnerContract({
  name: 'remote wasi (behind a runner service)',
  create: async () => {
    wasiService ??= service({ outputWindowBytes: WINDOW })
    return createRemotePool({ urls: [wasiService.url], token: TOKEN, redis, shipRoots: [SHIPPED] }).runner('wasi')
  },
  project: selftestProject(),
  pausedOutputBytes: PAUSED_OUTPUT_BYTES,
  timeoutMs: 90_000,
  scratchDir: SHIPPED,
})

let dockerService: RunnerServer | undefined
runRunnerContract({
  name: 'remote docker (behind a runner service)',
  create: async () => {
    dockerService ??= service({ runners: [await requireDockerRunner({ poolSize: 2 })], outputWindowBytes: WINDOW })
    const runner = createRemotePool({ urls: [dockerService.url], token: TOKEN, redis, shipRoots: [SHIPPED] }).runner(
      'docker',
    )
    await until(() => runner.available(), 30_000, 'the docker runner service to report docker up')
    return runner
  },
  project: selftestProject(),
  pausedOutputBytes: PAUSED_OUTPUT_BYTES,
  scratchDir: SHIPPED,
})

describe('project files over the hop', () => {
  /** A copy of the selftest fixture under SHIPPED with its own slug: only shipping can bring it. */
  const shippedProject = (slug: string) => {
    const dir = join(SHIPPED, `${slug}-${randomBytes(3).toString('hex')}`)
    cpSync(selftestProject().sourceDir, dir, { recursive: true })
    writeFileSync(join(dir, 'shipped.txt'), `shipped ${slug}\n`)
    return { ...selftestProject(), slug, sourceDir: dir }
  }

  test('a project only the API has reaches the session; the service keeps it by hash and is not sent it again', async () => {
    const events: string[] = []
    const cache = mkdtempSync(join(tmpdir(), 'sf-remote-cache-'))
    const svc = service({ projectCache: cache, log: (event) => events.push(event) })
    const pool = createRemotePool({ urls: [svc.url], token: TOKEN, shipRoots: [SHIPPED] })
    await pool.refresh()
    const project = shippedProject('shipped-one')
    const { ref } = await makeBundle(project.sourceDir)
    for (let round = 0; round < 2; round++) {
      const s = await pool.runner('wasi').open({ project, size: SIZE })
      const t = track(s)
      await t.waitFor(/\$ $/, 20_000)
      s.write('pwd && cat shipped.txt\r')
      await t.waitFor(/\/home\/coder\/projects\/shipped-one\r?\n/)
      await t.waitFor(/shipped shipped-one\r?\n/)
      await s.kill()
    }
    expect(events.filter((e) => e === 'receiving project files')).toHaveLength(1)
    expect(readdirSync(cache)).toEqual([ref.sha256])
    await pool.close()
    rmSync(cache, { recursive: true, force: true })
  }, 60_000)

  /** Opens a raw socket with an open grant naming `bundle`; resolves with the frames once it closes. */
  async function rawOpen(
    svc: RunnerServer,
    bundle: { sha256: string; bytes: number },
    send: (ws: WebSocket) => void,
  ): Promise<ServerFrame[]> {
    const grant = signGrant(
      TOKEN,
      { typ: 'open', kind: 'wasi', options: { project: { ...selftestProject(), slug: 'raw' }, size: SIZE }, bundle },
      svc.boot,
    )
    const ws = new WebSocket(`${svc.url}${SESSIONS_PATH}`, {
      headers: { authorization: `Grant ${grant}` },
    } as unknown as string[])
    const frames: ServerFrame[] = []
    ws.addEventListener('message', (ev) => {
      if (typeof ev.data !== 'string') return
      const frame = JSON.parse(ev.data) as ServerFrame
      frames.push(frame)
      if (frame.type === 'send-project') send(ws)
      if (frame.type === 'opened') ws.close()
    })
    await new Promise((resolve) => ws.addEventListener('close', resolve))
    return frames
  }

  test('bytes that do not match the grant are refused and nothing is kept; an oversized project is refused before any transfer', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'sf-remote-cache-'))
    const svc = service({ projectCache: cache, projectLimitBytes: 1024 * 1024 })
    const body = new Uint8Array(4096).fill(7)
    const sha256 = createHash('sha256').update(body).digest('hex')
    // other bytes of the announced size
    const tampered = await rawOpen(svc, { sha256, bytes: body.length }, (ws) => ws.send(new Uint8Array(4096).fill(8)))
    expect(tampered).toEqual([
      { type: 'send-project' },
      { type: 'error', code: 'INVALID_PROJECT', message: "the project's files do not match their SHA-256" },
    ])
    // more bytes than announced
    const longer = await rawOpen(svc, { sha256, bytes: 1024 }, (ws) => ws.send(body))
    expect(longer.at(-1)).toMatchObject({ type: 'error', code: 'PROJECT_TOO_LARGE' })
    // over the service's limit: refused at once
    const big = await rawOpen(svc, { sha256, bytes: 2 * 1024 * 1024 }, () => {})
    expect(big).toEqual([
      {
        type: 'error',
        code: 'PROJECT_TOO_LARGE',
        message: "the project's files (2097152 bytes) are over this runner service's limit of 1048576 bytes",
      },
    ])
    expect(readdirSync(cache)).toEqual([])
    await svc.close()
    rmSync(cache, { recursive: true, force: true })
  })

  test('without shipRoots (or outside them) the service looks the project up by name and refuses an unknown one', async () => {
    const svc = service()
    const pool = createRemotePool({ urls: [svc.url], token: TOKEN })
    await pool.refresh()
    const err = await pool
      .runner('wasi')
      .open({ project: shippedProject('not-shipped'), size: SIZE })
      .catch((e: unknown) => e)
    expect((err as RunnerError).code).toBe('PROJECT_NOT_FOUND')
    await pool.close()
  })
})

describe('grants', () => {
  const boot = 'boot-1'
  test('a good grant is accepted once; a replay, another boot, a bad signature or an expired one are refused', () => {
    const verifier = createGrantVerifier(TOKEN, boot)
    const grant = signGrant(TOKEN, { typ: 'attach', session: 'x', size: SIZE }, boot)
    expect(verifier.verify(grant)).toMatchObject({ typ: 'attach', aud: boot })
    expect(verifier.verify(grant)).toEqual({ refused: 'grant already used' })
    expect(verifier.verify(signGrant(TOKEN, { typ: 'health' }, 'boot-0'))).toEqual({
      refused: 'grant is for another runner service (or an earlier start of this one)',
    })
    expect(verifier.verify(signGrant(`${TOKEN}x`, { typ: 'health' }, boot))).toEqual({ refused: 'bad signature' })
    const [body, sig] = signGrant(TOKEN, { typ: 'health' }, boot).split('.')
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(body as string, 'base64url').toString()), typ: 'open' }),
    ).toString('base64url')
    expect(verifier.verify(`${forged}.${sig}`)).toEqual({ refused: 'bad signature' })
    const old = signGrant(TOKEN, { typ: 'health' }, boot, Date.now() - 120_000)
    expect(verifier.verify(old)).toEqual({ refused: 'grant expired' })
    expect(verifier.verify('nonsense')).toEqual({ refused: 'malformed grant' })
  })

  test('a grant is refused from the moment it expires, with no grace period', () => {
    let now = 1_000_000
    const verifier = createGrantVerifier(TOKEN, boot, () => now)
    const issuedAt = now
    const sign = () => signGrant(TOKEN, { typ: 'health' }, boot, issuedAt)
    now = issuedAt + GRANT_TTL_MS - 1
    expect(verifier.verify(sign())).toMatchObject({ typ: 'health' })
    now = issuedAt + GRANT_TTL_MS
    expect(verifier.verify(sign())).toEqual({ refused: 'grant expired' })
    now = issuedAt + GRANT_TTL_MS + 1_000
    expect(verifier.verify(sign())).toEqual({ refused: 'grant expired' })
  })

  test('the service refuses requests without a valid grant, and a health grant cannot open a session', async () => {
    const svc = service()
    const http = svc.url.replace('ws', 'http')
    expect((await fetch(`${http}/v1/health`)).status).toBe(401)
    expect((await fetch(`${http}/v1/health`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(401)
    const health = signGrant(TOKEN, { typ: 'health' }, '*')
    const ok = await fetch(`${http}/v1/health`, { headers: { authorization: `Grant ${health}` } })
    expect(ok.status).toBe(200)
    expect(((await ok.json()) as RunnerInfo).kinds).toEqual({ wasi: true })
    // Replaying the same grant is refused.
    expect((await fetch(`${http}/v1/health`, { headers: { authorization: `Grant ${health}` } })).status).toBe(401)
    const asOpen = signGrant(TOKEN, { typ: 'health' }, svc.boot)
    expect((await fetch(`${http}/v1/sessions`, { headers: { authorization: `Grant ${asOpen}` } })).status).toBe(403)
    const body = (await (await fetch(`${http}/v1/health`)).text()).toLowerCase()
    expect(body).not.toContain(TOKEN.toLowerCase())

    const wrong = createRemotePool({ urls: [svc.url], token: `${TOKEN}-wrong` })
    await wrong.refresh()
    expect(await wrong.runner('wasi').available()).toBe(false)
    await expect(wrong.runner('wasi').open({ project: selftestProject(), size: SIZE })).rejects.toThrow(RunnerError)
    await wrong.close()
  })

  test('a project path from the wire is never trusted: it is looked up by name on the service host', async () => {
    const svc = service()
    const pool = createRemotePool({ urls: [svc.url], token: TOKEN })
    await pool.refresh()
    const err = await pool
      .runner('wasi')
      .open({ project: { slug: 'x', sourceDir: '/etc', policy: { allow: ['ls'] } }, size: SIZE })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RunnerError)
    expect((err as RunnerError).code).toBe('PROJECT_NOT_FOUND')
    await pool.close()
  })
})

describe('registration and placement', () => {
  let a: RunnerServer
  let b: RunnerServer
  beforeAll(() => {
    a = service({ id: 'svc-a', capacity: 3 })
    b = service({ id: 'svc-b', capacity: 3 })
  })

  test('services register capacity and health in Redis, and drop out when they stop', async () => {
    await until(
      async () => (await readRegistrations(redis)).has(a.url) && (await readRegistrations(redis)).has(b.url),
      5_000,
      'both registrations',
    )
    const regs = await readRegistrations(redis)
    expect(regs.get(a.url)).toMatchObject({ id: 'svc-a', capacity: 3, sessions: 0, kinds: { wasi: true } })
    const c = service({ id: 'svc-c' })
    await until(async () => (await readRegistrations(redis)).has(c.url), 5_000, 'svc-c registration')
    await c.close()
    expect((await readRegistrations(redis)).has(c.url)).toBe(false)
    expect(await redis.sismember(REGISTRY_SET, 'svc-c')).toBe(0)
  })

  test('sessions go to the least-loaded service; when every slot is taken the error says so', async () => {
    const pool = createRemotePool({ urls: [a.url, b.url], token: TOKEN, redis })
    const wasi = pool.runner('wasi')
    expect(await wasi.available()).toBe(true)
    const sessions = []
    for (let i = 0; i < 6; i++) sessions.push(await wasi.open({ project: selftestProject(), size: SIZE }))
    const hosts = sessions.map((s) => s.host)
    expect(hosts.filter((h) => h === 'svc-a')).toHaveLength(3)
    expect(hosts.filter((h) => h === 'svc-b')).toHaveLength(3)
    expect(a.sessions).toBe(3)
    const full = await wasi.open({ project: selftestProject(), size: SIZE }).catch((e: unknown) => e)
    expect(full).toBeInstanceOf(RunnerError)
    expect((full as RunnerError).code).toBe('RUNNER_FULL')
    expect((full as RunnerError).message).not.toContain('127.0.0.1')
    // Free one slot on b: the next session goes there.
    await sessions[hosts.indexOf('svc-b')]?.kill()
    const next = await wasi.open({ project: selftestProject(), size: SIZE })
    expect(next.host).toBe('svc-b')
    await Promise.all([...sessions, next].map((s) => s.kill()))
    await pool.close()
  }, 60_000)

  test('a service that stops ends its sessions with an exit that says so; placement moves to the other', async () => {
    const x = service({ id: 'svc-x' })
    const y = service({ id: 'svc-y' })
    const pool = createRemotePool({ urls: [x.url, y.url], token: TOKEN, redis })
    const wasi = pool.runner('wasi')
    const first = await wasi.open({ project: selftestProject(), size: SIZE })
    const second = await wasi.open({ project: selftestProject(), size: SIZE })
    const onX = [first, second].find((s) => s.host === 'svc-x')
    const onY = [first, second].find((s) => s.host === 'svc-y')
    expect(onX && onY).toBeTruthy()
    await x.close()
    const exit = await onX?.exited
    expect(exit).toMatchObject({ code: null, message: 'the runner service stopped' })
    // The other service's session is untouched.
    const t = track(onY as NonNullable<typeof onY>)
    onY?.write('echo still-here\r')
    await t.waitFor(/still-here\r?\n/, 10_000)
    for (let i = 0; i < 3; i++) {
      const s = await wasi.open({ project: selftestProject(), size: SIZE })
      expect(s.host).toBe('svc-y')
      await s.kill()
    }
    await onY?.kill()
    await pool.close()
  }, 60_000)

  test('without Redis the pool asks each service directly', async () => {
    const solo = service({ id: 'svc-solo', registration: undefined })
    const pool = createRemotePool({ urls: [solo.url], token: TOKEN })
    await pool.refresh()
    expect(pool.services()[0]).toMatchObject({ source: 'probe', info: { id: 'svc-solo' } })
    const s = await pool.runner('wasi').open({ project: selftestProject(), size: SIZE })
    await s.kill()
    await pool.close()
  })
})

describe('output window', () => {
  test('a service sends at most its window of output nobody credited, then waits; credit lets the rest through intact', async () => {
    const window = 64 * 1024
    const svc = service({ id: 'svc-w', outputWindowBytes: window })
    const grant = signGrant(
      TOKEN,
      { typ: 'open', kind: 'wasi', options: { project: selftestProject(), size: SIZE } },
      svc.boot,
    )
    // A raw API side that never credits on its own.
    const ws = new WebSocket(`${svc.url}${SESSIONS_PATH}`, {
      headers: { authorization: `Grant ${grant}` },
    } as unknown as string[])
    ws.binaryType = 'arraybuffer'
    const frames: ServerFrame[] = []
    const decoder = new TextDecoder()
    let bytes = 0
    let text = ''
    ws.addEventListener('message', (ev) => {
      if (typeof ev.data === 'string') frames.push(JSON.parse(ev.data) as ServerFrame)
      else {
        bytes += (ev.data as ArrayBuffer).byteLength
        text += decoder.decode(ev.data as ArrayBuffer, { stream: true })
      }
    })
    const credit = (n: number) => ws.send(JSON.stringify({ type: 'credit', bytes: n }))
    await until(() => frames.some((f) => f.type === 'opened'), 10_000, 'opened')
    expect(frames[0]).toMatchObject({ type: 'opened', window })
    const type = (line: string) => ws.send(new TextEncoder().encode(`${line}\r`))
    type('make && echo built-ok')
    await until(() => /built-ok\r?\n[\s\S]*\$ $/.test(text), 45_000, 'the flood program to build')
    credit(bytes)
    const n = 2 * 1024 * 1024
    const before = bytes
    type(`./flood ${n}`)
    await until(() => bytes - before >= window / 2, 20_000, 'the flood to start')
    // Without credit the output stops at the window, plus the frame that crossed it (at most 64 KiB
    // of coalesced output and the program's last write); the whole flood would be 2 MiB.
    let seen = -1
    let since = Date.now()
    await until(
      () => {
        if (bytes !== seen) {
          seen = bytes
          since = Date.now()
        }
        return Date.now() - since >= 500
      },
      20_000,
      'the output to stop',
    )
    expect(bytes - before).toBeLessThanOrEqual(window + 128 * 1024)
    expect(text).not.toContain('<<flood end>>')
    expect(svc.info().sessions).toBe(1)
    // Crediting what arrived lets the program go on; every byte arrives, in order.
    let credited = before
    await until(
      () => {
        if (bytes > credited) {
          credit(bytes - credited)
          credited = bytes
        }
        return text.includes('<<flood end>>')
      },
      60_000,
      'the whole flood',
    )
    const body = text.slice(text.indexOf('\n', text.indexOf(`<<flood ${n}>>`)) + 1, text.indexOf('<<flood end>>'))
    expect(body.replaceAll('\r', '') === floodBody(n)).toBe(true)
    ws.send(JSON.stringify({ type: 'kill', reason: 'killed' }))
    await until(() => frames.some((f) => f.type === 'exit'), 10_000, 'exit')
  }, 90_000)
})

describe('re-attach after the API side goes away', () => {
  test('another pool (API instance) re-attaches to a live session with the same state and missed output', async () => {
    const svc = service({ id: 'svc-r' })
    const first = createRemotePool({ urls: [svc.url], token: TOKEN, redis })
    const session = await first.runner('wasi').open({ project: selftestProject(), size: SIZE })
    const t1 = track(session)
    await t1.waitFor(/\$ $/, 10_000)
    session.write('cd ..\r')
    await t1.waitFor(/\$ $/, 10_000)
    // The API instance dies: its socket drops without a kill.
    ;(session as unknown as { ws: WebSocket }).ws.close(4000, 'gone')
    await until(() => svc.info().sessions === 1, 2_000, 'the session to stay hosted')
    const second = createRemotePool({ urls: [svc.url], token: TOKEN, redis })
    const again = await second
      .runner('wasi')
      .resume(session.id, { project: selftestProject(), size: { cols: 100, rows: 30 } })
    expect(again.id).toBe(session.id)
    const t2 = track(again)
    again.write('pwd\r')
    await t2.waitFor(/\/home\/coder\/projects\r?\n/, 10_000)
    // A session id from another boot (a restarted service) is gone, with a clear error.
    const gone = await second
      .runner('wasi')
      .resume('other-boot:1', { project: selftestProject(), size: SIZE })
      .catch((e: unknown) => e)
    expect((gone as RunnerError).code).toBe('SESSION_GONE')
    await again.kill()
    await first.close()
    await second.close()
  }, 60_000)

  test('a detached session nobody re-attaches ends after the grace period', async () => {
    const svc = service({ id: 'svc-g', detachGraceMs: 300 })
    const pool = createRemotePool({ urls: [svc.url], token: TOKEN, redis })
    const session = await pool.runner('wasi').open({ project: selftestProject(), size: SIZE })
    ;(session as unknown as { ws: WebSocket }).ws.close(4000, 'gone')
    await until(() => svc.info().sessions === 0, 10_000, 'the abandoned session to end')
    await pool.close()
  })
})
