import { createSignal, For, onCleanup, Show } from 'solid-js'
import { ErrorView } from '../../components/error-view.tsx'
import { Loading } from '../../components/loading.tsx'
import type { LiveSession } from '../../lib/contract.ts'
import { messageFor } from '../../lib/errors.ts'
import { createLiveSessions, killSession } from './queries.ts'
import { RecordingPlayer } from './recording-player.tsx'

const REFRESH_MS = 5000

/** Live terminal sessions (refreshed every 5 s) with kill, and recording playback by session id. */
export default function SessionsAdmin() {
  const [sessions, { refetch, mutate }] = createLiveSessions()
  const [message, setMessage] = createSignal<{ ok: boolean; text: string }>()
  const [playing, setPlaying] = createSignal<string>()
  const timer = setInterval(() => {
    if (!document.hidden) void refetch()
  }, REFRESH_MS)
  onCleanup(() => clearInterval(timer))

  const kill = async (s: LiveSession) => {
    if (!confirm(`End session ${s.id.slice(0, 8)} (${s.project} on ${s.runner})?`)) return
    try {
      await killSession(s.id)
      mutate((list) => (list ?? []).filter((x) => x.id !== s.id))
      setMessage({ ok: true, text: `Session ${s.id.slice(0, 8)} was ended.` })
    } catch (err) {
      setMessage({ ok: false, text: messageFor(err) })
    }
  }

  const playById = (ev: SubmitEvent) => {
    ev.preventDefault()
    const id = String(new FormData(ev.currentTarget as HTMLFormElement).get('session') ?? '').trim()
    if (id) setPlaying(id)
  }

  return (
    <section aria-labelledby="sessions-title">
      <h1 id="sessions-title">Live sessions</h1>
      <Show when={message()}>
        <p class={message()!.ok ? 'success-box' : 'error-box'} role={message()!.ok ? 'status' : 'alert'}>
          {message()!.text}
        </p>
      </Show>
      <Show when={!sessions.loading || sessions.latest} fallback={<Loading label="Loading sessions…" />}>
        <Show when={!sessions.error} fallback={<ErrorView error={sessions.error} retry={() => void refetch()} />}>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Session</th>
                  <th scope="col">Project</th>
                  <th scope="col">Runner</th>
                  <th scope="col">Status</th>
                  <th scope="col">Started</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                <For
                  each={sessions.latest}
                  fallback={
                    <tr>
                      <td colSpan={6}>No live sessions.</td>
                    </tr>
                  }
                >
                  {(s) => (
                    <tr>
                      <td>
                        <code title={s.id}>{s.id.slice(0, 8)}</code>
                        <br />
                        <span class="muted small">{s.ip}</span>
                      </td>
                      <td>{s.project}</td>
                      <td>{s.runner}</td>
                      <td>{s.status}</td>
                      <td>{new Date(s.startedAt).toLocaleTimeString()}</td>
                      <td>
                        <div class="row-actions">
                          <button type="button" class="button" onClick={() => setPlaying(s.id)}>
                            Recording<span class="sr-only"> of {s.id}</span>
                          </button>
                          <button type="button" class="button danger" onClick={() => void kill(s)}>
                            Kill<span class="sr-only"> {s.id}</span>
                          </button>
                        </div>
                      </td>
                    </tr>
                  )}
                </For>
              </tbody>
            </table>
          </div>
        </Show>
      </Show>

      <h2>Recordings</h2>
      <form class="row-actions" onSubmit={playById}>
        <label for="recording-id" class="sr-only">
          Session id
        </label>
        <input id="recording-id" name="session" type="text" placeholder="Session id" style={{ 'max-width': '24rem' }} />
        <button type="submit" class="button">
          Play recording
        </button>
      </form>
      <Show when={playing()}>{(id) => <RecordingPlayer sessionId={id()} />}</Show>
    </section>
  )
}
