import { createSignal, onCleanup, Show } from 'solid-js'
import { isServer } from 'solid-js/web'

/** A spinner that appears only when loading takes longer than 300 ms (no flash on fast loads). */
export function Loading(props: { label?: string }) {
  const [slow, setSlow] = createSignal(false)
  // A server render never shows the spinner (and keeps no timer).
  if (!isServer) {
    const timer = setTimeout(() => setSlow(true), 300)
    onCleanup(() => clearTimeout(timer))
  }
  return (
    <div class="loading" role="status" aria-live="polite">
      <Show when={slow()}>
        <span class="spinner" aria-hidden="true" />
        <span>{props.label ?? 'Loading…'}</span>
      </Show>
    </div>
  )
}
