import { A, useParams, useSearchParams } from '@solidjs/router'
import { PageHead } from '../../lib/head.tsx'
import { PostList } from './post-list.tsx'

/** `/blog/tags/:tag`: the published posts with one tag. */
export default function TagPage() {
  const params = useParams()
  const [search] = useSearchParams()
  const tag = () => (params.tag ?? '').toLowerCase()
  const cursor = () => (typeof search.cursor === 'string' ? search.cursor : undefined)
  return (
    <div class="page">
      <PageHead
        title={`Posts tagged “${tag()}”`}
        description={`Every post about ${tag()}.`}
        path={`/blog/tags/${encodeURIComponent(tag())}`}
      />
      <p>
        <A href="/blog">← All posts</A>
      </p>
      <h1>
        Posts tagged <span class="tag-name">{tag()}</span>
      </h1>
      <PostList
        query={{ limit: 10, cursor: cursor(), tag: tag() }}
        basePath={`/blog/tags/${encodeURIComponent(tag())}`}
        empty="No published post has this tag."
      />
    </div>
  )
}
