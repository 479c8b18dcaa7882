import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { CLOSE, WATCH_LIMITS } from '@shellfolio/runner/terminal-protocol'
import { BACKENDS, type Backend, openBackend } from '../../test/harness.ts'
import { connect, lastFakeSession, startServer, TermClient, type TerminalServer } from '../../test/terminal-kit.ts'

/**
 * Read-only spectators (docs/terminal-protocol.md, "Watching"): watch links, the spectator socket,
 * revocation, the end of the session, bounds, and a spectator on another instance than the session.
 */

const json = async (res: Response) =>
  (await res.json()) as {
    data: { watchUrl: string; token: string } | null
    error: { code: string; message: string } | null
  }

const watchWs = (server: TerminalServer, token: string) =>
  `${server.ws.replace(/\/ws$/, '/watch')}?token=${encodeURIComponent(token)}`

const link = (server: TerminalServer, sessionId: string, resumeToken: string, method = 'POST') =>
  fetch(`${server.url}/api/v1/terminal/sessions/${sessionId}/watch`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ resumeToken }),
  })

/** A session on `server` with some output, its owner's client and resume token. */
async function owned(server: TerminalServer) {
  const { client, sessionId } = await connect(server)
  const ready = await client.control('ready')
  await client.output('$ ')
  client.type('print before-watch\r')
  await client.output('before-watch\r\n$ ')
  return { client, sessionId, resumeToken: ready.resumeToken as string }
}

