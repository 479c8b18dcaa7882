/**
 * The whole path against the real back ends: HTTP ticket → WebSocket → session manager → runner.
 * The Docker case fails loudly when the engine or the sandbox image is missing (`make test` starts
 * dockerd and builds the image first).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { DockerRunner } from '@shellfolio/runner/docker'
import { type Backend, openBackend, testConfig } from '../test/harness.ts'
import { parseAsciicast } from './recording.ts'
import { createRunnerRegistry } from './runners.ts'
import { connect, startServer } from './test-kit.ts'

let backend: Backend
beforeAll(async () => {
  backend = await openBackend('embedded')
  // Builds the shared test logger before @wasmer/sdk initialises (see test-kit.ts).
  await (await startServer(backend, { runners: [] }))[Symbol.asyncDispose]()
})
afterAll(() => backend.close())

describe('real WASI runner through the WebSocket', () => {
  test('echo hello round trip, resize, exit', async () => {
    // Loaded after the logger exists: importing @wasmer/sdk breaks pino's caller lookup.
    const { createWasiRunner } = await import('@shellfolio/runner/wasi')
    const wasi = createWasiRunner()
    await using server = await startServer(backend, { runners: [wasi] })
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

describe('real Docker runner through the WebSocket', () => {
  test('echo hello round trip in a container, then an admin kill', async () => {
    const docker = new DockerRunner({ poolSize: 0 })
    const reason = await docker.unavailableReason()
    // Loud on purpose: a missing engine or image is a broken test setup, never a skip.
    if (reason) throw new Error(`the Docker runner is not available: ${reason}`)
    await using server = await startServer(backend, { runners: [docker] })
    const { client, sessionId } = await connect(server, { project: 'calc', runner: 'docker' }, { autoAck: true })
    using c = client
    expect(await c.control('ready', 30_000)).toMatchObject({ runner: 'docker', sessionId })
    await c.output(/\$ $/, 30_000)
    c.type('echo hello\r')
    await c.output(/\r\nhello\r\n/, 30_000)
    c.type('stty size\r')
    await c.output(/24 80/, 30_000)
    c.send({ type: 'resize', cols: 101, rows: 31 })
    c.type('stty size\r')
    await c.output(/31 101/, 30_000)
    expect(await server.manager.kill(sessionId)).toBe(true)
    expect(await c.control('exit', 30_000)).toEqual({ type: 'exit', code: null, reason: 'killed' })
    await docker.close()
  }, 120_000)

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
