import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { BACKENDS, type Backend, openBackend } from '../../test/harness.ts'
import { connect, startServer } from '../../test/terminal-kit.ts'
import { COMMAND_MAX_CHARS, COMMAND_MAX_LINES, CommandLines } from './recording.ts'

/** Public replays (docs/api.md, "Replays"): publishing, the public view, and the commands kept. */

const encode = (s: string) => new TextEncoder().encode(s)

test('the submitted lines are rebuilt from keystrokes; edited-by-escape lines are left out; bounded', () => {
  const lines = new CommandLines()
  for (const chunk of ['ec', 'ho one\r', 'pwdx\x7f\r', '\r', 'garbage\x15cd dir\r', 'abc\x03', 'ls\r', '\x1b[A\r']) {
    lines.feed(encode(chunk))
  }
  lines.feed(encode('ls\tx\r'))
  lines.feed(encode('echo é\r'))
  // a character split between two frames
  const split = encode('echo ü\r')
  lines.feed(split.subarray(0, 6))
  lines.feed(split.subarray(6))
  expect(lines.lines).toEqual(['echo one', 'pwd', 'cd dir', 'ls', 'echo é', 'echo ü'])
  const many = new CommandLines()
  many.feed(encode(`${'x'.repeat(COMMAND_MAX_CHARS + 50)}\r`))
  for (let i = 0; i < COMMAND_MAX_LINES + 10; i++) many.feed(encode(`echo ${i}\r`))
  expect(many.lines).toHaveLength(COMMAND_MAX_LINES)
  expect(many.lines[0]).toHaveLength(COMMAND_MAX_CHARS)
})

describe.each(BACKENDS)('replays (%s)', (kind) => {
  let backend: Backend
  beforeAll(async () => {
    backend = await openBackend(kind)
  })
  afterAll(() => backend.close())

  test('a recording is private until the admin publishes it; the public replay lists the commands', async () => {
    await using server = await startServer(backend)
    const { client, sessionId } = await connect(server)
    await client.output('$ ')
    client.type('print replx\x7fay-one\r')
    await client.output('ay-one\r\n$ ')
    client.type('print two\r')
    await client.output('two\r\n$ ')
    const live = server.manager.get(sessionId)
    client.type('exit 0\r')
    await client.control('exit')
    await live?.finished

    const get = (path: string) => fetch(`${server.url}${path}`)
    const publish = (value: boolean, token?: string) =>
      fetch(`${server.url}/api/v1/terminal/sessions/${sessionId}/replay`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ public: value }),
      })
    const replay = await get(`/api/v1/replays/${sessionId}`)
    expect(replay.status).toBe(404)
    expect(((await replay.json()) as { error: { code: string } }).error.code).toBe('REPLAY_NOT_FOUND')
    expect((await get(`/api/v1/replays/${sessionId}/cast`)).status).toBe(404)
    expect((await get('/api/v1/replays/not-a-uuid')).status).toBe(404)

    expect((await publish(true)).status).toBe(401)
    const token = await server.adminToken()
    expect((await publish(true, token)).status).toBe(200)
    const published = await get(`/api/v1/replays/${sessionId}`)
    expect(published.status).toBe(200)
    expect(((await published.json()) as { data: unknown }).data).toEqual({
      id: sessionId,
      project: 'demo',
      startedAt: expect.any(String),
      endedAt: expect.any(String),
      // `exit 0` ended the recorded session: it is not re-run.
      commands: ['print replay-one', 'print two'],
      castUrl: `/api/v1/replays/${sessionId}/cast`,
    })
    const cast = await get(`/api/v1/replays/${sessionId}/cast`)
    expect(cast.status).toBe(200)
    expect(cast.headers.get('content-type')).toBe('application/x-asciicast')
    expect(await cast.text()).toContain('two')

    // Withdrawn: private again.
    expect((await publish(false, token)).status).toBe(200)
    expect((await get(`/api/v1/replays/${sessionId}`)).status).toBe(404)
    // A session without a stored recording cannot be published.
    const missing = await fetch(`${server.url}/api/v1/terminal/sessions/${crypto.randomUUID()}/replay`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ public: true }),
    })
    expect(missing.status).toBe(404)
  }, 30_000)
})
