import { A } from '@solidjs/router'
import { For, Show } from 'solid-js'
import type { Project } from '../../lib/contract.ts'

/** A project in a list: its preview image, title, summary, stack, and where it runs live. */
export function ProjectCard(props: { project: Project; headingLevel?: 2 | 3; number?: number }) {
  const heading = () => (
    <A href={`/projects/${props.project.slug}`} class="card-link">
      <Show when={props.number}>
        <span class="card-number" aria-hidden="true">
          {String(props.number).padStart(2, '0')}.
        </span>{' '}
      </Show>
      {props.project.title}
    </A>
  )
  return (
    <article class="card" classList={{ 'has-image': Boolean(props.project.previewImage) }}>
      <Show when={props.project.previewImage}>
        {(image) => (
          <img class="card-image" src={image().url} alt="" loading="lazy" decoding="async" width="640" height="360" />
        )}
      </Show>
      <div class="card-body">
        {props.headingLevel === 3 ? <h3>{heading()}</h3> : <h2>{heading()}</h2>}
        <p>{props.project.summary}</p>
        <ul class="tags" aria-label="Stack">
          <For each={props.project.stack}>{(item) => <li>{item}</li>}</For>
        </ul>
        <p class="muted small">
          Runs live on:{' '}
          {props.project.availableRunners.length > 0 ? props.project.availableRunners.join(', ') : 'none right now'}
          {props.project.demo ? ' · recorded demo' : ''}
        </p>
      </div>
    </article>
  )
}
