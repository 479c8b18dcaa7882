import { resolve } from 'node:path'
import { DEFAULT_POLICY } from '../policy.ts'
import type { CommandPolicy, ProjectSpec } from '../types.ts'
import { DockerRunner, type DockerRunnerOptions } from './runner.ts'

/** The selftest fixture project (runner/fixtures/selftest), baked into the sandbox image. */
export function selftestProject(policy: CommandPolicy = DEFAULT_POLICY): ProjectSpec {
  return { slug: 'selftest', sourceDir: resolve(import.meta.dir, '../../fixtures/selftest'), policy }
}

/**
 * A docker runner for tests that refuses to run without an engine and the image: a missing engine
 * or image must fail the suite loudly, never skip it.
 */
export async function requireDockerRunner(options: DockerRunnerOptions = {}): Promise<DockerRunner> {
  // why: SANDBOX_IMAGE (DESIGN.md §4) pins the image, e.g. while project sources change under a run
  const image = options.image ?? process.env.SANDBOX_IMAGE
  const runner = new DockerRunner({ ...options, ...(image ? { image } : {}) })
  const reason = await runner.unavailableReason()
  if (reason) {
    await runner.close()
    throw new Error(`docker runner tests need a Docker engine and the sandbox image: ${reason}`)
  }
  return runner
}
