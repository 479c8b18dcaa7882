import 'asciinema-player/dist/bundle/asciinema-player.css'
import { createSignal, onCleanup, onMount, Show } from 'solid-js'
import type { Project } from '../../lib/contract.ts'
import { type TerminalControls, TerminalPanel } from '../terminal/terminal-panel.tsx'
import type { ReplayView } from './queries.ts'

/** Pause between two re-run commands: each reaches the shell after the previous one was read. */
const COMMAND_GAP_MS = 300

/**
 * The browser side of a replay: the recording (asciinema-player, played once), then, on "Continue
 * live", the project's live terminal: the tab's live session of that project when it has one
 * (resumed as it is), else a fresh one into which the recorded commands are typed as the visitor
 * typed them (each line and Enter) once the session is connected.
 */
export default function ReplayStage(props: { replay: ReplayView; project: Project }) {
  let host!: HTMLDivElement
  let player: { dispose(): void; addEventListener(name: string, cb: () => void): void } | undefined
  const [ended, setEnded] = createSignal(false)
  const [live, setLive] = createSignal(false)
  const [failed, setFailed] = createSignal(false)
  let stopped = false

  onMount(() => {
    import('asciinema-player')
      .then((AsciinemaPlayer) => {
        if (stopped) return
        player = AsciinemaPlayer.create(props.replay.castUrl, host, {
          fit: 'width',
          idleTimeLimit: 1,
          autoPlay: true,
          preload: true,
          terminalFontSize: '14px',
        }) as typeof player
        player?.addEventListener('ended', () => setEnded(true))
      })
      .catch(() => {
        setFailed(true)
        setEnded(true)
      })
  })
  onCleanup(() => {
    stopped = true
    player?.dispose()
  })

  /**
   * Types the recorded commands once a fresh session is connected. When the panel resumed this
   * tab's live session of the project instead, that session is the visitor's own: nothing is typed.
   */
  const rerun = (controls: TerminalControls) => {
    const lines = [...props.replay.commands]
    const next = () => {
      if (stopped) return
      if (!controls.connected()) {
        setTimeout(next, 200)
        return
      }
      if (controls.resumed()) return
      const line = lines.shift()
      if (line === undefined) return
      controls.send(`${line}\r`)
      setTimeout(next, COMMAND_GAP_MS)
    }
    // A moment for the shell's first prompt.
    setTimeout(next, 500)
  }

  return (
    <div class="replay-stage">
      <Show
        when={live()}
        fallback={
          <>
            <figure class="demo" aria-label={`Recorded session of ${props.project.title}`}>
              <div class="demo-player" ref={host} />
              <Show when={failed()}>
                <figcaption class="muted small">The player could not be loaded.</figcaption>
              </Show>
            </figure>
            <p class="replay-actions">
              <button
                type="button"
                class="button primary"
                disabled={!ended() || props.project.availableRunners.length === 0}
                onClick={() => setLive(true)}
              >
                Continue live
              </button>{' '}
              <Show when={!ended()}>
                <span class="muted small">available when the recording ends</span>
              </Show>
            </p>
          </>
        }
      >
        <TerminalPanel project={props.project} autoStart controls={rerun} />
      </Show>
    </div>
  )
}
