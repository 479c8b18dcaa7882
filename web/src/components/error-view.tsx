import { Show } from 'solid-js'
import { ApiError, messageFor } from '../lib/errors.ts'

/** A failure, in words, with an optional retry and the request id for a support question. */
export function ErrorView(props: { error: unknown; retry?: () => void; title?: string }) {
  const requestId = () => (props.error instanceof ApiError ? props.error.requestId : undefined)
  return (
    <div class="error-box" role="alert">
      <p>
        <strong>{props.title ?? 'Something went wrong.'}</strong> {messageFor(props.error)}
      </p>
      <Show when={requestId()}>
        <p class="muted small">Request id: {requestId()}</p>
      </Show>
      <Show when={props.retry}>
        <button type="button" class="button" onClick={() => props.retry?.()}>
          Try again
        </button>
      </Show>
    </div>
  )
}
