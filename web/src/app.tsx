import { createResource, Show } from 'solid-js'

async function fetchHealth(): Promise<string> {
  const res = await fetch('/healthz')
  const body = (await res.json()) as { data: { status: string } | null }
  return body.data?.status ?? 'down'
}

/** The first page: who this is and whether the API answers. Routes arrive with the site issue. */
export function App() {
  const [health] = createResource(fetchHealth)
  return (
    <main class="page">
      <header>
        <h1>
          <span class="prompt">$</span> shellfolio
        </h1>
        <p>A developer portfolio and blog whose projects you can run live, in a real terminal, in your browser.</p>
      </header>
      <p class="status" role="status">
        API:{' '}
        <Show when={!health.loading} fallback="checking…">
          {health.error ? 'unreachable' : health()}
        </Show>
      </p>
    </main>
  )
}
