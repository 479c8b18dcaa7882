import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { CommandPolicy, ProjectSpec } from './types.ts'

const RUNNER_DIR = join(import.meta.dir, '..')

/**
 * The contract fixture (runner/fixtures/selftest, also baked into the sandbox image) as a
 * ProjectSpec, with its own policy or `policy`; throws loudly if it is missing.
 */
export function selftestProject(policy?: CommandPolicy): ProjectSpec {
  const project = projectAt(join(RUNNER_DIR, 'fixtures', 'selftest'))
  return policy ? { ...project, policy } : project
}

/** A project of wasm-projects/ (e.g. minirt); throws naming what is missing. */
export function wasmProject(slug: string): ProjectSpec {
  return projectAt(join(RUNNER_DIR, '..', 'wasm-projects', slug))
}

/** The project in `dir` as its `project.json` describes it; throws naming what is missing. */
export function projectAt(dir: string): ProjectSpec {
  const manifest = join(dir, 'project.json')
  if (!existsSync(manifest)) throw new Error(`missing test fixture: ${manifest} does not exist`)
  const json = JSON.parse(readFileSync(manifest, 'utf8')) as { slug?: string; policy?: { allow: string[] } }
  if (!json.policy) throw new Error(`${manifest} has no policy`)
  return { slug: json.slug ?? dir.split('/').at(-1)!, sourceDir: dir, policy: json.policy }
}
