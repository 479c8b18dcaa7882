import { For, Show } from 'solid-js'
import { ErrorView } from '../../components/error-view.tsx'
import { Loading } from '../../components/loading.tsx'
import { PostItem } from './post-item.tsx'
import { createPostList, type PostsQuery } from './queries.ts'

/**
 * Posts newest first with "Older posts": a plain link to the next page (works without JavaScript),
 * which loads the next page in place when the app runs.
 */
export function PostList(props: { query: PostsQuery; basePath: string; empty: string }) {
  const posts = createPostList(() => props.query)
  const olderHref = () => {
    const cursor = posts.nextCursor()
    return cursor ? `${props.basePath}?cursor=${encodeURIComponent(cursor)}` : undefined
  }
  return (
    <>
      <div aria-live="polite" aria-busy={posts.next.loading}>
        <For each={posts.items()} fallback={<p class="muted">{props.empty}</p>}>
          {(p) => <PostItem post={p} />}
        </For>
      </div>
      <Show when={posts.next.loading}>
        <Loading label="Loading posts…" />
      </Show>
      <Show when={posts.next.error}>
        <ErrorView error={posts.next.error} retry={posts.retry} title="The posts could not be loaded." />
      </Show>
      <Show when={!posts.next.loading && olderHref()}>
        {(href) => (
          <a
            class="button"
            href={href()}
            onClick={(ev) => {
              ev.preventDefault()
              const cursor = posts.nextCursor()
              if (cursor) posts.loadMore(cursor)
            }}
          >
            Load more posts
          </a>
        )}
      </Show>
    </>
  )
}
