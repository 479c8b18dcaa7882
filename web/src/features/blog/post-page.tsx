import { A, useParams } from '@solidjs/router'
import { For, Show } from 'solid-js'
import { ErrorView } from '../../components/error-view.tsx'
import { Loading } from '../../components/loading.tsx'
import { ApiError } from '../../lib/errors.ts'
import { useTitle } from '../../lib/title.ts'
import { formatDate } from './post-item.tsx'
import { createPost } from './queries.ts'

export default function PostPage() {
  const params = useParams()
  const [post, { refetch }] = createPost(() => params.slug ?? '')
  useTitle(() => (post.state === 'ready' ? post()?.title : undefined))
  const notFound = () => post.error instanceof ApiError && post.error.status === 404
  return (
    <div class="page narrow">
      <p>
        <A href="/blog">← All posts</A>
      </p>
      <Show when={!post.loading} fallback={<Loading label="Loading the post…" />}>
        <Show
          when={!post.error}
          fallback={
            <Show
              when={notFound()}
              fallback={
                <ErrorView error={post.error} retry={() => void refetch()} title="The post could not be loaded." />
              }
            >
              <h1>Post not found</h1>
              <p>It may have been unpublished or removed.</p>
            </Show>
          }
        >
          <article class="post">
            <header>
              <h1>{post()?.title}</h1>
              <p class="muted small">
                <time datetime={post()?.publishedAt ?? ''}>{formatDate(post()?.publishedAt)}</time>
              </p>
              <ul class="tags" aria-label="Tags">
                <For each={post()?.tags}>{(tag) => <li>{tag}</li>}</For>
              </ul>
            </header>
            {/* The server renders and sanitizes the markdown on write (sanitize-html); never raw input. */}
            <div class="prose" innerHTML={post()?.html ?? ''} />
          </article>
        </Show>
      </Show>
    </div>
  )
}
