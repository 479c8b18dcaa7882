import { A } from '@solidjs/router'
import { PageHead } from '../../lib/head.tsx'

export default function NotFoundPage() {
  return (
    <div class="page">
      <PageHead title="Page not found" noindex notFound />
      <h1>Page not found</h1>
      <p>
        <code>bash: no such page</code> — try the <A href="/">home page</A>, the <A href="/projects">projects</A> or the{' '}
        <A href="/blog">blog</A>.
      </p>
    </div>
  )
}
