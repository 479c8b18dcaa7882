/**
 * /readyz with the real runner registry: it says which OCI runtime Docker sessions run under
 * (SANDBOX_RUNTIME), read from the real Docker engine (`make test` runs this with runc and runsc).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { chooseRuntime, type DockerRunner, engineRuntimes } from '@shellfolio/runner/docker'
import { type Backend, openBackend, req, testConfig, testDeps } from '../../test/harness.ts'
import { createApp } from '../app.ts'
import { createRunnerRegistry } from '../terminal/runners.ts'

let backend: Backend
beforeAll(async () => {
  backend = await openBackend('services')
})
afterAll(() => backend.close())

test('/readyz reports the sandbox runtime asked for and the one Docker sessions run under', async () => {
  const env = { RUNNERS: 'docker', DOCKER_POOL_SIZE: '0' }
  const config = testConfig(env)
  const registry = await createRunnerRegistry(config)
  try {
    const app = createApp({ ...testDeps(backend, env), runners: registry })
    const res = await app.handle(req('/readyz'))
    expect(res.status).toBe(200)
    const body = (await res.json()) as { data: { parts: Record<string, string>; sandbox: unknown } }
    const engine = (registry.get('docker') as DockerRunner).docker
    const chosen = chooseRuntime(config.sandboxRuntime, await engineRuntimes(engine))
    if ('problem' in chosen) throw new Error(chosen.problem)
    expect(body.data.parts['runner.docker']).toBe('up')
    expect(body.data.sandbox).toEqual({ requested: config.sandboxRuntime, runtime: chosen.runtime })
  } finally {
    await registry.close()
  }
}, 30_000)

test('/readyz without an in-process Docker runner has no sandbox entry', async () => {
  const app = createApp(testDeps(backend))
  const body = (await (await app.handle(req('/readyz'))).json()) as { data: Record<string, unknown> }
  expect(body.data.sandbox).toBeUndefined()
})
