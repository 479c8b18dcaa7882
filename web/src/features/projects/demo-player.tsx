import 'asciinema-player/dist/bundle/asciinema-player.css'
import { createSignal, onCleanup, onMount, Show } from 'solid-js'

/**
 * Plays a project's demo recording (asciicast from `/api/v1/site/demos/:slug`) with
 * asciinema-player, looping and muted of idle pauses; it starts paused when the visitor asks for
 * reduced motion. Browser-only: the player is loaded with this component.
 */
export function DemoPlayer(props: { url: string; title: string; note?: string | undefined }) {
  let host!: HTMLDivElement
  let player: { dispose(): void } | undefined
  const [failed, setFailed] = createSignal(false)
  onMount(() => {
    const still = window.matchMedia('(prefers-reduced-motion: reduce)').matches
    import('asciinema-player')
      .then((AsciinemaPlayer) => {
        player = AsciinemaPlayer.create(props.url, host, {
          fit: 'both',
          idleTimeLimit: 1,
          autoPlay: !still,
          loop: true,
          preload: true,
          terminalFontSize: '14px',
        })
      })
      .catch(() => setFailed(true))
  })
  onCleanup(() => player?.dispose())
  return (
    <figure class="demo" aria-label={`Recorded demo of ${props.title}`}>
      <div class="demo-player" ref={host} />
      <figcaption class="muted small">
        {props.note ?? 'A recorded session of this project.'}
        <Show when={failed()}> (The player could not be loaded.)</Show>
      </figcaption>
    </figure>
  )
}
