import { A } from '@solidjs/router'
import { Show } from 'solid-js'
import type { PostSummary } from '../../lib/contract.ts'

const dateFormat = new Intl.DateTimeFormat('en', { year: 'numeric', month: 'long', day: 'numeric' })

export function formatDate(iso: string | null | undefined): string {
  return iso ? dateFormat.format(new Date(iso)) : ''
}

/** A post in a list: title, date and summary. */
export function PostItem(props: { post: PostSummary; headingLevel?: 2 | 3 }) {
  const heading = () => <A href={`/blog/${props.post.slug}`}>{props.post.title}</A>
  return (
    <article class="post-item">
      {props.headingLevel === 3 ? <h3>{heading()}</h3> : <h2>{heading()}</h2>}
      <Show when={props.post.publishedAt}>
        <p class="muted small">
          <time datetime={props.post.publishedAt ?? ''}>{formatDate(props.post.publishedAt)}</time>
        </p>
      </Show>
      <Show when={props.post.summary}>
        <p>{props.post.summary}</p>
      </Show>
    </article>
  )
}
