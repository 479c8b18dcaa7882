import { useParams } from '@solidjs/router'
import { createSignal, lazy, onCleanup, onMount, Show, Suspense } from 'solid-js'
import { PageHead } from '../../lib/head.tsx'
import { createProject } from '../projects/queries.ts'
import { useSite } from '../site/site-context.tsx'

const LiveStage = lazy(() => import('../projects/live-stage.tsx'))

/** The message `/embed.js` sizes its iframe with (api/src/embed/script.ts). */
export const HEIGHT_MESSAGE = 'shellfolio:height'

/**
 * The origin of the page that frames this one, or undefined when not framed. Chromium and Safari
 * tell it in `location.ancestorOrigins`; elsewhere the referrer (the embedding page's origin under
 * the default referrer policy). A label for admins only: it decides nothing.
 */
function embeddingOrigin(): string | undefined {
  if (window.parent === window) return undefined
  const ancestor = location.ancestorOrigins?.[0]
  if (ancestor) return ancestor
  try {
    return document.referrer ? new URL(document.referrer).origin : undefined
  } catch {
    return undefined
  }
}

/** Tells the embedding page how tall this document is, now and whenever it changes. */
function reportHeight(): () => void {
  if (window.parent === window) return () => {}
  let last = 0
  const send = () => {
    const height = Math.ceil(document.documentElement.getBoundingClientRect().height)
    if (height === last) return
    last = height
    // The height is no secret: any embedding page may read it.
    window.parent.postMessage({ type: HEIGHT_MESSAGE, height }, '*')
  }
  const observer = new ResizeObserver(send)
  observer.observe(document.documentElement)
  send()
  return () => observer.disconnect()
}

/** The terminal's frame before its code is loaded (server render, no JavaScript, loading). */
function Placeholder(props: { title: string; note: string }) {
  return (
    <section class="terminal" aria-label="Live terminal">
      <div class="terminal-frame">
        <div class="terminal-idle">
          <strong>{props.title}: a live terminal runs here</strong>
          <span>{props.note}</span>
        </div>
      </div>
    </section>
  )
}

/**
 * `/embed/:slug`: one project's terminal and nothing else, for other sites to frame (only the
 * origins of EMBED_ORIGINS may: api/src/embed, docs/api.md "Embedding"). The project's demo plays
 * in the frame until the visitor starts a session; sessions carry the embedding page's origin.
 */
export default function EmbedPage() {
  const params = useParams()
  const site = useSite()
  const [project] = createProject(() => params.slug ?? '')
  const [mounted, setMounted] = createSignal(false)
  const [origin, setOrigin] = createSignal<string>()
  onMount(() => {
    setOrigin(embeddingOrigin())
    setMounted(true)
    onCleanup(reportHeight())
  })
  return (
    <div class="embed">
      <Show
        when={project()}
        fallback={
          <>
            <PageHead title="Project not found" noindex notFound />
            <p class="error-box">There is no such project here.</p>
          </>
        }
      >
        {(p) => (
          <>
            <PageHead title={`${p().title}: live terminal`} description={p().summary || undefined} noindex />
            <Show when={mounted()} fallback={<Placeholder title={p().title} note="It needs JavaScript." />}>
              <Suspense fallback={<Placeholder title={p().title} note="Loading…" />}>
                <LiveStage project={p()} controls={() => {}} autoStart={false} embedOrigin={origin()} />
              </Suspense>
            </Show>
            <p class="muted small embed-credit">
              <a href={`/projects/${p().slug}`} target="_blank" rel="noopener">
                {p().title}
              </a>{' '}
              on {site.profile().siteTitle}
            </p>
          </>
        )}
      </Show>
    </div>
  )
}
