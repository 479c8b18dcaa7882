import { A, useParams } from '@solidjs/router'
import { createEffect, createSignal, createUniqueId, For, lazy, on, onCleanup, onMount, Show, Suspense } from 'solid-js'
import { InlineMarkdown } from '../../components/inline-markdown.tsx'
import type { Project } from '../../lib/contract.ts'
import { PageHead } from '../../lib/head.tsx'
import { useServerRender } from '../../lib/server.ts'
import { useSite } from '../site/site-context.tsx'
import { type ClientRunner, type ConnectionEvents, TerminalConnection } from '../terminal/connection.ts'
import { offeredRunners, RUNNER_LABELS, runnerWhere } from '../terminal/runner-labels.ts'
import type { TerminalControls } from '../terminal/terminal-panel.tsx'
import { createProject } from './queries.ts'

const LiveStage = lazy(() => import('./live-stage.tsx'))
const DemoPlayer = lazy(() => import('./demo-player.tsx').then((m) => ({ default: m.DemoPlayer })))

/** The connection's events when it is only asked whether this tab has a session to resume. */
const IGNORE: ConnectionEvents = {
  state: () => {},
  ready: () => {},
  replay: () => {},
  output: (_bytes, done) => done(),
  notice: () => {},
  exit: () => {},
}

/** True when this tab has a live session of the project to resume (kept across reloads). */
function hasSavedSession(slug: string): boolean {
  const probe = new TerminalConnection(slug, IGNORE)
  const saved = probe.saved() !== undefined
  probe.close()
  return saved
}

/**
 * The stage before the terminal's code is loaded — on the server, without JavaScript, and in the
 * browser until the visitor presses "Start terminal" (xterm.js is then loaded and the session
 * started): the same frame as the terminal, with the demo recording (browser), the preview image or
 * a word on what happens here, and the runner choice.
 */
function Stage(props: {
  project: Project
  ready: boolean
  onStart?: (runner: ClientRunner | undefined) => void
  /** The visitor is about to press Start (pointer over it, focus): load ahead (docs/performance.md). */
  onWarm?: (runner: ClientRunner | undefined) => void
}) {
  // in the browser, once mounted: the browser runner first when this tab can run the project
  const runners = () => (props.ready ? offeredRunners(props.project) : props.project.availableRunners)
  const [choice, setChoice] = createSignal<ClientRunner | undefined>(runners()[0])
  // unique: a terminal panel mounted ahead of the click sits next to this stage (ProjectPage)
  const titleId = createUniqueId()
  createEffect(
    on(
      () => props.ready,
      (ready) => {
        if (ready) setChoice(runners()[0])
      },
    ),
  )
  return (
    <section class="terminal" aria-labelledby={titleId}>
      <div class="terminal-toolbar">
        <h2 id={titleId}>Live terminal</h2>
        <Show when={runners().length > 1}>
          <fieldset class="runner-choice" disabled={!props.ready}>
            <legend>Runner</legend>
            <For each={runners()}>
              {(r) => (
                <label>
                  <input
                    type="radio"
                    name={`runner-${titleId}`}
                    value={r}
                    checked={choice() === r}
                    onChange={() => setChoice(r)}
                  />{' '}
                  {RUNNER_LABELS[r]}
                </label>
              )}
            </For>
          </fieldset>
        </Show>
        <div class="terminal-actions">
          <button
            type="button"
            class="button primary"
            disabled={!props.ready}
            onPointerEnter={() => props.onWarm?.(choice())}
            onPointerDown={() => props.onWarm?.(choice())}
            onFocus={() => props.onWarm?.(choice())}
            onClick={() => props.onStart?.(choice())}
          >
            Start terminal
          </button>
        </div>
      </div>
      <div class="terminal-frame">
        <div class="terminal-poster">
          <Show
            when={props.ready && props.project.demo}
            fallback={
              <Show
                when={props.project.previewImage}
                fallback={
                  <div class="terminal-idle">
                    <strong>A live terminal runs here</strong>
                    <span>
                      {props.ready
                        ? 'Press “Start terminal” to open a private session (up to 30 minutes).'
                        : 'It needs JavaScript: everything else on this page reads without it.'}
                    </span>
                  </div>
                }
              >
                {(image) => (
                  <img
                    class="poster-image"
                    src={image().url}
                    alt={`${props.project.title}, running`}
                    width="640"
                    height="360"
                  />
                )}
              </Show>
            }
          >
            {(demo) => (
              <Suspense>
                <DemoPlayer
                  url={demo().url}
                  title={props.project.title}
                  note="A recorded session. Start your own terminal to try it yourself."
                />
              </Suspense>
            )}
          </Show>
        </div>
      </div>
      <div class="terminal-status">
        <span>Runner: {runnerWhere(choice())}</span>
        <span>not started</span>
        <span>Time left: —</span>
      </div>
    </section>
  )
}

