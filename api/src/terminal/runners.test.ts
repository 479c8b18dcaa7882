/**
 * The whole path against the real back ends: HTTP ticket → WebSocket → session manager → runner.
 * The Docker case fails loudly when the engine or the sandbox image is missing (`make test` starts
 * dockerd and builds the image first).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { DockerRunner } from '@shellfolio/runner/docker'
import { Terminal } from '@xterm/headless'
import { type Backend, openBackend, testConfig } from '../../test/harness.ts'
import { connect, PLACEMENTS, startServer, TermClient } from '../../test/terminal-kit.ts'
import { projects } from '../db/schema/index.ts'
import { createLogger } from '../logger.ts'
import { parseAsciicast } from './recording.ts'
import { createRunnerRegistry, importWasi } from './runners.ts'

const LIFE_POLICY = { allow: ['ls', 'cd', 'cat', 'pwd', 'echo', 'clear', 'help', 'make', './*', 'exit', 'stty'] }

/** A visitor's terminal (80×24, as connect() opens) fed `chunks`. */
async function screenOf(chunks: Uint8Array[]): Promise<Terminal> {
  const term = new Terminal({ cols: 80, rows: 24, allowProposedApi: true })
  for (const chunk of chunks) await new Promise<void>((resolve) => term.write(chunk, resolve))
  return term
}

const screenLines = (term: Terminal, kind: 'normal' | 'alternate') => {
  const b = kind === 'normal' ? term.buffer.normal : term.buffer.alternate
  return Array.from({ length: b.length }, (_, i) => b.getLine(i)?.translateToString(true) ?? '')
}

let backend: Backend
beforeAll(async () => {
  backend = await openBackend('embedded')
})
afterAll(() => backend.close())

describe.each(PLACEMENTS)('real WASI runner through the WebSocket (runners %s)', (placement) => {
  test('echo hello round trip, resize, exit', async () => {
    const { createWasiRunner } = await importWasi()
    const wasi = createWasiRunner()
    await using server = await startServer(backend, { runners: [wasi], placement })
    expect(server.runners.availability().wasi).toBe(true)
    const { client, sessionId } = await connect(server, { project: 'calc', runner: 'wasi' }, { autoAck: true })
    using c = client
    expect(await c.control('ready', 20_000)).toMatchObject({ runner: 'wasi', sessionId })
    await c.output(/\$ $/, 20_000)
    c.send({ type: 'resize', cols: 100, rows: 30 })
    c.type('echo hello\r')
    await c.output(/hello\r?\n/, 20_000)
    const session = server.manager.get(sessionId)
    c.type('exit\r')
    expect(await c.control('exit', 20_000)).toMatchObject({ type: 'exit', reason: 'exit' })
    await session?.finished
    const stored = await server.manager.recording(sessionId)
    const cast = parseAsciicast(new TextDecoder().decode(stored as Uint8Array))
    expect(cast.events.some((e) => e[1] === 'o' && e[2].includes('hello'))).toBe(true)
    await wasi.close()
  }, 60_000)
})

describe('real WASI runner: a resume during `life` (docs/terminal-protocol.md, Resume)', () => {
  test('the visitor gets the frame on screen back, then `q` still reaches the program', async () => {
    const { createWasiRunner } = await importWasi()
    const wasi = createWasiRunner()
    await backend.database.db
      .insert(projects)
      .values({ slug: 'life', title: 'life', sourcePath: 'life', policy: LIFE_POLICY, runners: ['wasi'] })
      .onConflictDoNothing()
    await using server = await startServer(backend, { runners: [wasi] })
    const { client, sessionId } = await connect(server, { project: 'life', runner: 'wasi' }, { autoAck: true })
    const ready = await client.control('ready', 20_000)
    await client.output(/\$ $/, 20_000)
    // One frame every 10 s: the screen stays as drawn while the visitor reconnects.
    client.type('./life -d 10000 patterns/glider.rle\r')
    // (its first frame waits for a new program host to load: over 20 s once beside make test's other lane)
    await client.output(/generation 0 .*q: quit/, 60_000)
    const seen = await screenOf(client.chunks)
    expect(seen.buffer.active.type).toBe('alternate')
    client.ws.close()
    await client.closedWith()
    await client.until(() => server.manager.get(sessionId)?.socket === null || undefined, 5000, 'the detach')
    using again = new TermClient(`${server.ws}?session=${sessionId}&resume=${ready.resumeToken}`, { autoAck: true })
    await again.control('ready', 20_000)
    await again.until(() => again.bytes > 0 || undefined, 5000, 'the replay')
    const resumed = await screenOf(again.chunks)
    expect(resumed.buffer.active.type).toBe('alternate')
    expect(screenLines(resumed, 'alternate')).toEqual(screenLines(seen, 'alternate'))
    expect(screenLines(resumed, 'alternate').join('\n')).toMatch(/▀|▄|█/)
    expect(screenLines(resumed, 'normal')).toEqual(screenLines(seen, 'normal'))
    // life reads keys between frames: `q` takes effect within one 10 s frame delay
    again.type('q')
    await again.output(/\$ $/, 45_000)
    const after = await screenOf([...again.chunks])
    expect(after.buffer.active.type).toBe('normal')
    await wasi.close()
  }, 120_000)
})

