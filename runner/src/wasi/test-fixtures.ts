import { join } from 'node:path'
import { projectAt } from '../test-fixtures.ts'
import type { ProjectSpec } from '../types.ts'

/** runner/src/wasi/testdata/limits: hog (memory), spin (time), echoline (stdin, cwd, files). */
export function limitsProject(): ProjectSpec {
  return projectAt(join(import.meta.dir, 'testdata', 'limits'))
}

/** runner/src/wasi/testdata/abuse: make bombs, an include bomb, fill (files), spin (CPU), readline (stdin). */
export function abuseProject(): ProjectSpec {
  return projectAt(join(import.meta.dir, 'testdata', 'abuse'))
}
