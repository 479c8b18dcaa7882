import { createEffect, createResource, createSignal, on } from 'solid-js'
import { createStore } from 'solid-js/store'
import { postBySlug, unwrap, v1 } from '../../lib/api.ts'
import type { PostPage, PostSummary } from '../../lib/contract.ts'
import { ApiError } from '../../lib/errors.ts'
import { useContent } from '../../lib/server.ts'

export interface PostsPage {
  items: PostSummary[]
  nextCursor: string | null
}

export interface PostsQuery {
  limit: number
  cursor?: string | undefined
  tag?: string | undefined
}

/** One page of published posts, newest first; `cursor` comes from the previous page's meta. */
export async function fetchPostsPage(query: PostsQuery): Promise<PostsPage> {
  const env = await unwrap(
    v1.posts.get({
      query: {
        limit: String(query.limit),
        ...(query.cursor ? { cursor: query.cursor } : {}),
        ...(query.tag ? { tag: query.tag } : {}),
      },
    }),
  )
  const meta = (env.meta ?? {}) as { nextCursor?: string | null }
  // Without status/include the server answers the public list.
  return { items: env.data as PostSummary[], nextCursor: meta.nextCursor ?? null }
}

/** A published post, or null when there is none with this slug. */
export async function fetchPost(slug: string): Promise<PostPage | null> {
  try {
    return (await unwrap(postBySlug(slug).get())).data
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null
    throw err
  }
}

/** One page of posts (the home page's recent posts). */
export function createPostsPage(query: () => PostsQuery) {
  const content = useContent()
  return createResource(query, (q) => (content ? content.posts(q) : fetchPostsPage(q)))
}

/**
 * A post list with "load more": the first page is a resource (rendered on the server, a link to
 * the next page works without JavaScript); later pages load in place and accumulate in a store.
 */
export function createPostList(query: () => PostsQuery) {
  const [first, { refetch }] = createPostsPage(query)
  const [more, setMore] = createStore<{ items: PostSummary[]; nextCursor: string | null; loaded: boolean }>({
    items: [],
    nextCursor: null,
    loaded: false,
  })
  const [cursor, setCursor] = createSignal<string>()
  const [next] = createResource(cursor, (c) => fetchPostsPage({ ...query(), cursor: c }))
  // A new list (another tag): forget the pages loaded for the previous one.
  createEffect(on(query, () => setMore({ items: [], nextCursor: null, loaded: false }), { defer: true }))
  createEffect(
    // Read only a ready page: reading an errored resource would throw past the inline retry.
    on(
      () => (next.state === 'ready' ? next() : undefined),
      (p) => {
        if (!p) return
        setMore((s) => ({
          items: [...s.items, ...p.items.filter((n) => !s.items.some((o) => o.id === n.id))],
          nextCursor: p.nextCursor,
          loaded: true,
        }))
      },
    ),
  )
  return {
    first,
    more,
    next,
    /** Every loaded post, first page included (reading it waits for the first page). */
    items: () => [...(first()?.items ?? []), ...more.items.filter((p) => !first()?.items.some((f) => f.id === p.id))],
    nextCursor: () => (more.loaded ? more.nextCursor : (first()?.nextCursor ?? null)),
    loadMore: (c: string) => setCursor(c),
    retry: () => void refetch(),
  }
}

export function createPost(slug: () => string) {
  const content = useContent()
  return createResource(slug, (s) => (content ? content.post(s) : fetchPost(s)))
}