describe.each(BACKENDS)('watching a terminal session (%s)', (kind) => {
  let backend: Backend
  beforeAll(async () => {
    backend = await openBackend(kind)
  })
  afterAll(() => backend.close())

  test('a spectator gets the screen, then the live output; its input is refused; the owner sees the count', async () => {
    await using server = await startServer(backend)
    const { client: owner, sessionId, resumeToken } = await owned(server)
    const res = await link(server, sessionId, resumeToken)
    expect(res.status).toBe(201)
    const { data } = await json(res)
    expect(data?.watchUrl).toMatch(/\/watch\/[A-Za-z0-9_-]{43}$/)
    // The same link on a second call, until revoked.
    expect((await json(await link(server, sessionId, resumeToken))).data?.token).toBe(data?.token as string)

    using spectator = new TermClient(watchWs(server, data?.token as string))
    const watching = await spectator.control('watching')
    expect(watching).toEqual({ type: 'watching', sessionId, project: 'demo', cols: 80, rows: 24 })
    await spectator.output('before-watch') // the screen first
    expect(await owner.until(() => owner.controls.find((c) => c.type === 'watchers' && c.count === 1))).toBeTruthy()

    owner.type('print live-line\r')
    await spectator.output('live-line')

    const fake = lastFakeSession(server)
    const received = fake.received
    spectator.type('print from-spectator\r')
    spectator.send({ type: 'resize', cols: 10, rows: 5 })
    const refused = await spectator.control('error')
    expect(refused).toMatchObject({ code: 'READ_ONLY' })
    owner.type('print after\r')
    await spectator.output('after')
    expect(fake.received).toBe(received + 'print after\r'.length)
    expect(spectator.text).not.toContain('from-spectator')
    expect(fake.resizes).toEqual([])
    expect(spectator.closed).toBeUndefined()

    // The owner resizes: the spectator follows.
    owner.send({ type: 'resize', cols: 100, rows: 30 })
    expect(await spectator.control('size')).toEqual({ type: 'size', cols: 100, rows: 30 })

    spectator.ws.close()
    await owner.until(() => owner.controls.findLast((c) => c.type === 'watchers')?.count === 0)
    owner.ws.close()
  })

  test('a wrong resume token gets no link; revoking closes the spectators and voids the link', async () => {
    await using server = await startServer(backend)
    const { client: owner, sessionId, resumeToken } = await owned(server)
    const wrong = await link(server, sessionId, 'not-the-token')
    expect(wrong.status).toBe(404)
    expect((await json(wrong)).error?.code).toBe('SESSION_NOT_FOUND')
    const bad = await fetch(`${server.url}/api/v1/terminal/sessions/not-a-uuid/watch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resumeToken: 'x'.repeat(500) }),
    })
    expect(bad.status).toBeGreaterThanOrEqual(400)
    expect(bad.status).toBeLessThan(500)

    const token = (await json(await link(server, sessionId, resumeToken))).data?.token as string
    using spectator = new TermClient(watchWs(server, token))
    await spectator.output('before-watch')
    expect((await link(server, sessionId, 'wrong', 'DELETE')).status).toBe(404)
    const revoked = await link(server, sessionId, resumeToken, 'DELETE')
    expect(revoked.status).toBe(200)
    expect(await spectator.control('error')).toMatchObject({ code: 'WATCH_REVOKED' })
    expect((await spectator.closedWith()).code).toBe(CLOSE.gone)
    await owner.until(() => owner.controls.findLast((c) => c.type === 'watchers')?.count === 0)

    using again = new TermClient(watchWs(server, token))
    expect(await again.control('error')).toMatchObject({ code: 'WATCH_GONE' })
    expect((await again.closedWith()).code).toBe(CLOSE.gone)
    // A new link is another token.
    const fresh = (await json(await link(server, sessionId, resumeToken))).data?.token
    expect(fresh).toBeString()
    expect(fresh).not.toBe(token)
    owner.ws.close()
  })

  test('the link dies with the session: spectators get its exit, then the link is gone', async () => {
    await using server = await startServer(backend)
    const { client: owner, sessionId, resumeToken } = await owned(server)
    const token = (await json(await link(server, sessionId, resumeToken))).data?.token as string
    using spectator = new TermClient(watchWs(server, token))
    await spectator.output('before-watch')
    owner.type('exit 4\r')
    expect(await spectator.control('exit')).toEqual({ type: 'exit', code: 4, reason: 'exit' })
    expect((await spectator.closedWith()).code).toBe(CLOSE.normal)
    await server.manager.get(sessionId)?.finished
    using late = new TermClient(watchWs(server, token))
    expect(await late.control('error')).toMatchObject({ code: 'WATCH_GONE' })
    expect((await link(server, sessionId, resumeToken)).status).toBe(404)
  })

  test('bounds: spectators per client IP; a missing token is refused', async () => {
    await using server = await startServer(backend)
    const { client: owner, sessionId, resumeToken } = await owned(server)
    const token = (await json(await link(server, sessionId, resumeToken))).data?.token as string
    const clients: TermClient[] = []
    try {
      for (let i = 0; i < WATCH_LIMITS.perIp; i++) {
        const c = new TermClient(watchWs(server, token))
        clients.push(c)
        await c.control('watching')
      }
      await owner.until(() => owner.controls.findLast((c) => c.type === 'watchers')?.count === WATCH_LIMITS.perIp)
      using over = new TermClient(watchWs(server, token))
      expect(await over.control('error')).toMatchObject({ code: 'WATCH_LIMIT_IP' })
      expect((await over.closedWith()).code).toBe(CLOSE.limited)
    } finally {
      for (const c of clients) c.ws.close()
    }
    using none = new TermClient(server.ws.replace(/\/ws$/, '/watch'))
    expect(await none.control('error')).toMatchObject({ code: 'WATCH_GONE' })
    owner.ws.close()
  })

  test('an admin watches any live session; not without signing in', async () => {
    await using server = await startServer(backend)
    const { client: owner, sessionId } = await owned(server)
    const url = `${server.url}/api/v1/terminal/sessions/${sessionId}/watch/admin`
    expect((await fetch(url, { method: 'POST' })).status).toBe(401)
    const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${await server.adminToken()}` } })
    expect(res.status).toBe(201)
    using spectator = new TermClient(watchWs(server, (await json(res)).data?.token as string))
    await spectator.output('before-watch')
    owner.type('print seen-by-admin\r')
    await spectator.output('seen-by-admin')
    owner.ws.close()
  }, 30_000)

  test('across two instances: the session on A, the spectator on B (and revoked from B)', async () => {
    await using a = await startServer(backend)
    await using b = await startServer(backend, { cache: await backend.openPeerCache() })
    const { client: owner, sessionId, resumeToken } = await owned(a)
    // The link can be asked for on either instance (B checks the resume token's hash in the registry).
    const res = await link(b, sessionId, resumeToken)
    expect(res.status).toBe(201)
    const token = (await json(res)).data?.token as string
    using spectator = new TermClient(watchWs(b, token))
    expect(await spectator.control('watching')).toMatchObject({ sessionId, project: 'demo' })
    await spectator.output('before-watch')
    expect(b.manager.get(sessionId)).toBeUndefined() // still A's session
    await owner.until(() => owner.controls.findLast((c) => c.type === 'watchers')?.count === 1)
    owner.type('print across-instances\r')
    await spectator.output('across-instances')
    spectator.type('x')
    expect(await spectator.control('error')).toMatchObject({ code: 'READ_ONLY' })

    // A second spectator on B; it leaves and the owner's count follows.
    const second = new TermClient(watchWs(b, token))
    await second.output('across-instances')
    await owner.until(() => owner.controls.findLast((c) => c.type === 'watchers')?.count === 2)
    second.ws.close()
    await owner.until(() => owner.controls.findLast((c) => c.type === 'watchers')?.count === 1)

    // The session ends on A: the spectator on B gets the exit.
    owner.type('exit 0\r')
    expect(await spectator.control('exit')).toMatchObject({ type: 'exit', code: 0 })
    expect((await spectator.closedWith()).code).toBe(CLOSE.normal)
  })

  test('across two instances: revoking on B closes the spectator on A', async () => {
    await using a = await startServer(backend)
    await using b = await startServer(backend, { cache: await backend.openPeerCache() })
    const { client: owner, sessionId, resumeToken } = await owned(a)
    const token = (await json(await link(a, sessionId, resumeToken))).data?.token as string
    using onA = new TermClient(watchWs(a, token))
    using onB = new TermClient(watchWs(b, token))
    await onA.output('before-watch')
    await onB.output('before-watch')
    expect((await link(b, sessionId, resumeToken, 'DELETE')).status).toBe(200)
    for (const s of [onA, onB]) {
      expect(await s.control('error')).toMatchObject({ code: 'WATCH_REVOKED' })
      expect((await s.closedWith()).code).toBe(CLOSE.gone)
    }
    await owner.until(() => owner.controls.findLast((c) => c.type === 'watchers')?.count === 0)
    owner.ws.close()
  })
})
