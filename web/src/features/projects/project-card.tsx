import { A } from '@solidjs/router'
import { For } from 'solid-js'
import type { Project } from '../../lib/contract.ts'

/** A project in a list: title, summary, stack, and a link to its live terminal. */
export function ProjectCard(props: { project: Project; headingLevel?: 2 | 3 }) {
  const heading = () => (
    <A href={`/projects/${props.project.slug}`} class="card-link">
      {props.project.title}
    </A>
  )
  return (
    <article class="card">
      {props.headingLevel === 3 ? <h3>{heading()}</h3> : <h2>{heading()}</h2>}
      <p>{props.project.summary}</p>
      <ul class="tags" aria-label="Stack">
        <For each={props.project.stack}>{(item) => <li>{item}</li>}</For>
      </ul>
      <p class="muted small">
        Runs live on:{' '}
        {props.project.availableRunners.length > 0 ? props.project.availableRunners.join(', ') : 'none right now'}
      </p>
    </article>
  )
}
