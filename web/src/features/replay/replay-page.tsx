import { useParams } from '@solidjs/router'
import { createSignal, lazy, onMount, Show, Suspense } from 'solid-js'
import { PageHead } from '../../lib/head.tsx'
import { createProject } from '../projects/queries.ts'
import { createReplay } from './queries.ts'

const ReplayStage = lazy(() => import('./replay-stage.tsx'))

/**
 * `/replay/:id`: a recorded session the owner published (docs/api.md, "Replays"), played with
 * asciinema-player; at its end, "Continue live" opens a fresh session of the project and re-runs
 * the recorded commands. Rendered on the server (title, project, commands); the player loads in the
 * browser. A private or unknown recording is a 404 page.
 */
export default function ReplayPage() {
  const params = useParams()
  const [replay] = createReplay(() => params.id ?? '')
  const [project] = createProject(() => replay()?.project ?? '')
  const [mounted, setMounted] = createSignal(false)
  onMount(() => setMounted(true))
  return (
    <Show
      when={replay()}
      fallback={
        <>
          <PageHead title="Replay not found" noindex notFound />
          <h1>Replay not found</h1>
          <p class="error-box">There is no public replay here. It may have been withdrawn.</p>
        </>
      }
    >
      {(r) => (
        <article class="replay">
          <PageHead
            title={`Replay: ${project()?.title ?? r().project}`}
            description={`A recorded terminal session of ${project()?.title ?? r().project}, then yours to continue.`}
          />
          <h1>
            Replay: <a href={`/projects/${r().project}`}>{project()?.title ?? r().project}</a>
          </h1>
          <p class="muted">
            A recorded session, recorded on {new Date(r().startedAt).toUTCString()}. When it ends, “Continue live” opens
            your own terminal and runs the same {r().commands.length} command{r().commands.length === 1 ? '' : 's'}, so
            you pick up where it stopped.
          </p>
          <Show
            when={mounted() && project()}
            fallback={
              <div class="terminal-frame">
                <div class="terminal-idle">
                  <strong>The recording plays here</strong>
                  <span>It needs JavaScript.</span>
                </div>
              </div>
            }
          >
            {(p) => (
              <Suspense fallback={<p class="muted">Loading the player…</p>}>
                <ReplayStage replay={r()} project={p()} />
              </Suspense>
            )}
          </Show>
          <details class="replay-commands">
            <summary>The commands of this session</summary>
            <pre>
              <code>{r().commands.join('\n')}</code>
            </pre>
          </details>
        </article>
      )}
    </Show>
  )
}
