import { type Accessor, createSignal, For, type JSX, type Resource, Show } from 'solid-js'
import { ErrorView } from '../../components/error-view.tsx'
import { Loading } from '../../components/loading.tsx'

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

/** An admin list table: column headings, one row per item and an optional row when there are none. */
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
            {props.children}
          </For>
        </tbody>
      </table>
    </div>
  )
}
