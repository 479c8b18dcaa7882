import { createResource } from 'solid-js'
import { projectBySlug, unwrap, v1 } from '../../lib/api.ts'
import type { Project } from '../../lib/contract.ts'

export async function fetchProjects(): Promise<Project[]> {
  // Without include=deleted the server answers the public list (with availableRunners).
  return (await unwrap(v1.projects.get())).data as Project[]
}

export async function fetchProject(slug: string): Promise<Project> {
  return (await unwrap(projectBySlug(slug).get())).data
}

/** The public projects list. */
export function createProjects() {
  return createResource(fetchProjects)
}

/** One project by slug (reactive: follows the route). */
export function createProject(slug: () => string) {
  return createResource(slug, fetchProject)
}
