import { For, Show } from 'solid-js'
import type { MediaItem } from '../../lib/contract.ts'
import { Loaded } from './admin-ui.tsx'
import { createMediaList } from './queries.ts'

/** The images of the media library as buttons; picking one calls `onPick`. */
export function MediaPicker(props: { label: string; onPick: (item: MediaItem) => void; onClose?: () => void }) {
  const [library, { refetch }] = createMediaList()
  const images = () => (library.latest ?? []).filter((m) => m.contentType.startsWith('image/'))
  return (
    <fieldset class="media-picker">
      <legend>{props.label}</legend>
      <Loaded resource={library} loading="Loading the media library…" retry={refetch}>
        <ul>
          <For
            each={images()}
            fallback={
              <li class="muted">
                No images yet: upload one in <a href="/admin/media">Media</a>.
              </li>
            }
          >
            {(m) => (
              <li>
                <button type="button" class="media-choice" onClick={() => props.onPick(m)}>
                  <img src={m.url} alt="" width="96" height="72" loading="lazy" />
                  <span>{m.originalName || m.id.slice(0, 8)}</span>
                </button>
              </li>
            )}
          </For>
        </ul>
      </Loaded>
      <Show when={props.onClose}>
        <button type="button" class="button" onClick={() => props.onClose?.()}>
          Close
        </button>
      </Show>
    </fieldset>
  )
}
