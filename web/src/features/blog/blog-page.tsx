import { useSearchParams } from '@solidjs/router'
import { PageHead } from '../../lib/head.tsx'
import { PostList } from './post-list.tsx'

export default function BlogPage() {
  const [search] = useSearchParams()
  const cursor = () => (typeof search.cursor === 'string' ? search.cursor : undefined)
  return (
    <div class="page">
      <PageHead
        title="Blog"
        description="Notes on building things, running them in the browser, and keeping them safe."
        path="/blog"
      />
      <h1>Blog</h1>
      <p class="lead">
        Notes on building things, running them in the browser, and keeping them safe.{' '}
        <a href="/feed.xml">Subscribe to the feed</a>.
      </p>
      <PostList query={{ limit: 10, cursor: cursor() }} basePath="/blog" empty="Nothing published yet." />
    </div>
  )
}