describe.each(PLACEMENTS)('real Docker runner through the WebSocket (runners %s)', (placement) => {
  test('echo hello round trip in a container, then an admin kill', async () => {
    const docker = new DockerRunner({ poolSize: 0, runtime: testConfig().sandboxRuntime })
    const reason = await docker.unavailableReason()
    // Loud on purpose: a missing engine or image is a broken test setup, never a skip.
    if (reason) throw new Error(`the Docker runner is not available: ${reason}`)
    await using server = await startServer(backend, { runners: [docker], placement })
    const { client, sessionId } = await connect(server, { project: 'calc', runner: 'docker' }, { autoAck: true })
    using c = client
    expect(await c.control('ready', 30_000)).toMatchObject({ runner: 'docker', sessionId })
    await c.output(/\$ $/, 30_000)
    c.type('echo hello\r')
    await c.output(/\r\nhello\r\n/, 30_000)
    c.type('stty size\r')
    await c.output(/24 80/, 30_000)
    c.send({ type: 'resize', cols: 101, rows: 31 })
    // why: a resize (control) and the next keystrokes (input) travel separately, and the engine's
    // resize call can land after a quickly typed command: ask until the new size shows
    for (let attempt = 1; ; attempt++) {
      c.type('stty size\r')
      try {
        await c.output(/31 101/, 2_000)
        break
      } catch (err) {
        if (attempt >= 10) throw err
      }
    }
    expect(await server.manager.kill(sessionId)).toBe(true)
    expect(await c.control('exit', 30_000)).toEqual({ type: 'exit', code: null, reason: 'killed' })
    await docker.close()
  }, 120_000)

  test('flow control with a real container: a flood to a client that never acks pauses the container output', async () => {
    const docker = new DockerRunner({ poolSize: 0, runtime: testConfig().sandboxRuntime })
    const reason = await docker.unavailableReason()
    if (reason) throw new Error(`the Docker runner is not available: ${reason}`)
    const high = 512 * 1024
    await using server = await startServer(backend, {
      runners: [docker],
      placement,
      flow: { highWatermark: high, lowWatermark: 128 * 1024 },
    })
    const { client, sessionId } = await connect(server, { project: 'calc', runner: 'docker' }, { maxText: 64 * 1024 })
    using c = client
    await c.control('ready', 30_000)
    await c.output(/\$ $/, 30_000)
    // The sandbox image carries the selftest fixture (sessions get only their own project's files,
    // docs/projects.md); its `flood` prints N bytes as fast as it can.
    const fixture = '/opt/shellfolio/projects/selftest'
    c.type(`cd ~ && make -f ${fixture}/Makefile VPATH=${fixture} flood && echo built-ok\r`)
    await c.output(/built-ok\r?\n/, 60_000)
    c.ack(c.bytes)
    c.type('./flood 200000000\r')
    const live = server.manager.get(sessionId)
    await c.until(() => live?.paused, 30_000, 'the session to pause')
    // Received output stops growing while nothing is acknowledged (bounded by the watermark plus
    // what was in flight), although the program wants to print 200 MB.
    const settle = async () => {
      let last = -1
      while (c.bytes !== last) {
        last = c.bytes
        await Bun.sleep(200)
      }
      return last
    }
    const received = await settle()
    expect(live?.paused).toBe(true)
    expect((live?.unacked ?? 0) + (live?.pendingBytes ?? 0)).toBeLessThan(high + 1024 * 1024)
    expect(received).toBeLessThan(high + 2 * 1024 * 1024)
    // Acknowledging lets more through, and it pauses again.
    c.ack(c.bytes)
    await c.until(() => c.bytes > received + 256 * 1024, 30_000, 'more output after the ack')
    c.type('\x03')
    expect(await server.manager.kill(sessionId)).toBe(true)
    expect(await c.control('exit', 30_000)).toMatchObject({ reason: 'killed' })
    await docker.close()
  }, 120_000)
})

describe('runner registry from config', () => {
  test('the runner registry builds both runners from config and reports availability', async () => {
    const registry = await createRunnerRegistry(testConfig({ RUNNERS: 'wasi,docker', DOCKER_POOL_SIZE: '0' }))
    try {
      expect(registry.availability()).toEqual({ wasi: true, docker: true })
      expect(registry.get('wasi')?.kind).toBe('wasi')
      expect(registry.get('docker')?.kind).toBe('docker')
    } finally {
      await registry.close()
    }
    const wasiOnly = await createRunnerRegistry(testConfig({ RUNNERS: 'wasi' }))
    expect(wasiOnly.availability()).toEqual({ wasi: true, docker: false })
    expect(wasiOnly.get('docker')).toBeUndefined()
    await wasiOnly.close()
  }, 60_000)
})

describe('remote runner service (RUNNER_URLS)', () => {
  test('the API reaches a runner service over the internal WebSocket: echo hello round trip', async () => {
    const { createWasiRunner } = await importWasi()
    const { createRunnerServer } = await import('@shellfolio/runner/remote')
    const token = 'api-to-runner-token-0123456789abcdefgh'
    const service = createRunnerServer({ runners: [createWasiRunner()], token, port: 0 })
    try {
      const registry = await createRunnerRegistry(
        testConfig({ RUNNERS: 'wasi', RUNNER_URLS: service.url, RUNNER_TOKEN: token }),
      )
      expect(registry.availability()).toEqual({ wasi: true, docker: false })
      await using server = await startServer(backend, { runners: registry })
      const { client, sessionId } = await connect(server, { project: 'calc', runner: 'wasi' }, { autoAck: true })
      using c = client
      expect(await c.control('ready', 20_000)).toMatchObject({ runner: 'wasi', sessionId })
      await c.output(/\$ $/, 20_000)
      c.type('echo hello\r')
      await c.output(/hello\r?\n/, 20_000)
      expect(await server.manager.kill(sessionId)).toBe(true)
      expect(await c.control('exit', 20_000)).toEqual({ type: 'exit', code: null, reason: 'killed' })
      await registry.close()
    } finally {
      await service.close()
    }
  }, 60_000)
})

test('loading the WASI back end leaves loggers working (@wasmer/sdk and Error.prepareStackTrace)', async () => {
  await importWasi()
  expect(() => createLogger('silent')).not.toThrow()
})
