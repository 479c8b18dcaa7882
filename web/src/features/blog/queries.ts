import { createEffect, createResource, createSignal, on } from 'solid-js'
import { createStore } from 'solid-js/store'
import { postBySlug, unwrap, v1 } from '../../lib/api.ts'
import type { PostPage, PostSummary } from '../../lib/contract.ts'

interface Page {
  items: PostSummary[]
  nextCursor: string | null
}

/** One page of published posts, newest first; `cursor` comes from the previous page's meta. */
export async function fetchPostsPage(cursor: string | undefined, limit: number): Promise<Page> {
  const env = await unwrap(v1.posts.get({ query: { limit: String(limit), ...(cursor ? { cursor } : {}) } }))
  const meta = (env.meta ?? {}) as { nextCursor?: string | null; cursor?: string | null }
  // Without status/include the server answers the public list.
  return { items: env.data as PostSummary[], nextCursor: meta.nextCursor ?? meta.cursor ?? null }
}

export async function fetchPost(slug: string): Promise<PostPage> {
  return (await unwrap(postBySlug(slug).get())).data
}

/**
 * The blog list with "load more": each page is a resource keyed by its cursor; loaded pages
 * accumulate in a store so earlier ones stay on screen while the next loads.
 */
export function createPostList(limit = 10) {
  const [list, setList] = createStore<{ items: PostSummary[]; nextCursor: string | null; started: boolean }>({
    items: [],
    nextCursor: null,
    started: false,
  })
  const [cursor, setCursor] = createSignal<{ cursor?: string }>({})
  const [page, { refetch }] = createResource(cursor, (c) => fetchPostsPage(c.cursor, limit))
  createEffect(
    // Read only a ready page: reading an errored resource would throw past the inline retry.
    on(
      () => (page.state === 'ready' ? page() : undefined),
      (p) => {
        if (!p) return
        setList((s) => ({
          items: [...s.items, ...p.items.filter((n) => !s.items.some((o) => o.id === n.id))],
          nextCursor: p.nextCursor,
          started: true,
        }))
      },
    ),
  )
  return {
    list,
    page,
    loadMore: () => {
      if (list.nextCursor) setCursor({ cursor: list.nextCursor })
    },
    retry: () => void refetch(),
  }
}

export function createPost(slug: () => string) {
  return createResource(slug, fetchPost)
}
