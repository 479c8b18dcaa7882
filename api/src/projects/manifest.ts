/**
 * project.json, the one description of a project (docs/projects.md): checked field by field so an
 * owner is told exactly which field is wrong.
 */
import {
  DEFAULT_POLICY,
  PROJECT_RUNTIMES,
  type ProjectRuntime,
  RUNNER_KINDS,
  type RunnerKind,
} from '@shellfolio/runner'
import { BadRequestError } from '../http/errors.ts'

export interface ProjectManifest {
  slug: string
  title: string
  summary: string
  description: string
  stack: string[]
  repoUrl: string | null
  runners: RunnerKind[]
  binary: string
  commands: string[]
  policy: { allow: string[] }
  runtime: ProjectRuntime
  build: string
  featured: boolean
  order: number
}

export const SLUG_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/
const BINARY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/
// why: a control character would break the one-line command the check build types into the shell
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const PRINTABLE = /^[^\x00-\x1f\x7f]*$/

/** A 400 naming the project.json field (`/field`), as the validation errors of the API do. */
export class ManifestError extends BadRequestError {
  constructor(field: string, message: string, code = 'MANIFEST_INVALID') {
    super(`project.json: ${message}`, [{ in: 'project.json', path: `/${field}`, message }], code)
  }
}

const stringField = (m: Record<string, unknown>, key: string, max: number, required = false): string => {
  const v = m[key]
  if (v === undefined || v === null) {
    if (required) throw new ManifestError(key, `'${key}' is required`)
    return ''
  }
  if (typeof v !== 'string') throw new ManifestError(key, `'${key}' must be a string`)
  if (required && v.trim() === '') throw new ManifestError(key, `'${key}' must not be empty`)
  if (v.length > max) throw new ManifestError(key, `'${key}' is longer than ${max} characters`)
  return v
}

const stringList = (v: unknown, key: string, maxItems: number, maxLength: number): string[] | undefined => {
  if (v === undefined || v === null) return undefined
  if (!Array.isArray(v)) throw new ManifestError(key, `'${key}' must be an array of strings`)
  if (v.length > maxItems) throw new ManifestError(key, `'${key}' has more than ${maxItems} items`)
  for (const item of v) {
    if (typeof item !== 'string' || item.length === 0 || item.length > maxLength || !PRINTABLE.test(item)) {
      throw new ManifestError(key, `'${key}' must hold non-empty, printable strings of at most ${maxLength} characters`)
    }
  }
  return v as string[]
}

/** Parses and checks project.json's bytes; throws ManifestError naming the first bad field. */
export function parseManifest(bytes: Uint8Array | undefined): ProjectManifest {
  if (!bytes) throw new ManifestError('', 'the archive has no project.json at its root', 'MANIFEST_MISSING')
  let m: unknown
  try {
    m = JSON.parse(new TextDecoder().decode(bytes))
  } catch (err) {
    throw new ManifestError('', `not valid JSON (${err instanceof Error ? err.message : String(err)})`)
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new ManifestError('', 'must be a JSON object')
  return checkManifest(m as Record<string, unknown>)
}

/** Checks a parsed project.json (also used for the bundled wasm-projects/). */
export function checkManifest(m: Record<string, unknown>): ProjectManifest {
  const slug = stringField(m, 'slug', 100, true)
  if (!SLUG_PATTERN.test(slug)) {
    throw new ManifestError('slug', "'slug' must be lowercase letters and digits separated by single hyphens")
  }
  const title = stringField(m, 'title', 200, true)
  const summary = stringField(m, 'summary', 500)
  const description = stringField(m, 'description', 20_000)
  const stack = stringList(m.stack, 'stack', 30, 40) ?? []
  let repoUrl: string | null = null
  if (m.repoUrl !== undefined && m.repoUrl !== null) {
    repoUrl = stringField(m, 'repoUrl', 500)
    if (!/^https?:\/\/\S+$/.test(repoUrl)) throw new ManifestError('repoUrl', "'repoUrl' must be an http(s) URL")
  }
  const runtime = m.runtime === undefined ? 'c' : m.runtime
  if (typeof runtime !== 'string' || !(PROJECT_RUNTIMES as readonly string[]).includes(runtime)) {
    throw new ManifestError(
      'runtime',
      `unknown runtime ${JSON.stringify(runtime)}; known runtimes: ${PROJECT_RUNTIMES.join(', ')}`,
      'UNKNOWN_RUNTIME',
    )
  }
  const runnerList = stringList(m.runners, 'runners', RUNNER_KINDS.length, 20) ?? ['docker']
  for (const r of runnerList) {
    if (!(RUNNER_KINDS as readonly string[]).includes(r)) {
      throw new ManifestError('runners', `unknown runner '${r}'; known runners: ${RUNNER_KINDS.join(', ')}`)
    }
  }
  if (runnerList.length === 0) throw new ManifestError('runners', "'runners' must name at least one runner")
  const binary = stringField(m, 'binary', 100)
  if (binary !== '' && !BINARY_PATTERN.test(binary)) {
    throw new ManifestError('binary', "'binary' must be a plain file name (letters, digits, '.', '_', '-')")
  }
  const commands = stringList(m.commands, 'commands', 50, 200) ?? []
  let allow = DEFAULT_POLICY.allow
  if (m.policy !== undefined) {
    if (typeof m.policy !== 'object' || m.policy === null || Array.isArray(m.policy)) {
      throw new ManifestError('policy', "'policy' must be an object with an 'allow' array")
    }
    allow = stringList((m.policy as Record<string, unknown>).allow, 'policy/allow', 100, 64) ?? DEFAULT_POLICY.allow
  }
  const build = stringField(m, 'build', 500)
  if (!PRINTABLE.test(build)) throw new ManifestError('build', "'build' must be one line of printable text")
  if (m.featured !== undefined && typeof m.featured !== 'boolean') {
    throw new ManifestError('featured', "'featured' must be true or false")
  }
  const order = m.order === undefined ? 0 : m.order
  if (typeof order !== 'number' || !Number.isInteger(order) || Math.abs(order) > 10_000) {
    throw new ManifestError('order', "'order' must be an integer between -10000 and 10000")
  }
  return {
    slug,
    title,
    summary,
    description,
    stack,
    repoUrl,
    runners: [...new Set(runnerList)] as RunnerKind[],
    binary,
    commands,
    policy: { allow: [...allow] },
    runtime: runtime as ProjectRuntime,
    build,
    featured: m.featured === true,
    order,
  }
}
