import { createEffect, createSignal, For, lazy, on, Suspense } from 'solid-js'
import { Portal } from 'solid-js/web'
import type { Project } from '../../lib/contract.ts'
import { fetchProjects } from '../projects/queries.ts'

const RunInPlace = lazy(() => import('./run-in-place.tsx'))

/** At most this many runnable blocks in one post are made interactive (each may hold a terminal). */
const MAX_BLOCKS = 20

interface Run {
  /** The block's Run button, shown again when the terminal moves to another block. */
  button: HTMLButtonElement
  mount: HTMLElement
  project: Project
  command: string
}

/** The server's "unknown project" state of a block (api/src/posts/render.ts), for a project deleted since. */
function markMissing(block: HTMLElement, slug: string | undefined) {
  block.classList.add('shellfolio-run-missing')
  block.querySelector('button.shellfolio-run-button')?.remove()
  if (block.querySelector('.shellfolio-run-message')) return
  const message = document.createElement('p')
  message.className = 'shellfolio-run-message'
  message.textContent = `This terminal cannot run: unknown project “${slug ?? '(none given)'}”.`
  block.prepend(message)
}

/**
 * Makes a post's runnable blocks (```` ```shellfolio project=<slug> ````, rendered on the server as
 * `div.shellfolio-run[data-project][data-command]` with a Run button) work: Run opens the project's
 * terminal in place, under the command, and types it. The projects are checked again here, so a
 * block whose project was deleted (or created) after the post was saved shows the right state.
 */
export function RunBlocks(props: { root: () => HTMLElement | undefined; html: string }) {
  const [runs, setRuns] = createSignal<Run[]>([])

  const enhance = async (root: HTMLElement) => {
    const blocks = [...root.querySelectorAll<HTMLElement>('div.shellfolio-run')].slice(0, MAX_BLOCKS)
    if (blocks.length === 0) return
    // One read of the public list (cached by the API) answers for every block.
    const live = await fetchProjects().catch(() => undefined)
    // The list could not be read (offline…): the blocks stay as the server rendered them.
    if (!live) return
    const found = new Map(live.map((p) => [p.slug, p]))
    for (const block of blocks) {
      const slug = block.dataset.project
      const project = (slug && found.get(slug)) || null
      if (project === null) {
        markMissing(block, slug)
        continue
      }
      block.classList.remove('shellfolio-run-missing')
      block.querySelector('.shellfolio-run-message')?.remove()
      let button = block.querySelector<HTMLButtonElement>('button.shellfolio-run-button')
      if (!button) {
        button = document.createElement('button')
        button.type = 'button'
        button.className = 'shellfolio-run-button'
        button.textContent = 'Run'
        block.append(button)
      }
      button.setAttribute('aria-label', `Run in a ${project.title} terminal`)
      const run = button
      run.addEventListener('click', () => {
        run.hidden = true
        const mount = document.createElement('div')
        mount.className = 'shellfolio-run-terminal'
        block.append(mount)
        // One session per project and tab (the connection resumes it by project): a second block of
        // the same project takes the terminal over, the first gets its Run button back.
        const moved = runs().filter((r) => r.project.slug === project.slug)
        for (const r of moved) {
          r.mount.remove()
          r.button.hidden = false
        }
        setRuns((all) => [
          ...all.filter((r) => !moved.includes(r)),
          { button: run, mount, project, command: block.dataset.command ?? '' },
        ])
      })
    }
  }

  // Browser only (effects do not run in the server render); again when the post changes.
  createEffect(
    on([props.root, () => props.html], ([root]) => {
      setRuns([])
      if (root) void enhance(root)
    }),
  )

  return (
    <For each={runs()}>
      {(run) => (
        <Portal mount={run.mount}>
          <Suspense fallback={<p class="muted small">Loading the terminal…</p>}>
            <RunInPlace project={run.project} command={run.command} />
          </Suspense>
        </Portal>
      )}
    </For>
  )
}
