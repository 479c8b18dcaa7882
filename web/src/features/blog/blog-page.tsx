import { For, Show } from 'solid-js'
import { ErrorView } from '../../components/error-view.tsx'
import { Loading } from '../../components/loading.tsx'
import { useTitle } from '../../lib/title.ts'
import { PostItem } from './post-item.tsx'
import { createPostList } from './queries.ts'

export default function BlogPage() {
  useTitle(() => 'Blog')
  const posts = createPostList(10)
  return (
    <div class="page">
      <h1>Blog</h1>
      <p class="lead">Notes on building things in C, running them in the browser, and keeping them safe.</p>
      <div aria-live="polite" aria-busy={posts.page.loading}>
        <For each={posts.list.items}>{(p) => <PostItem post={p} />}</For>
        <Show when={posts.list.started && posts.list.items.length === 0}>
          <p class="muted">Nothing published yet.</p>
        </Show>
      </div>
      <Show when={posts.page.loading}>
        <Loading label="Loading posts…" />
      </Show>
      <Show when={posts.page.error}>
        <ErrorView error={posts.page.error} retry={posts.retry} title="The posts could not be loaded." />
      </Show>
      <Show when={!posts.page.loading && !posts.page.error && posts.list.nextCursor}>
        <button type="button" class="button" onClick={() => posts.loadMore()}>
          Load more posts
        </button>
      </Show>
    </div>
  )
}
