import { join, resolve, sep } from 'node:path'
import { type CommandPolicy, DEFAULT_POLICY, type RunnerKind } from '@shellfolio/runner'
import { REPO_ROOT } from '../config.ts'
import type { ProjectsService } from '../projects/service.ts'

/** A project as the terminal needs it. */
export interface TerminalProject {
  slug: string
  /** Absolute host path of the project's sources (wasm-projects/<folder>). */
  sourceDir: string
  policy: CommandPolicy
  runners: RunnerKind[]
}

/** Finds a live project by slug; null when there is none (or it cannot be run). */
export type ProjectResolver = (slug: string) => Promise<TerminalProject | null>

const PROJECTS_DIR = join(REPO_ROOT, 'wasm-projects')

/**
 * The terminal's view of the projects service: live projects only, read uncached (a deleted
 * project stops opening sessions at once), sources under wasm-projects/ and never outside it.
 */
export function terminalProjects(projects: Pick<ProjectsService, 'findLiveBySlug'>): ProjectResolver {
  return async (slug) => {
    const project = await projects.findLiveBySlug(slug)
    if (!project) return null
    const folder = project.sourcePath.replace(/^wasm-projects\//, '')
    const sourceDir = resolve(PROJECTS_DIR, folder)
    if (!sourceDir.startsWith(PROJECTS_DIR + sep)) return null
    const policy = project.policy?.allow ? project.policy : DEFAULT_POLICY
    return { slug: project.slug, sourceDir, policy, runners: project.runners }
  }
}
