import { type Accessor, createSignal, For, type JSX, type Resource, Show } from 'solid-js'
import { ErrorView } from '../../components/error-view.tsx'
import { Loading } from '../../components/loading.tsx'
import { ApiError } from '../../lib/errors.ts'

/** The outcome of the last admin action, shown above the page's content. */
export interface Status {
  ok: boolean
  text: string
}

/** The `[status, setStatus]` signal that `<StatusMessage>` shows. */
export const createStatus = () => createSignal<Status>()

/** The last action's outcome: a polite success box or an assertive error box; nothing when unset. */
export function StatusMessage(props: { status: Status | undefined }) {
  return (
    <Show when={props.status}>
      {(status) => (
        <p class={status().ok ? 'success-box' : 'error-box'} role={status().ok ? 'status' : 'alert'}>
          {status().text}
        </p>
      )}
    </Show>
  )
}

/**
 * A resource's content once it has a value: a loading line on the first load, the error with a
 * retry button when it failed, otherwise the children (kept on screen while refetching).
 */
export function Loaded(props: {
  resource: Resource<unknown>
  loading: string
  retry: () => unknown
  children: JSX.Element
}) {
  return (
    <Show when={!props.resource.loading || props.resource.latest} fallback={<Loading label={props.loading} />}>
      <Show
        when={!props.resource.error}
        fallback={<ErrorView error={props.resource.error} retry={() => void props.retry()} />}
      >
        {props.children}
      </Show>
    </Show>
  )
}

/**
 * An admin list table: column headings, one row per item and an optional row when there are none.
 * Below 40rem it is shown as a list of cards (styles.css), each cell labelled with its column.
 */
export function AdminTable<T>(props: {
  columns: readonly string[]
  caption?: string
  each: readonly T[] | undefined | null | false
  empty?: string
  children: (item: T, index: Accessor<number>) => JSX.Element
}) {
  return (
    <div class="table-wrap">
      <table>
        <Show when={props.caption}>
          <caption class="sr-only">{props.caption}</caption>
        </Show>
        <thead>
          <tr>
            <For each={props.columns}>{(column) => <th scope="col">{column}</th>}</For>
          </tr>
        </thead>
        <tbody>
          <For
            each={props.each}
            fallback={
              <Show when={props.empty}>
                <tr>
                  <td colSpan={props.columns.length}>{props.empty}</td>
                </tr>
              </Show>
            }
          >
            {(item, index) => {
              const row = props.children(item, index)
              // On a phone the table becomes a list of cards: each cell shows its column's name.
              if (typeof HTMLTableRowElement !== 'undefined' && row instanceof HTMLTableRowElement) {
                for (const [k, cell] of [...row.cells].entries()) cell.dataset.label = props.columns[k] ?? ''
              }
              return row
            }}
          </For>
        </tbody>
      </table>
    </div>
  )
}

/**
 * Field errors of a failed save, keyed by the field's JSON path without the leading slash
 * (`title`, `links/0/url`): the server's VALIDATION_FAILED details, or SLUG_TAKEN for `slug`.
 */
export function fieldErrorsOf(err: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (!(err instanceof ApiError)) return out
  if (err.code === 'SLUG_TAKEN') out.slug = 'This slug is already used by another item.'
  if (Array.isArray(err.details)) {
    for (const d of err.details as { path?: unknown; message?: unknown }[]) {
      if (typeof d.path !== 'string' || d.path === '/') continue
      const key = d.path.replace(/^\//, '')
      out[key] ??= typeof d.message === 'string' ? d.message : 'invalid value'
    }
  }
  return out
}

/**
 * Moves focus to the first field with an error: the element `${prefix}-${key}` (slashes as dashes),
 * else the field of its first segment (`tags/2` → `${prefix}-tags`).
 */
export function focusFirstError(errors: Record<string, string>, prefix: string): void {
  const first = Object.keys(errors)[0]
  if (!first) return
  const field =
    document.getElementById(`${prefix}-${first.replaceAll('/', '-')}`) ??
    document.getElementById(`${prefix}-${first.split('/')[0]}`)
  field?.focus()
}

/** The error under a field (give the input `aria-describedby` the same id and `aria-invalid`). */
export function FieldError(props: { id: string; message: string | undefined }) {
  return (
    <Show when={props.message}>
      <p id={props.id} class="field-error">
        {props.message}
      </p>
    </Show>
  )
}
