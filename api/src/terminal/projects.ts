import { join, resolve, sep } from 'node:path'
import { type CommandPolicy, DEFAULT_POLICY, type ProjectRuntime, type RunnerKind } from '@shellfolio/runner'
import { REPO_ROOT } from '../config.ts'
import type { ProjectImports } from '../projects/import.ts'
import type { ProjectsService } from '../projects/service.ts'

/** A project as the terminal needs it. */
export interface TerminalProject {
  slug: string
  /** Absolute host path of the project's sources (wasm-projects/<folder>). */
  sourceDir: string
  policy: CommandPolicy
  runners: RunnerKind[]
  /** The Docker sandbox's toolchain (docs/projects.md); default `c`. */
  runtime?: ProjectRuntime
}

/** Finds a live project by slug; null when there is none (or it cannot be run). */
export type ProjectResolver = (slug: string) => Promise<TerminalProject | null>

const PROJECTS_DIR = join(REPO_ROOT, 'wasm-projects')

/**
 * The terminal's view of the projects service: live, published projects only, read uncached (a
 * deleted or unpublished project stops opening sessions at once); files from the current imported
 * version, else under wasm-projects/ and never outside it.
 */
export function terminalProjects(
  projects: Pick<ProjectsService, 'findRunnable'>,
  imports?: Pick<ProjectImports, 'filesOf'>,
): ProjectResolver {
  return async (slug) => {
    const found = await projects.findRunnable(slug)
    if (!found) return null
    const { project } = found
    const policy = project.policy?.allow ? project.policy : DEFAULT_POLICY
    // An imported project's files come from the media store (docs/projects.md), laid out on this host.
    if (found.currentVersionId && imports) {
      const sourceDir = await imports.filesOf({
        currentVersionId: found.currentVersionId,
        sourcePath: project.sourcePath,
      })
      if (!sourceDir) return null
      return { slug: project.slug, sourceDir, policy, runners: project.runners, runtime: project.runtime }
    }
    if (project.sourcePath === '') return null
    const folder = project.sourcePath.replace(/^wasm-projects\//, '')
    const sourceDir = resolve(PROJECTS_DIR, folder)
    if (!sourceDir.startsWith(PROJECTS_DIR + sep)) return null
    return { slug: project.slug, sourceDir, policy, runners: project.runners, runtime: project.runtime }
  }
}
