import type { WarmPool } from '../types.ts'
import { DockerRunner, type DockerRunnerOptions } from './runner.ts'

/**
 * A docker runner for tests that refuses to run without an engine and the image: a missing engine
 * or image must fail the suite loudly, never skip it.
 */
export async function requireDockerRunner(options: DockerRunnerOptions = {}): Promise<DockerRunner> {
  // why: SANDBOX_IMAGE (docs/configuration.md) pins the image, e.g. while project sources change under a run
  const image = options.image ?? process.env.SANDBOX_IMAGE
  const runner = new DockerRunner({ ...options, ...(image ? { image } : {}) })
  const reason = await runner.unavailableReason()
  if (reason) {
    await runner.close()
    throw new Error(`docker runner tests need a Docker engine and the sandbox image: ${reason}`)
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