/**
 * How long a terminal panel mounted ahead of the Start click waits for it before it is dropped with
 * its shell (docs/budgets.md): the browser runner's own WARM_SHELL_MS (browser/connection.ts).
 */
const AHEAD_PANEL_MS = 60_000

/**
 * Before a Start click (docs/performance.md, "Browser runner"): the terminal's code, and for the
 * browser runner its shell worker with the project's files, so the click only shows the prompt.
 * Resolves once both are there (the shell started ahead before anything may take it).
 */
async function warm(project: Project, runner: ClientRunner | undefined): Promise<void> {
  const code = LiveStage.preload()
  if (runner === 'browser') {
    await import('../terminal/browser/connection.ts').then((m) => m.prewarmBrowserShell(project.slug, project.policy))
  }
  await code
}

export default function ProjectPage() {
  const params = useParams()
  const site = useSite()
  const origin = useServerRender()?.origin ?? (typeof location === 'undefined' ? '' : location.origin)
  const [project] = createProject(() => params.slug ?? '')
  const [terminal, setTerminal] = createSignal<TerminalControls>()
  // The terminal is browser-only and heavy (xterm.js): hydration keeps the server's stage, which
  // becomes interactive; the terminal loads when the visitor starts one, or at once when there is a
  // session to resume or no runner to offer (the panel explains why).
  const [mounted, setMounted] = createSignal(false)
  // `ahead`: the browser runner's panel mounted before the click, hidden and inert, its session
  // started; the click only reveals it (docs/runners.md, "The browser runner" → "Start-up").
  const [live, setLive] = createSignal<{ runner?: ClientRunner | undefined; start: boolean; ahead?: boolean }>()
  let aheadTimer: ReturnType<typeof setTimeout> | undefined
  const dropAhead = () => {
    clearTimeout(aheadTimer)
    aheadTimer = undefined
    if (!live()?.ahead) return
    setTerminal(undefined)
    setLive(undefined)
  }
  /** The terminal the visitor sees: "Try these" never types into a panel still hidden ahead. */
  const shown = () => (live()?.ahead ? undefined : terminal())
  onCleanup(() => clearTimeout(aheadTimer))
  /** The pointer is over Start (or it has the focus): load ahead; for the browser runner, mount ahead. */
  const onWarm = (p: Project, runner: ClientRunner | undefined) => {
    // a panel is there already (ahead): it took the shell started ahead, so none is started again
    if (live()) return
    void warm(p, runner).then(() => {
      // one panel ahead per page, only while nothing else is live and the choice is still the browser
      if (runner !== 'browser' || live()) return
      setLive({ runner, start: true, ahead: true })
      aheadTimer = setTimeout(dropAhead, AHEAD_PANEL_MS)
    })
  }
  const onStart = (runner: ClientRunner | undefined) => {
    const ahead = live()?.ahead ? live() : undefined
    if (ahead && ahead.runner === runner) {
      // the same panel, revealed: no remount (the Show below is not keyed)
      clearTimeout(aheadTimer)
      setLive({ runner, start: true })
      return
    }
    dropAhead()
    setLive({ runner, start: true })
  }
  onMount(() => {
    setMounted(true)
    const p = project()
    if (p && (p.availableRunners.length === 0 || hasSavedSession(p.slug))) setLive({ start: false })
  })
  return (
    <div class="page wide">
      <p>
        <A href="/projects">← All projects</A>
      </p>
      <Show
        when={project()}
        fallback={
          <>
            <PageHead title="Project not found" noindex notFound />
            <h1>Project not found</h1>
            <p>
              See <A href="/projects">all projects</A>.
            </p>
          </>
        }
      >
        {(p) => (
          <>
            <PageHead
              title={p().title}
              description={p().summary || undefined}
              image={p().previewImage?.url}
              path={`/projects/${p().slug}`}
              oembed
              jsonLd={{
                '@context': 'https://schema.org',
                '@type': 'SoftwareSourceCode',
                name: p().title,
                description: p().summary || undefined,
                url: `${origin}/projects/${p().slug}`,
                codeRepository: p().repoUrl ?? undefined,
                programmingLanguage: p().stack.length > 0 ? p().stack : undefined,
                image: p().previewImage ? `${origin}${p().previewImage?.url}` : undefined,
                dateModified: p().updatedAt,
                author: { '@type': 'Person', name: site.profile().name, url: `${origin}/` },
              }}
            />
            <header class="project-header">
              <h1>{p().title}</h1>
              <p class="lead">{p().summary}</p>
              <ul class="tags" aria-label="Stack">
                <For each={p().stack}>{(item) => <li>{item}</li>}</For>
              </ul>
            </header>
            <div class="project-layout">
              <div class="terminal-slot" classList={{ 'has-ahead': Boolean(live()?.ahead) }}>
                <Show when={!live() || live()?.ahead}>
                  <Stage project={p()} ready={mounted()} onWarm={(runner) => onWarm(p(), runner)} onStart={onStart} />
                </Show>
                <Show when={live()}>
                  {(how) => (
                    // mounted ahead: invisible, out of the tab order and the accessibility tree
                    <div
                      class="terminal-live"
                      classList={{ 'is-ahead': Boolean(how().ahead) }}
                      inert={how().ahead || undefined}
                      aria-hidden={how().ahead ? 'true' : undefined}
                    >
                      <Suspense fallback={<Stage project={p()} ready={false} />}>
                        <LiveStage
                          project={p()}
                          controls={(c) => setTerminal(() => c)}
                          runner={how().runner}
                          autoStart={how().start}
                          ahead={Boolean(how().ahead)}
                        />
                      </Suspense>
                    </div>
                  )}
                </Show>
              </div>
              <aside class="project-aside" aria-labelledby="try-title">
                <h2 id="try-title">Try these</h2>
                <p class="muted small">
                  The terminal opens in the project's folder, <code>~/projects/{p().slug}</code>, so the commands work
                  in this order as they are. Click a command to type it in the terminal; <code>help</code> lists them
                  too.
                </p>
                <ul class="commands">
                  <For each={p().commands}>
                    {(c) => (
                      <li>
                        <button
                          type="button"
                          class="command"
                          disabled={!shown()?.connected()}
                          title="Type it in the terminal"
                          onClick={() => shown()?.type(c)}
                        >
                          <code>{c}</code>
                        </button>
                      </li>
                    )}
                  </For>
                </ul>
                <h2>About</h2>
                <p class="description">
                  <InlineMarkdown text={p().description} />
                </p>
                <Show when={p().repoUrl}>
                  <p>
                    <a href={p().repoUrl ?? '#'} rel="noopener noreferrer">
                      Source code
                    </a>
                  </p>
                </Show>
              </aside>
            </div>
          </>
        )}
      </Show>
    </div>
  )
}
