/**
 * SANDBOX_RUNTIME: how the runtime is chosen from what the engine lists, and how the runner service
 * refuses a bad setting. The engine's own list is read from the real Docker engine.
 */
import { describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { chooseRuntime, engineRuntimes, parseSandboxRuntime, RUNSC_SETUP } from './runtime.ts'
import { requireDockerRunner, testRuntime } from './test-fixtures.ts'

describe('choosing the sandbox runtime', () => {
  test('SANDBOX_RUNTIME parses auto (also when unset), runsc and runc; anything else is refused', () => {
    expect([undefined, '', ' auto ', 'runsc', 'runc'].map(parseSandboxRuntime)).toEqual([
      'auto',
      'auto',
      'auto',
      'runsc',
      'runc',
    ])
    expect(parseSandboxRuntime('gvisor')).toBeNull()
  })

  test('auto takes runsc when the engine lists it, else runc; runc is always runc', () => {
    expect(chooseRuntime('auto', ['runc', 'runsc'])).toEqual({ runtime: 'runsc' })
    expect(chooseRuntime('auto', ['io.containerd.runc.v2', 'runc'])).toEqual({ runtime: 'runc' })
    expect(chooseRuntime('runc', ['runc', 'runsc'])).toEqual({ runtime: 'runc' })
    expect(chooseRuntime('runsc', ['runc', 'runsc'])).toEqual({ runtime: 'runsc' })
  })

  test('runsc asked for and not listed is a problem that names what is missing and how to add it', () => {
    expect(chooseRuntime('runsc', ['io.containerd.runc.v2', 'runc'])).toEqual({
      problem: `SANDBOX_RUNTIME=runsc but the Docker engine lists no runsc runtime (it lists: io.containerd.runc.v2, runc); ${RUNSC_SETUP}`,
    })
  })

  test("the runner resolves the runtime from the engine's list", async () => {
    const runner = await requireDockerRunner({ poolSize: 0 })
    try {
      const listed = await engineRuntimes(runner.docker)
      expect(listed).toContain('runc')
      const expected = chooseRuntime(testRuntime(), listed)
      expect(expected).toEqual({ runtime: runner.runtime as 'runc' | 'runsc' })
      // An explicit SANDBOX_RUNTIME is what the run really uses (no silent fallback to runc).
      if (testRuntime() !== 'auto') expect(runner.runtime).toBe(testRuntime() as 'runc' | 'runsc')
    } finally {
      await runner.close()
    }
  })
})

describe('the runner service (bun run runner)', () => {
  test('an unknown SANDBOX_RUNTIME stops the start with exit 78, naming the variable', () => {
    const p = Bun.spawnSync(['bun', 'run', join(import.meta.dir, '../server.ts')], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        RUNNER_TOKEN: 'runtime-test-token-0123456789abcdefghij',
        RUNNER_PORT: '0',
        SANDBOX_RUNTIME: 'gvisor',
      },
      stdout: 'pipe',
      stderr: 'pipe',
    })
    expect(p.exitCode).toBe(78)
    expect(p.stderr.toString()).toContain('SANDBOX_RUNTIME="gvisor": expected auto, runsc or runc')
  })

  test('at start it logs the runtime its sandboxes run under', async () => {
    const proc = Bun.spawn(['bun', 'run', join(import.meta.dir, '../server.ts')], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        RUNNER_TOKEN: 'runtime-test-token-0123456789abcdefghij',
        RUNNER_PORT: '0',
        RUNNERS: 'docker',
        DOCKER_POOL_SIZE: '0',
        SANDBOX_RUNTIME: testRuntime(),
        ...(process.env.SANDBOX_IMAGE ? { SANDBOX_IMAGE: process.env.SANDBOX_IMAGE } : {}),
      },
      stdout: 'ignore',
      stderr: 'pipe',
    })
    try {
      let text = ''
      const decoder = new TextDecoder()
      for await (const chunk of proc.stderr) {
        text += decoder.decode(chunk)
        if (text.includes('"msg":"serving"')) break
      }
      const line = text.split('\n').find((l) => l.includes('"msg":"sandbox runtime"'))
      expect(line).toBeDefined()
      const logged = JSON.parse(line as string) as { sandboxRuntime: string; requested: string }
      const runner = await requireDockerRunner({ poolSize: 0 })
      await runner.close()
      expect({ sandboxRuntime: logged.sandboxRuntime, requested: logged.requested }).toEqual({
        sandboxRuntime: runner.runtime as string,
        requested: testRuntime(),
      })
    } finally {
      proc.kill()
      await proc.exited
    }
  }, 30_000)
})
