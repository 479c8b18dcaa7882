import 'asciinema-player/dist/bundle/asciinema-player.css'
import * as AsciinemaPlayer from 'asciinema-player'
import { createResource, onCleanup, Show } from 'solid-js'
import { ErrorView } from '../../components/error-view.tsx'
import { Loading } from '../../components/loading.tsx'
import { fetchRecording } from './queries.ts'

/**
 * Plays a session's asciicast with asciinema-player. The cast is fetched through the API client
 * (bearer token) and handed over as data: the player never fetches on its own.
 */
export function RecordingPlayer(props: { sessionId: string }) {
  const [cast, { refetch }] = createResource(() => props.sessionId, fetchRecording)
  let player: { dispose(): void } | undefined
  onCleanup(() => player?.dispose())
  const mount = (el: HTMLElement) => {
    queueMicrotask(() => {
      const data = cast()
      if (!data) return
      player?.dispose()
      player = AsciinemaPlayer.create({ data }, el, {
        fit: 'width',
        idleTimeLimit: 2,
        preload: true,
        autoPlay: true,
        terminalFontSize: '14px',
      })
    })
  }
  return (
    <div class="player">
      <h3>
        Recording of <code>{props.sessionId.slice(0, 8)}</code>
      </h3>
      <Show when={!cast.loading} fallback={<Loading label="Loading the recording…" />}>
        <Show when={!cast.error} fallback={<ErrorView error={cast.error} retry={() => void refetch()} />}>
          <section ref={mount} aria-label={`Recording of session ${props.sessionId}`} />
        </Show>
      </Show>
    </div>
  )
}
