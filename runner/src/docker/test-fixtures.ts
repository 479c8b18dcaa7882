import type { WarmPool } from '../types.ts'
import { DockerRunner, type DockerRunnerOptions } from './runner.ts'
import { parseSandboxRuntime, type SandboxRuntimeSetting } from './runtime.ts'

/**
 * The runtime the docker tests run under: SANDBOX_RUNTIME as the servers read it (`make test` runs
 * the docker suites once with `runc` and once with `runsc`). An unknown value fails the suite.
 */
export function testRuntime(): SandboxRuntimeSetting {
  const setting = parseSandboxRuntime(process.env.SANDBOX_RUNTIME)
  if (!setting)
    throw new Error(`SANDBOX_RUNTIME=${JSON.stringify(process.env.SANDBOX_RUNTIME)}: expected auto, runsc or runc`)
  return setting
}

/**
 * A docker runner for tests that refuses to run without an engine, the image and the runtime asked
 * for: a missing engine, image or runsc must fail the suite loudly, never skip it or fall back.
 */
export async function requireDockerRunner(options: DockerRunnerOptions = {}): Promise<DockerRunner> {
  // why: SANDBOX_IMAGE (docs/configuration.md) pins the image, e.g. while project sources change under a run
  const image = options.image ?? process.env.SANDBOX_IMAGE
  const runner = new DockerRunner({ runtime: testRuntime(), ...options, ...(image ? { image } : {}) })
  const reason = await runner.unavailableReason()
  if (reason) {
    await runner.close()
    throw new Error(`docker runner tests need a Docker engine, the sandbox image and the runtime: ${reason}`)
  }
  return runner
}

/** Starts filling `pool` and waits until `want` sandboxes are ready; throws after `timeoutMs`. */
export async function poolReady(pool: WarmPool, want: number, timeoutMs = 30_000): Promise<void> {
  await pool.fill()
  const deadline = Date.now() + timeoutMs
  while (pool.ready() < want) {
    if (Date.now() > deadline) throw new Error(`the warm pool did not reach ${want} within ${timeoutMs / 1000} s`)
    await Bun.sleep(25) // why: polling the pool with a deadline
  }
}
