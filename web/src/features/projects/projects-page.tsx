import { For } from 'solid-js'
import { PageHead } from '../../lib/head.tsx'
import { ProjectCard } from './project-card.tsx'
import { createProjects } from './queries.ts'

export default function ProjectsPage() {
  const [projects] = createProjects()
  return (
    <div class="page">
      <PageHead
        title="Projects"
        description="Small programs you can build and run live, in a sandboxed terminal in your browser."
        path="/projects"
      />
      <h1>Projects</h1>
      <p class="lead">
        Open one to get a live terminal in a sandbox: build it with <code>make</code>, then run it.
      </p>
      <div class="grid">
        <For each={projects()} fallback={<p class="muted">No projects yet.</p>}>
          {(p) => <ProjectCard project={p} />}
        </For>
      </div>
    </div>
  )
}
