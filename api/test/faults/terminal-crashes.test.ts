import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { TerminalClient } from '../scale/instances.ts'
import { nextIp } from './load.ts'
import { type ApiProcess, startApi } from './services.ts'

/**
 * Crashes inside a WASI session reach the admin's Problems page (docs/faults.md): a program host
 * killed from outside (as the OOM killer would) while `./calc` runs is one PROGRAM_HOST_CRASHED
 * group, and the session lives on; a session host killed the same way ends its session with a
 * message and is one SESSION_ENDED_IN_ERROR group. Real processes: one API, its session and program
 * hosts, SIGKILL.
 */

const admin = { email: 'crash@example.com', password: 'crash-suite-password-1' }
let api: ApiProcess
let token = ''

/** Processes below `root` whose command line contains `script`. */
function descendants(root: number, script: string): number[] {
  const rows = Bun.spawnSync(['ps', '-eo', 'pid=,ppid=,args='])
    .stdout.toString()
    .split('\n')
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3]! }))
  const below = new Set([root])
  for (let grew = true; grew; ) {
    grew = false
    for (const r of rows) {
      if (below.has(r.ppid) && !below.has(r.pid)) {
        below.add(r.pid)
        grew = true
      }
    }
  }
  return rows.filter((r) => below.has(r.pid) && r.pid !== root && r.args.includes(script)).map((r) => r.pid)
}

async function openSession(): Promise<{ client: TerminalClient; sessionId: string }> {
  const ip = nextIp()
  const res = await api.fetch('/api/v1/terminal/sessions', {
    method: 'POST',
    ip,
    json: { project: 'calc', runner: 'wasi' },
  })
  if (res.status !== 201) throw new Error(`session request failed: ${res.status} ${await res.text()}`)
  const { data } = (await res.json()) as { data: { ticket: string; sessionId: string } }
  const client = await TerminalClient.open(
    `${api.url.replace(/^http/, 'ws')}/api/v1/terminal/ws?ticket=${encodeURIComponent(data.ticket)}`,
    { ip },
  )
  return { client, sessionId: data.sessionId }
}

async function echo(client: TerminalClient): Promise<void> {
  const word = `w${randomBytes(3).toString('hex')}`
  client.type(`echo ${word}\r`)
  await client.sees(`\n${word}`, 30_000)
}

async function problems(): Promise<{ code: string; route: string; count: number; message: string }[]> {
  const res = await api.fetch('/api/v1/problems', { token, ip: nextIp() })
  expect(res.status).toBe(200)
  return ((await res.json()) as { data: { code: string; route: string; count: number; message: string }[] }).data
}

async function group(code: string): Promise<{ count: number; message: string } | undefined> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const found = (await problems()).find((p) => p.code === code && p.route === 'terminal:wasi')
    if (found || Date.now() > deadline) return found
    await Bun.sleep(200)
  }
}

beforeAll(async () => {
  api = await startApi({
    APP_ENV: 'test',
    LOG_LEVEL: 'warn',
    ADMIN_EMAIL: admin.email,
    ADMIN_PASSWORD: admin.password,
    JWT_SECRET: randomBytes(48).toString('base64url'),
    TRUST_PROXY_HOPS: '1',
    RUNNERS: 'wasi',
  })
  const res = await api.fetch('/api/v1/auth/token', { method: 'POST', json: admin, ip: nextIp() })
  token = ((await res.json()) as { data: { accessToken: string } }).data.accessToken
}, 240_000)

afterAll(async () => {
  await api?.stop()
}, 60_000)

describe('crashes inside a WASI session', () => {
  test('a program host killed while its program runs: a message, the session lives on, one PROGRAM_HOST_CRASHED group', async () => {
    const { client } = await openSession()
    await echo(client)
    // Sessions open in the home folder; the precompiled calc runs from the project's.
    client.type('cd ~/projects/calc && ./calc\r')
    await client.sees('running the precompiled binary', 60_000)
    // calc waits for a line; its host is the only program host of this API.
    let hosts: number[] = []
    const deadline = Date.now() + 60_000
    while (hosts.length === 0 && Date.now() < deadline) {
      hosts = descendants(api.pid, 'program-host.ts')
      if (hosts.length === 0) await Bun.sleep(100)
    }
    try {
      expect(hosts.length).toBe(1)
      client.type('40+2\r')
      await client.sees('42', 30_000)
      process.kill(hosts[0]!, 'SIGKILL')
      await client.sees('the program host stopped unexpectedly', 30_000)
      await echo(client)
      expect(client.closed).toBeNull()
      const crashed = await group('PROGRAM_HOST_CRASHED')
      expect(crashed).toMatchObject({ count: 1, message: 'calc: the program host stopped unexpectedly' })
      expect(await group('SESSION_ENDED_IN_ERROR')).toBeUndefined()
    } finally {
      // Ended here, so the next test's session is the only one its kill ends.
      client.type('\x03exit\r')
      await client.message('exit', 30_000)
    }
  }, 120_000)

  test('a session host killed: the session ends with a message, one SESSION_ENDED_IN_ERROR group', async () => {
    const { client } = await openSession()
    await echo(client)
    // Every session host of this API (the warm ones are replaced); ours is among them.
    const hosts = descendants(api.pid, 'session-host.ts')
    expect(hosts.length).toBeGreaterThan(0)
    for (const pid of hosts) process.kill(pid, 'SIGKILL')
    const exit = await client.message('exit', 30_000)
    expect(exit).toMatchObject({ type: 'exit', reason: 'error' })
    expect(String(exit.message ?? '')).not.toBe('')
    const ended = await group('SESSION_ENDED_IN_ERROR')
    expect(ended?.count).toBe(1)
    expect((await problems()).filter((p) => p.code === 'INTERNAL')).toEqual([])
    // A new session opens and answers.
    const next = await openSession()
    await echo(next.client)
    next.client.close()
  }, 120_000)
})
