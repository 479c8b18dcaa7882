import { createSignal, For, Show } from 'solid-js'
import { useAuth } from '../../lib/auth.tsx'
import type { Media } from '../../lib/contract.ts'
import { messageFor } from '../../lib/errors.ts'
import { uploadMedia } from './queries.ts'

/** Media: upload a file with a progress bar and get its URL (to paste into a post). */
export default function MediaAdmin() {
  const auth = useAuth()
  const [progress, setProgress] = createSignal<number>()
  const [error, setError] = createSignal<string>()
  const [uploaded, setUploaded] = createSignal<Media[]>([])
  let abort: (() => void) | undefined
  let input!: HTMLInputElement

  const upload = async (ev: SubmitEvent) => {
    ev.preventDefault()
    const file = input.files?.[0]
    if (!file) return
    setError(undefined)
    setProgress(0)
    const job = uploadMedia(file, auth.accessToken, auth.refresh, setProgress)
    abort = job.abort
    try {
      const media = await job.done
      setUploaded((list) => [media, ...list])
      input.value = ''
    } catch (err) {
      setError(messageFor(err))
    } finally {
      setProgress(undefined)
      abort = undefined
    }
  }

  return (
    <section aria-labelledby="media-title">
      <h1 id="media-title">Media</h1>
      <form onSubmit={upload}>
        <label for="media-file">File</label>
        <input id="media-file" type="file" ref={input} required aria-describedby="media-hint" />
        <p id="media-hint" class="hint">
          Images and other files for posts. The server checks the type and size.
        </p>
        <div class="form-actions">
          <button type="submit" class="button primary" disabled={progress() !== undefined}>
            Upload
          </button>
          <Show when={progress() !== undefined}>
            <button type="button" class="button" onClick={() => abort?.()}>
              Cancel
            </button>
          </Show>
        </div>
      </form>
      <Show when={progress() !== undefined}>
        <label for="media-progress">Uploading… {Math.round((progress() ?? 0) * 100)}%</label>
        <progress id="media-progress" max="1" value={progress()} />
      </Show>
      <Show when={error()}>
        <p class="error-box" role="alert">
          {error()}
        </p>
      </Show>
      <Show when={uploaded().length > 0}>
        <h2>Uploaded</h2>
        <ul>
          <For each={uploaded()}>
            {(m) => (
              <li>
                <a href={m.url}>{m.originalName || m.url}</a> — <code>{m.url}</code>{' '}
                <span class="muted small">
                  ({m.contentType}, {Math.ceil(m.size / 1024)} KB)
                </span>
              </li>
            )}
          </For>
        </ul>
      </Show>
    </section>
  )
}
