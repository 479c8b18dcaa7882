import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ProjectSpec } from '../types.ts'

const RUNNER_DIR = join(import.meta.dir, '..', '..')

/** The contract fixture (runner/fixtures/selftest) as a ProjectSpec; throws loudly if it is missing. */
export function selftestProject(): ProjectSpec {
  return projectAt(join(RUNNER_DIR, 'fixtures', 'selftest'))
}

/** A project of wasm-projects/ (e.g. minirt); throws naming what is missing. */
export function wasmProject(slug: string): ProjectSpec {
  return projectAt(join(RUNNER_DIR, '..', 'wasm-projects', slug))
}

/** runner/src/wasi/testdata/limits: hog (memory), spin (time), echoline (stdin, cwd, files). */
export function limitsProject(): ProjectSpec {
  return projectAt(join(import.meta.dir, 'testdata', 'limits'))
}

function projectAt(dir: string): ProjectSpec {
  const manifest = join(dir, 'project.json')
  if (!existsSync(manifest)) throw new Error(`missing test fixture: ${manifest} does not exist`)
  const json = JSON.parse(readFileSync(manifest, 'utf8')) as { slug?: string; policy?: { allow: string[] } }
  if (!json.policy) throw new Error(`${manifest} has no policy`)
  return { slug: json.slug ?? dir.split('/').at(-1)!, sourceDir: dir, policy: json.policy }
}
