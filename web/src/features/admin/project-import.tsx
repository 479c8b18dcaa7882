import { createSignal, For, onCleanup, Show } from 'solid-js'
import { useAuth } from '../../lib/auth.tsx'
import type { ProjectBuild, ProjectVersion } from '../../lib/contract.ts'
import { messageFor } from '../../lib/errors.ts'
import { activateVersion, fetchBuild, fetchVersions, importProject, publishProject } from './queries.ts'

const FINISHED = new Set(['passed', 'failed'])

/**
 * A project's latest check build, polled every second while it runs (docs/projects.md): status,
 * runner, the log as it grows, and Publish once it passed.
 */
export function BuildPanel(props: { projectId: string; title: string; onChanged?: () => void }) {
  const [build, setBuild] = createSignal<ProjectBuild>()
  const [error, setError] = createSignal<string>()
  const [published, setPublished] = createSignal(false)
  let timer: ReturnType<typeof setTimeout> | undefined
  const poll = async () => {
    try {
      const b = await fetchBuild(props.projectId)
      setBuild(b)
      if (FINISHED.has(b.status)) {
        props.onChanged?.()
        return
      }
    } catch (err) {
      setError(messageFor(err))
    }
    timer = setTimeout(() => void poll(), 1_000)
  }
  void poll()
  onCleanup(() => clearTimeout(timer))
  const publish = async () => {
    setError(undefined)
    try {
      await publishProject(props.projectId, true)
      setPublished(true)
      props.onChanged?.()
    } catch (err) {
      setError(messageFor(err))
    }
  }
  return (
    <section class="build-panel" aria-label={`Check build of ${props.title}`}>
      <h3>
        Check build of {props.title}
        <Show when={build()}>
          {(b) => (
            <>
              {' '}
              (version {b().version}):{' '}
              <span class={`build-status build-${b().status}`} data-testid="build-status">
                {b().status}
              </span>
              <Show when={b().runner}>{(r) => <span class="muted small"> on {r()}</span>}</Show>
            </>
          )}
        </Show>
      </h3>
      <pre class="build-log" data-testid="build-log" aria-live="polite">
        {build()?.log || 'Waiting for the build to start…'}
      </pre>
      <Show when={error()}>
        <p class="error-box" role="alert">
          {error()}
        </p>
      </Show>
      <Show when={build()?.status === 'passed' && !published()}>
        <button type="button" class="button primary" onClick={() => void publish()}>
          Publish {props.title}
        </button>
      </Show>
      <Show when={published()}>
        <p class="success-box" role="status">
          Published: visitors can open {props.title} now.
        </p>
      </Show>
    </section>
  )
}

/** Drag an archive here (or pick one): the import form with upload progress, then its build. */
export function ProjectImport(props: { onImported: () => void }) {
  const auth = useAuth()
  const [progress, setProgress] = createSignal<number>()
  const [error, setError] = createSignal<string>()
  const [over, setOver] = createSignal(false)
  const [imported, setImported] = createSignal<{ id: string; title: string }>()
  let input!: HTMLInputElement

  const send = async (file: File | undefined) => {
    if (!file) return
    setError(undefined)
    setImported(undefined)
    setProgress(0)
    try {
      const result = await importProject(file, auth.accessToken, auth.refresh, setProgress).done
      setImported({ id: result.project.id, title: result.project.title })
      input.value = ''
      props.onImported()
    } catch (err) {
      setError(messageFor(err))
    } finally {
      setProgress(undefined)
    }
  }

  return (
    <section aria-labelledby="import-title">
      <h2 id="import-title">Import a project</h2>
      {/* biome-ignore lint/a11y/noStaticElementInteractions: the drop zone wraps a labelled file input */}
      <div
        class={`drop-zone${over() ? ' over' : ''}`}
        data-testid="import-drop-zone"
        onDragOver={(e) => {
          e.preventDefault()
          setOver(true)
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault()
          setOver(false)
          void send(e.dataTransfer?.files?.[0])
        }}
      >
        <label for="import-archive">Drop a .tar.gz, .tgz or .zip here, or choose one</label>
        <input
          id="import-archive"
          type="file"
          accept=".tar.gz,.tgz,.tar,.zip,application/gzip,application/zip"
          ref={input}
          aria-describedby="import-hint"
          onChange={(e) => void send(e.currentTarget.files?.[0])}
        />
        <p id="import-hint" class="hint">
          The archive's root holds a <code>project.json</code> (slug, title, runtime, runners, build…; see the README,
          "Add your own project"). The same slug again adds a new version.
        </p>
      </div>
      <Show when={progress() !== undefined}>
        <label for="import-progress">Uploading… {Math.round((progress() ?? 0) * 100)}%</label>
        <progress id="import-progress" max="1" value={progress()} />
      </Show>
      <Show when={error()}>
        <p class="error-box" role="alert">
          {error()}
        </p>
      </Show>
      <Show when={imported()} keyed>
        {(p) => <BuildPanel projectId={p.id} title={p.title} onChanged={props.onImported} />}
      </Show>
    </section>
  )
}

/** A project's versions, newest first, each with its build; a passed one can be made current. */
export function VersionsPanel(props: { projectId: string; title: string; onChanged: () => void }) {
  const [versions, setVersions] = createSignal<ProjectVersion[]>()
  const [error, setError] = createSignal<string>()
  const load = async () => {
    try {
      setVersions(await fetchVersions(props.projectId))
    } catch (err) {
      setError(messageFor(err))
    }
  }
  void load()
  const activate = async (v: ProjectVersion) => {
    setError(undefined)
    try {
      await activateVersion(props.projectId, v.id)
      await load()
      props.onChanged()
    } catch (err) {
      setError(messageFor(err))
    }
  }
  return (
    <section aria-label={`Versions of ${props.title}`}>
      <h3>Versions of {props.title}</h3>
      <Show when={error()}>
        <p class="error-box" role="alert">
          {error()}
        </p>
      </Show>
      <Show when={versions()} fallback={<p class="muted">Loading versions…</p>}>
        {(list) => (
          <Show when={list().length > 0} fallback={<p class="muted">Not imported: no versions.</p>}>
            <ul class="versions">
              <For each={list()}>
                {(v) => (
                  <li>
                    Version {v.number} · {new Date(v.createdAt).toLocaleString()} · {v.files} files · build{' '}
                    {v.build.status}
                    <Show when={v.current}>
                      {' '}
                      <strong>(current)</strong>
                    </Show>
                    <Show when={!v.current && v.build.status === 'passed'}>
                      {' '}
                      <button type="button" class="button" onClick={() => void activate(v)}>
                        Roll back to version {v.number}
                      </button>
                    </Show>
                  </li>
                )}
              </For>
            </ul>
          </Show>
        )}
      </Show>
    </section>
  )
}
