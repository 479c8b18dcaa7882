import { For, Show } from 'solid-js'
import { ErrorView } from '../../components/error-view.tsx'
import { Loading } from '../../components/loading.tsx'
import { useTitle } from '../../lib/title.ts'
import { ProjectCard } from './project-card.tsx'
import { createProjects } from './queries.ts'

export default function ProjectsPage() {
  useTitle(() => 'Projects')
  const [projects, { refetch }] = createProjects()
  return (
    <div class="page">
      <h1>Projects</h1>
      <p class="lead">
        Each one is a small C program. Open it to get a live terminal in a sandbox: build it with <code>make</code>,
        then run it.
      </p>
      <Show when={!projects.loading} fallback={<Loading label="Loading projects…" />}>
        <Show when={!projects.error} fallback={<ErrorView error={projects.error} retry={() => void refetch()} />}>
          <div class="grid">
            <For each={projects()} fallback={<p class="muted">No projects yet.</p>}>
              {(p) => <ProjectCard project={p} />}
            </For>
          </div>
        </Show>
      </Show>
    </div>
  )
}
