import { createResource, createSignal, For, onCleanup, Show } from 'solid-js'
import { unwrap, v1 } from '../../lib/api.ts'
import type { Problem } from '../../lib/contract.ts'
import { messageFor } from '../../lib/errors.ts'
import { AdminTable, createStatus, Loaded, StatusMessage } from './admin-ui.tsx'

const REFRESH_MS = 10_000

type Filter = 'open' | 'resolved' | 'all'

async function fetchProblems(status: Filter) {
  return unwrap(v1.problems.get({ query: { status } }))
}

const when = (iso: string) => new Date(iso).toLocaleString()

/**
 * Problems (docs/faults.md): unexpected errors and dependency outages grouped by code, route and
 * first stack frame, with how often and when they happened and a request id to find in the logs.
 * Marking a group resolved hides it from the open list until it happens again.
 */
export default function ProblemsAdmin() {
  const [filter, setFilter] = createSignal<Filter>('open')
  const [problems, { refetch, mutate }] = createResource(filter, fetchProblems)
  const [message, setMessage] = createStatus()
  const timer = setInterval(() => {
    if (!document.hidden) void refetch()
  }, REFRESH_MS)
  onCleanup(() => clearInterval(timer))

  const resolve = async (p: Problem) => {
    try {
      const { data } = await unwrap(v1.problems({ id: p.id }).resolve.post())
      mutate((prev) =>
        prev
          ? {
              ...prev,
              data:
                filter() === 'open'
                  ? prev.data.filter((x) => x.id !== p.id)
                  : prev.data.map((x) => (x.id === p.id ? data : x)),
            }
          : prev,
      )
      setMessage({ ok: true, text: `Marked ${p.code} on ${p.route} resolved. It reopens if it happens again.` })
    } catch (err) {
      setMessage({ ok: false, text: messageFor(err) })
    }
  }

  return (
    <section aria-labelledby="problems-title">
      <h1 id="problems-title">Problems</h1>
      <p class="muted">
        Unexpected errors (500s, sessions a runner could not start) and outages of the database, cache or storage,
        grouped and counted. Find a sample request id in the server's logs.
      </p>
      <StatusMessage status={message()} />
      <Show when={problems.latest?.meta.outages.length}>
        <p class="status error" role="alert">
          Down right now:{' '}
          <For each={problems.latest?.meta.outages}>
            {(o, i) => (
              <>
                {i() > 0 ? ', ' : ''}
                <strong>{o.dependency}</strong> since {when(o.since)} ({o.failures} failed)
              </>
            )}
          </For>
        </p>
      </Show>
      <Show when={problems.latest?.meta.buffered}>
        {(n) => <p class="muted">{n()} groups are waiting in memory until the database answers.</p>}
      </Show>
      <fieldset class="row-actions plain-fieldset">
        <legend class="sr-only">Show</legend>
        <For each={['open', 'resolved', 'all'] as const}>
          {(f) => (
            <button type="button" class="button" aria-pressed={filter() === f} onClick={() => setFilter(f)}>
              {f === 'open' ? 'Open' : f === 'resolved' ? 'Resolved' : 'All'}
            </button>
          )}
        </For>
      </fieldset>
      <Loaded resource={problems} loading="Loading problems…" retry={refetch}>
        <AdminTable
          columns={['Problem', 'Where', 'Count', 'First / last', 'Sample', 'Actions']}
          caption="Problems, open first, most recent first"
          each={problems.latest?.data}
          empty={filter() === 'open' ? 'No open problems.' : 'Nothing here.'}
        >
          {(p) => (
            <tr>
              <td>
                <code>{p.code}</code>
                <Show when={p.status === 'resolved'}>
                  {' '}
                  <span class="muted small">resolved</span>
                </Show>
                <br />
                <span class="small">{p.message}</span>
              </td>
              <td>
                <code>{p.route}</code>
                <Show when={p.frame}>
                  <br />
                  <span class="muted small">{p.frame}</span>
                </Show>
              </td>
              <td>{p.count}</td>
              <td class="small">
                {when(p.firstSeen)}
                <br />
                {when(p.lastSeen)}
              </td>
              <td class="small">
                <Show when={p.sampleRequestId}>
                  request <code>{p.sampleRequestId}</code>
                </Show>
                <Show when={p.sampleTraceId}>
                  <br />
                  trace <code title={p.sampleTraceId ?? ''}>{p.sampleTraceId?.slice(0, 16)}</code>
                </Show>
              </td>
              <td>
                <Show when={p.status === 'open'}>
                  <button type="button" class="button" onClick={() => void resolve(p)}>
                    Resolve
                    <span class="sr-only">
                      {' '}
                      {p.code} on {p.route}
                    </span>
                  </button>
                </Show>
              </td>
            </tr>
          )}
        </AdminTable>
      </Loaded>
    </section>
  )
}
