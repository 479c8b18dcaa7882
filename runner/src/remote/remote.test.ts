import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { runRunnerContract } from '../contract.ts'
import { RunnerError } from '../types.ts'
import { createWasiRunner } from '../wasi/index.ts'
import { selftestProject } from '../wasi/test-fixtures.ts'
import { createRemoteRunner } from './client.ts'
import { createRunnerServer } from './server.ts'

const TOKEN = 'remote-runner-test-token-0123456789abcdef'

// The same contract every back end passes, with the WASI runner behind a runner service.
let server: ReturnType<typeof createRunnerServer> | undefined
runRunnerContract({
  name: 'remote (wasi behind a runner service)',
  create: async () => {
    server ??= createRunnerServer({ runners: [createWasiRunner()], token: TOKEN, port: 0 })
    return createRemoteRunner({ urls: [server.url], token: TOKEN, kind: 'wasi' })
  },
  project: selftestProject(),
  timeoutMs: 90_000,
})
afterAll(() => server?.close())

describe('runner service', () => {
  let svc: ReturnType<typeof createRunnerServer>
  beforeAll(() => {
    svc = createRunnerServer({ runners: [createWasiRunner()], token: TOKEN, port: 0 })
  })
  afterAll(() => svc.close())

  test('requests without the token are refused; availability is per kind', async () => {
    const http = svc.url.replace('ws', 'http')
    expect((await fetch(`${http}/v1/health`)).status).toBe(401)
    expect((await fetch(`${http}/v1/health`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401)
    const wrong = createRemoteRunner({ urls: [svc.url], token: `${TOKEN}x`, kind: 'wasi' })
    expect(await wrong.available()).toBe(false)
    await expect(wrong.open({ project: selftestProject(), size: { cols: 80, rows: 24 } })).rejects.toThrow(RunnerError)
    expect(await createRemoteRunner({ urls: [svc.url], token: TOKEN, kind: 'wasi' }).available()).toBe(true)
    expect(await createRemoteRunner({ urls: [svc.url], token: TOKEN, kind: 'docker' }).available()).toBe(false)
  })

  test('a project path from the wire is never trusted: it is looked up by name on the service host', async () => {
    const remote = createRemoteRunner({ urls: [svc.url], token: TOKEN, kind: 'wasi' })
    const err = await remote
      .open({ project: { slug: 'x', sourceDir: '/etc', policy: { allow: ['ls'] } }, size: { cols: 80, rows: 24 } })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RunnerError)
    expect((err as RunnerError).code).toBe('PROJECT_NOT_FOUND')
  })

  test('an unreachable service falls through to the next URL', async () => {
    const remote = createRemoteRunner({ urls: ['ws://127.0.0.1:1', svc.url], token: TOKEN, kind: 'wasi' })
    expect(await remote.available()).toBe(true)
    const session = await remote.open({ project: selftestProject(), size: { cols: 80, rows: 24 } })
    await session.kill()
    expect((await session.exited).reason).toBe('killed')
  })
})
