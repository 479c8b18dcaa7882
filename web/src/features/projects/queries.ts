import { createResource } from 'solid-js'
import { pending, unwrap } from '../../lib/api.ts'
import type { Project } from '../../lib/contract.ts'

export async function fetchProjects(): Promise<Project[]> {
  return (await unwrap(pending.api.v1.projects.get())).data
}

export async function fetchProject(slug: string): Promise<Project> {
  return (await unwrap(pending.api.v1.projects({ slug }).get())).data
}

/** The public projects list. */
export function createProjects() {
  return createResource(fetchProjects)
}

/** One project by slug (reactive: follows the route). */
export function createProject(slug: () => string) {
  return createResource(slug, fetchProject)
}
