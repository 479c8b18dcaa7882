import { A } from '@solidjs/router'
import { For, Show } from 'solid-js'
import type { PostSummary } from '../../lib/contract.ts'

const dateFormat = new Intl.DateTimeFormat('en', { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' })

export function formatDate(iso: string | null | undefined): string {
  return iso ? dateFormat.format(new Date(iso)) : ''
}

/** Minutes to read a post's HTML at 220 words a minute (at least 1). */
export function readingMinutes(html: string): number {
  const words = html
    .replace(/<pre[\s\S]*?<\/pre>/g, (code) => code.replace(/<[^>]+>/g, ' '))
    .replace(/<[^>]+>/g, ' ')
    .split(/\s+/)
    .filter(Boolean).length
  return Math.max(1, Math.round(words / 220))
}

/** The first image of a post: its cover in link previews. */
export function coverOf(html: string): string | undefined {
  return /<img\b[^>]*\bsrc="([^"]+)"/.exec(html)?.[1]?.replace(/&amp;/g, '&')
}

/** A post's tags, each a link to its tag page. */
export function TagList(props: { tags: readonly string[] }) {
  return (
    <Show when={props.tags.length > 0}>
      <ul class="tags" aria-label="Tags">
        <For each={props.tags}>
          {(tag) => (
            <li>
              <A href={`/blog/tags/${encodeURIComponent(tag)}`}>{tag}</A>
            </li>
          )}
        </For>
      </ul>
    </Show>
  )
}

/** A post in a list: title, date, summary and tags. */
export function PostItem(props: { post: PostSummary; headingLevel?: 2 | 3 }) {
  const heading = () => <A href={`/blog/${props.post.slug}`}>{props.post.title}</A>
  return (
    <article class="post-item">
      {props.headingLevel === 3 ? <h3>{heading()}</h3> : <h2>{heading()}</h2>}
      <p class="muted small">
        <time datetime={props.post.publishedAt}>{formatDate(props.post.publishedAt)}</time>
      </p>
      <Show when={props.post.summary}>
        <p>{props.post.summary}</p>
      </Show>
      <TagList tags={props.post.tags} />
    </article>
  )
}
