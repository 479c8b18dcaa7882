import { A } from '@solidjs/router'
import { useTitle } from '../../lib/title.ts'

export default function NotFoundPage() {
  useTitle(() => 'Not found')
  return (
    <div class="page">
      <h1>Page not found</h1>
      <p>
        <code>bash: no such page</code> — try the <A href="/">home page</A>, the <A href="/projects">projects</A> or the{' '}
        <A href="/blog">blog</A>.
      </p>
    </div>
  )
}
