import { useParams } from '@solidjs/router'
import { createSignal, lazy, onMount, Show, Suspense } from 'solid-js'
import { PageHead } from '../../lib/head.tsx'

const WatchViewer = lazy(() => import('./watch-viewer.tsx'))

/** The frame before xterm.js is loaded (server render, no JavaScript, loading). */
function Placeholder(props: { note: string }) {
  return (
    <section class="terminal" aria-label="Watched terminal">
      <div class="terminal-frame">
        <div class="terminal-idle">
          <strong>Someone's live terminal shows here, read-only</strong>
          <span>{props.note}</span>
        </div>
      </div>
    </section>
  )
}

/**
 * `/watch/:token`: a live session someone shared, read-only (docs/terminal-protocol.md,
 * "Watching"). The page is rendered on the server; the terminal (xterm.js) loads in the browser.
 */
export default function WatchPage() {
  const params = useParams()
  const [mounted, setMounted] = createSignal(false)
  onMount(() => setMounted(true))
  return (
    <div class="watch">
      <PageHead title="Watching a live terminal" noindex />
      <h1>Watching a live terminal</h1>
      <p class="muted">
        You see this session as its owner types, and cannot type yourself. The link stops working when the owner stops
        sharing or the session ends.
      </p>
      <Show when={mounted()} fallback={<Placeholder note="It needs JavaScript." />}>
        <Suspense fallback={<Placeholder note="Loading…" />}>
          <WatchViewer token={params.token ?? ''} />
        </Suspense>
      </Show>
    </div>
  )
}
