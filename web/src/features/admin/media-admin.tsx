import { createSignal, Show } from 'solid-js'
import { ErrorView } from '../../components/error-view.tsx'
import { Loading } from '../../components/loading.tsx'
import { useAuth } from '../../lib/auth.tsx'
import type { Media } from '../../lib/contract.ts'
import { messageFor } from '../../lib/errors.ts'
import { AdminTable } from './admin-ui.tsx'
import { createMediaList, uploadMedia } from './queries.ts'

/** Media: upload a file with a progress bar and get its URL (to paste into a post). */
export default function MediaAdmin() {
  const auth = useAuth()
  const [progress, setProgress] = createSignal<number>()
  const [error, setError] = createSignal<string>()
  const [uploaded, setUploaded] = createSignal<Media[]>([])
  const [library, { refetch }] = createMediaList()
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
      void refetch()
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
        <p class="success-box" role="status">
          Uploaded: <code>{uploaded()[0]?.url}</code>. In a post:{' '}
          <code class="nowrap">![what it shows]({uploaded()[0]?.url})</code>
        </p>
      </Show>
      <h2>Library</h2>
      <Show when={!library.error} fallback={<ErrorView error={library.error} retry={() => void refetch()} />}>
        <Show when={library.latest} fallback={<Loading label="Loading media…" />}>
          <AdminTable columns={['File', 'Type', 'Size', 'URL']} each={library.latest} empty="Nothing uploaded yet.">
            {(m) => (
              <tr>
                <td>
                  <a href={m.url}>{m.originalName || m.id.slice(0, 8)}</a>
                </td>
                <td>{m.contentType}</td>
                <td>{Math.ceil(m.size / 1024)} KB</td>
                <td>
                  <code>{m.url}</code>
                </td>
              </tr>
            )}
          </AdminTable>
        </Show>
      </Show>
    </section>
  )
}
