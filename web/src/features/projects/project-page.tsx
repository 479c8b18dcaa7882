import { A, useParams } from '@solidjs/router'
import { createSignal, For, lazy, onMount, Show, Suspense } from 'solid-js'
import { InlineMarkdown } from '../../components/inline-markdown.tsx'
import type { Project } from '../../lib/contract.ts'
import { PageHead } from '../../lib/head.tsx'
import { useServerRender } from '../../lib/server.ts'
import { useSite } from '../site/site-context.tsx'
import type { TerminalControls } from '../terminal/terminal-panel.tsx'
import { createProject } from './queries.ts'

const LiveStage = lazy(() => import('./live-stage.tsx'))

/**
 * What the stage looks like before the browser takes over (server render, no JavaScript, while the
 * terminal's code loads): the same frame, with the preview image or a word on what happens here.
 */
function StaticStage(props: { project: Project }) {
  return (
    <section class="terminal" aria-labelledby="terminal-title">
      <div class="terminal-toolbar">
        <h2 id="terminal-title">Live terminal</h2>
        <div class="terminal-actions">
          <button type="button" class="button primary" disabled>
            Start terminal
          </button>
        </div>
      </div>
      <div class="terminal-frame">
        <div class="terminal-poster">
          <Show
            when={props.project.previewImage}
            fallback={
              <div class="terminal-idle">
                <strong>A live terminal runs here</strong>
                <span>It needs JavaScript: everything else on this page reads without it.</span>
              </div>
            }
          >
            {(image) => <img class="poster-image" src={image().url} alt={`${props.project.title}, running`} />}
          </Show>
        </div>
      </div>
      <div class="terminal-status">
        <span>Runner: —</span>
        <span>not started</span>
        <span>Time left: —</span>
      </div>
    </section>
  )
}

export default function ProjectPage() {
  const params = useParams()
  const site = useSite()
  const origin = useServerRender()?.origin ?? (typeof location === 'undefined' ? '' : location.origin)
  const [project] = createProject(() => params.slug ?? '')
  const [terminal, setTerminal] = createSignal<TerminalControls>()
  // The terminal is browser-only: hydration keeps the server's static stage, then this swaps it in.
  const [mounted, setMounted] = createSignal(false)
  onMount(() => setMounted(true))
  return (
    <div class="page wide">
      <p>
        <A href="/projects">← All projects</A>
      </p>
      <Show
        when={project()}
        fallback={
          <>
            <PageHead title="Project not found" noindex notFound />
            <h1>Project not found</h1>
            <p>
              See <A href="/projects">all projects</A>.
            </p>
          </>
        }
      >
        {(p) => (
          <>
            <PageHead
              title={p().title}
              description={p().summary || undefined}
              image={p().previewImage?.url}
              path={`/projects/${p().slug}`}
              jsonLd={{
                '@context': 'https://schema.org',
                '@type': 'SoftwareSourceCode',
                name: p().title,
                description: p().summary || undefined,
                url: `${origin}/projects/${p().slug}`,
                codeRepository: p().repoUrl ?? undefined,
                programmingLanguage: p().stack.length > 0 ? p().stack : undefined,
                image: p().previewImage ? `${origin}${p().previewImage?.url}` : undefined,
                dateModified: p().updatedAt,
                author: { '@type': 'Person', name: site.profile().name, url: `${origin}/` },
              }}
            />
            <header class="project-header">
              <h1>{p().title}</h1>
              <p class="lead">{p().summary}</p>
              <ul class="tags" aria-label="Stack">
                <For each={p().stack}>{(item) => <li>{item}</li>}</For>
              </ul>
            </header>
            <div class="project-layout">
              <Show when={mounted()} fallback={<StaticStage project={p()} />}>
                <Suspense fallback={<StaticStage project={p()} />}>
                  <LiveStage project={p()} controls={(c) => setTerminal(() => c)} />
                </Suspense>
              </Show>
              <aside class="project-aside" aria-labelledby="try-title">
                <h2 id="try-title">Try these</h2>
                <p class="muted small">
                  The terminal opens in your home folder; the project is in <code>~/projects/{p().slug}</code>, so start
                  with <code>cd projects/{p().slug}</code>. Click a command to type it in the terminal.
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
    </div>
  )
}
