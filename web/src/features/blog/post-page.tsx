import { A, useParams } from '@solidjs/router'
import { createSignal, Show } from 'solid-js'
import { PageHead } from '../../lib/head.tsx'
import { useServerRender } from '../../lib/server.ts'
import { useSite } from '../site/site-context.tsx'
import { coverOf, formatDate, readingMinutes, TagList } from './post-item.tsx'
import { createPost } from './queries.ts'
import { RunBlocks } from './run-blocks.tsx'

export default function PostPage() {
  const params = useParams()
  const site = useSite()
  const origin = useServerRender()?.origin ?? (typeof location === 'undefined' ? '' : location.origin)
  const [post] = createPost(() => params.slug ?? '')
  const [prose, setProse] = createSignal<HTMLElement>()
  return (
    <div class="page narrow">
      <p>
        <A href="/blog">← All posts</A>
      </p>
      <Show
        when={post()}
        fallback={
          <>
            <PageHead title="Post not found" noindex notFound />
            <h1>Post not found</h1>
            <p>
              It may have been unpublished or removed. See <A href="/blog">all posts</A>.
            </p>
          </>
        }
      >
        {(p) => (
          <article class="post">
            <PageHead
              title={p().title}
              description={p().summary || undefined}
              type="article"
              image={coverOf(p().html)}
              path={`/blog/${p().slug}`}
              publishedAt={p().publishedAt}
              modifiedAt={p().updatedAt}
              jsonLd={{
                '@context': 'https://schema.org',
                '@type': 'BlogPosting',
                headline: p().title,
                description: p().summary || undefined,
                datePublished: p().publishedAt,
                dateModified: p().updatedAt,
                url: `${origin}/blog/${p().slug}`,
                mainEntityOfPage: `${origin}/blog/${p().slug}`,
                keywords: p().tags.join(', ') || undefined,
                image: coverOf(p().html) ? new URL(coverOf(p().html)!, origin || 'http://localhost').href : undefined,
                author: { '@type': 'Person', name: site.profile().name, url: `${origin}/` },
              }}
            />
            <header>
              <h1>{p().title}</h1>
              <p class="muted small">
                <time datetime={p().publishedAt}>{formatDate(p().publishedAt)}</time> · {readingMinutes(p().html)} min
                read
              </p>
              <TagList tags={p().tags} />
            </header>
            {/* The server renders and sanitizes the markdown on write (sanitize-html); never raw input. */}
            <div class="prose" ref={setProse} innerHTML={p().html} />
            <RunBlocks root={prose} html={p().html} />
          </article>
        )}
      </Show>
    </div>
  )
}
