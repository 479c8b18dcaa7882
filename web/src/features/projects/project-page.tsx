import { A, useParams } from '@solidjs/router'
import { createSignal, For, Show } from 'solid-js'
import { ErrorView } from '../../components/error-view.tsx'
import { InlineMarkdown } from '../../components/inline-markdown.tsx'
import { Loading } from '../../components/loading.tsx'
import { ApiError } from '../../lib/errors.ts'
import { useTitle } from '../../lib/title.ts'
import { type TerminalControls, TerminalPanel } from '../terminal/terminal-panel.tsx'
import { createProject } from './queries.ts'

export default function ProjectPage() {
  const params = useParams()
  const [project, { refetch }] = createProject(() => params.slug ?? '')
  useTitle(() => (project.state === 'ready' ? project()?.title : undefined))
  const [terminal, setTerminal] = createSignal<TerminalControls>()
  const notFound = () => project.error instanceof ApiError && project.error.status === 404
  return (
    <div class="page wide">
      <p>
        <A href="/projects">← All projects</A>
      </p>
      <Show when={!project.loading} fallback={<Loading label="Loading the project…" />}>
        <Show
          when={project.state === 'ready' && project()}
          fallback={
            <Show
              when={notFound()}
              fallback={
                <ErrorView
                  error={project.error}
                  retry={() => void refetch()}
                  title="The project could not be loaded."
                />
              }
            >
              <h1>Project not found</h1>
              <p>
                See <A href="/projects">all projects</A>.
              </p>
            </Show>
          }
        >
          {(p) => (
            <>
              <header class="project-header">
                <h1>{p().title}</h1>
                <p class="lead">{p().summary}</p>
                <ul class="tags" aria-label="Stack">
                  <For each={p().stack}>{(item) => <li>{item}</li>}</For>
                </ul>
              </header>
              <div class="project-layout">
                <TerminalPanel project={p()} controls={(c) => setTerminal(() => c)} />
                <aside class="project-aside" aria-labelledby="try-title">
                  <h2 id="try-title">Try these</h2>
                  <p class="muted small">
                    The terminal opens in your home folder; the project is in <code>~/projects/{p().slug}</code>, so
                    start with <code>cd projects/{p().slug}</code>. Click a command to type it in the terminal.
                  </p>
                  <ul class="commands">
                    <For each={p().commands}>
                      {(c) => (
                        <li>
                          <button
                            type="button"
                            class="command"
                            disabled={!terminal()?.connected()}
                            title="Type it in the terminal"
                            onClick={() => terminal()?.type(c)}
                          >
                            <code>{c}</code>
                          </button>
                        </li>
                      )}
                    </For>
                  </ul>
                  <h2>About</h2>
                  <p class="description">
                    <InlineMarkdown text={p().description} />
                  </p>
                  <Show when={p().repoUrl}>
                    <p>
                      <a href={p().repoUrl ?? '#'} rel="noopener noreferrer">
                        Source code
                      </a>
                    </p>
                  </Show>
                </aside>
              </div>
            </>
          )}
        </Show>
      </Show>
    </div>
  )
}
