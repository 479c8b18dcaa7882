import { createSignal, onCleanup, Show } from 'solid-js'
import type { LiveSession } from '../../lib/contract.ts'
import { messageFor } from '../../lib/errors.ts'
import { AdminTable, createStatus, Loaded, StatusMessage } from './admin-ui.tsx'
import { createLiveSessions, killSession, publishReplay, watchSession } from './queries.ts'
import { RecordingPlayer } from './recording-player.tsx'

const REFRESH_MS = 5000

/** Live terminal sessions (refreshed every 5 s) with kill, and recording playback by session id. */
export default function SessionsAdmin() {
  const [sessions, { refetch, mutate }] = createLiveSessions()
  const [message, setMessage] = createStatus()
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

  const watch = async (s: LiveSession) => {
    // Opened before the request resolves: a window opened later is a popup the browser blocks.
    const tab = window.open('about:blank', '_blank')
    try {
      const url = await watchSession(s.id)
      if (tab) tab.location.href = url
      else setMessage({ ok: true, text: `Watch link: ${url}` })
    } catch (err) {
      tab?.close()
      setMessage({ ok: false, text: messageFor(err) })
    }
  }

  const publish = async (id: string, value: boolean) => {
    try {
      await publishReplay(id, value)
      setMessage({
        ok: true,
        text: value ? `Published: anyone can play it at /replay/${id}` : 'The recording is private again.',
      })
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
      <StatusMessage status={message()} />
      <Loaded resource={sessions} loading="Loading sessions…" retry={refetch}>
        <AdminTable
          columns={['Session', 'Project', 'Runner', 'Status', 'Started', 'Actions']}
          each={sessions.latest}
          empty="No live sessions."
        >
          {(s) => (
            <tr>
              <td>
                <code title={s.id}>{s.id.slice(0, 8)}</code>
                <br />
                <span class="muted small">{s.ip}</span>
              </td>
              <td>
                {s.project}
                <Show when={s.origin}>
                  <br />
                  <span class="muted small" title="opened from an embed on this site">
                    embedded on {s.origin}
                  </span>
                </Show>
              </td>
              <td>
                {s.runner}
                <br />
                <span class="muted small" title="where the sandbox runs">
                  {s.host === s.instance ? 'in the API' : s.host}
                </span>
              </td>
              <td>{s.status}</td>
              <td>{new Date(s.startedAt).toLocaleTimeString()}</td>
              <td>
                <div class="row-actions">
                  <button type="button" class="button" onClick={() => void watch(s)}>
                    Watch<span class="sr-only"> {s.id}</span>
                  </button>
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
        </AdminTable>
      </Loaded>

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
      <Show when={playing()}>
        {(id) => (
          <>
            <RecordingPlayer sessionId={id()} />
            <div class="row-actions">
              <button type="button" class="button" onClick={() => void publish(id(), true)}>
                Publish as public replay
              </button>
              <button type="button" class="button" onClick={() => void publish(id(), false)}>
                Make private
              </button>
              <a class="button" href={`/replay/${id()}`} target="_blank" rel="noopener">
                Open the replay page
              </a>
            </div>
          </>
        )}
      </Show>
    </section>
  )
}
