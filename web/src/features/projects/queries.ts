import { createResource } from 'solid-js'
import { projectBySlug, unwrap, v1 } from '../../lib/api.ts'
import type { Project } from '../../lib/contract.ts'
import { ApiError } from '../../lib/errors.ts'
import { useContent } from '../../lib/server.ts'

export async function fetchProjects(): Promise<Project[]> {
  // Without include=deleted the server answers the public list (with availableRunners).
  return (await unwrap(v1.projects.get())).data as Project[]
}

/** One project, or null when there is no such (live) project. */
export async function fetchProject(slug: string): Promise<Project | null> {
  try {
    return (await unwrap(projectBySlug(slug).get())).data
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null
    throw err
  }
}

/** The public projects list (the API's services during a server render). */
export function createProjects() {
  const content = useContent()
  return createResource(() => (content ? content.projects() : fetchProjects()))
}

/** One project by slug (reactive: follows the route); null when it does not exist. */
export function createProject(slug: () => string) {
  const content = useContent()
  return createResource(slug, (s) => (content ? content.project(s) : fetchProject(s)))
}
