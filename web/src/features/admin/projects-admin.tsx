import { PROJECT_RUNTIMES } from '@shellfolio/runner'
import { RUNNER_KINDS } from '@shellfolio/runner/terminal-protocol'
import { createSignal, For, Show } from 'solid-js'
import { createStore } from 'solid-js/store'
import type { AdminProject, ProjectInput, RunnerKind } from '../../lib/contract.ts'
import { messageFor } from '../../lib/errors.ts'
import {
  AdminTable,
  createStatus,
  FieldError,
  fieldErrorsOf,
  focusFirstError,
  Loaded,
  StatusMessage,
} from './admin-ui.tsx'
import { MediaPicker } from './media-picker.tsx'
import { BuildPanel, ProjectImport, VersionsPanel } from './project-import.tsx'
import {
  createAdminProjects,
  createRecordings,
  deleteProject,
  publishProject,
  restoreProject,
  updateProject,
} from './queries.ts'

const lines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)

/**
 * Projects: the list and an edit form (text, stack, runners, suggested commands, featured, order,
 * the preview image from the media library and a recorded session as the page's demo).
 */
export default function ProjectsAdmin() {
  const [projects, { refetch, mutate }] = createAdminProjects()
  const [form, setForm] = createStore({
    id: '',
    title: '',
    summary: '',
    description: '',
    stack: '',
    repoUrl: '',
    commands: '',
    allow: '',
    runtime: 'c' as AdminProject['runtime'],
    build: '',
    runners: [] as RunnerKind[],
    featured: false,
    order: 0,
    slug: '',
    preview: null as { id: string; url: string } | null,
    demoSessionId: '',
  })
  const [editing, setEditing] = createSignal(false)
  const [picking, setPicking] = createSignal(false)
  const [errors, setErrors] = createSignal<Record<string, string>>({})
  const [recordings] = createRecordings(() => (editing() ? form.slug : undefined))
  const [busy, setBusy] = createSignal(false)
  const [message, setMessage] = createStatus()
  /** The project whose versions or build is shown under the table. */
  const [detail, setDetail] = createSignal<{ id: string; title: string; show: 'versions' | 'build' }>()
  const togglePublished = async (p: AdminProject) => {
    setMessage(undefined)
    try {
      const saved = await publishProject(p.id, p.status !== 'published')
      mutate((list) => (list ?? []).map((x) => (x.id === saved.id ? { ...x, ...saved } : x)))
      setMessage({
        ok: true,
        text: saved.status === 'published' ? `Published “${saved.title}”.` : `“${saved.title}” is a draft again.`,
      })
    } catch (err) {
      setMessage({ ok: false, text: messageFor(err) })
    }
  }

  /** Soft delete and restore: the row stays in the list (marked deleted) so it can come back. */
  const setDeleted = async (p: AdminProject, deleted: boolean) => {
    setMessage(undefined)
    try {
      const saved = deleted ? await deleteProject(p.id) : await restoreProject(p.id)
      mutate((list) => (list ?? []).map((x) => (x.id === saved.id ? { ...x, ...saved } : x)))
      setMessage({
        ok: true,
        text: deleted ? `“${saved.title}” was deleted. You can restore it.` : `“${saved.title}” was restored.`,
      })
    } catch (err) {
      setMessage({ ok: false, text: messageFor(err) })
    }
  }

  const edit = (p: AdminProject) => {
    setForm({
      id: p.id,
      title: p.title,
      summary: p.summary,
      description: p.description,
      stack: p.stack.join(', '),
      repoUrl: p.repoUrl ?? '',
      commands: p.commands.join('\n'),
      allow: p.policy.allow.join('\n'),
      runtime: p.runtime,
      build: p.build,
      runners: [...p.runners],
      featured: p.featured,
      order: p.order,
      slug: p.slug,
      preview: p.previewImage,
      demoSessionId: p.demo?.sessionId ?? '',
    })
    setMessage(undefined)
    setErrors({})
    setPicking(false)
    setEditing(true)
  }

  const save = async (ev: SubmitEvent) => {
    ev.preventDefault()
    setBusy(true)
    setMessage(undefined)
    const patch: ProjectInput = {
      title: form.title.trim(),
      summary: form.summary.trim(),
      description: form.description.trim(),
      stack: form.stack
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      repoUrl: form.repoUrl.trim() || null,
      commands: lines(form.commands),
      policy: { allow: lines(form.allow) },
      runtime: form.runtime,
      build: form.build.trim(),
      runners: form.runners,
      featured: form.featured,
      order: form.order,
      previewMediaId: form.preview?.id ?? null,
      demoSessionId: form.demoSessionId || null,
    }
    setErrors({})
    try {
      const saved = await updateProject(form.id, patch)
      mutate((list) => (list ?? []).map((p) => (p.id === saved.id ? { ...p, ...saved } : p)))
      setMessage({ ok: true, text: `Saved “${saved.title}”.` })
      setEditing(false)
    } catch (err) {
      const found = fieldErrorsOf(err)
      setErrors(found)
      setMessage({ ok: false, text: messageFor(err) })
      queueMicrotask(() => focusFirstError(found, 'project'))
    } finally {
      setBusy(false)
    }
  }

  return (
    <section aria-labelledby="projects-title">
      <h1 id="projects-title">Projects</h1>
      <StatusMessage status={message()} />
      <ProjectImport onImported={() => void refetch()} />
      <Show when={editing()}>
        <form onSubmit={save} aria-label={`Edit ${form.title}`}>
          <h2>Edit {form.title}</h2>
          <label for="project-title">Title</label>
          <input
            id="project-title"
            type="text"
            required
            value={form.title}
            onInput={(e) => setForm('title', e.currentTarget.value)}
          />
          <label for="project-summary">Summary</label>
          <input
            id="project-summary"
            type="text"
            value={form.summary}
            onInput={(e) => setForm('summary', e.currentTarget.value)}
          />
          <label for="project-description">Description</label>
          <textarea
            id="project-description"
            value={form.description}
            onInput={(e) => setForm('description', e.currentTarget.value)}
          />
          <label for="project-stack">Stack</label>
          <input
            id="project-stack"
            type="text"
            aria-describedby="project-stack-hint"
            value={form.stack}
            onInput={(e) => setForm('stack', e.currentTarget.value)}
          />
          <p id="project-stack-hint" class="hint">
            Comma-separated.
          </p>
          <label for="project-repo">Repository URL</label>
          <input
            id="project-repo"
            type="url"
            value={form.repoUrl}
            onInput={(e) => setForm('repoUrl', e.currentTarget.value)}
          />
          <label for="project-commands">Suggested commands</label>
          <textarea
            id="project-commands"
            aria-describedby="project-commands-hint"
            value={form.commands}
            onInput={(e) => setForm('commands', e.currentTarget.value)}
          />
          <p id="project-commands-hint" class="hint">
            One per line.
          </p>
          <label for="project-allow">Allowed commands</label>
          <textarea
            id="project-allow"
            aria-describedby="project-allow-hint"
            value={form.allow}
            onInput={(e) => setForm('allow', e.currentTarget.value)}
          />
          <p id="project-allow-hint" class="hint">
            The command policy: one pattern per line (<code>ls</code>, <code>./*</code>, <code>python3</code>).
          </p>
          <label for="project-runtime">Runtime (Docker toolchain)</label>
          <select
            id="project-runtime"
            value={form.runtime}
            onChange={(e) => setForm('runtime', e.currentTarget.value as AdminProject['runtime'])}
          >
            <For each={PROJECT_RUNTIMES}>{(r) => <option value={r}>{r}</option>}</For>
          </select>
          <label for="project-build">Build command</label>
          <input
            id="project-build"
            type="text"
            value={form.build}
            onInput={(e) => setForm('build', e.currentTarget.value)}
          />
          <fieldset>
            <legend>Runners</legend>
            <For each={RUNNER_KINDS}>
              {(r) => (
                <label class="inline">
                  <input
                    type="checkbox"
                    checked={form.runners.includes(r)}
                    onChange={(e) =>
                      setForm('runners', (list) =>
                        e.currentTarget.checked ? [...new Set([...list, r])] : list.filter((x) => x !== r),
                      )
                    }
                  />{' '}
                  {r}
                </label>
              )}
            </For>
          </fieldset>
          <label class="inline">
            <input
              type="checkbox"
              checked={form.featured}
              onChange={(e) => setForm('featured', e.currentTarget.checked)}
            />{' '}
            Featured on the home page
          </label>
          <fieldset>
            <legend>Preview image</legend>
            <p class="hint">Shown on the project's card and when its link is shared.</p>
            <Show when={form.preview}>
              {(image) => (
                <img class="preview-thumb" src={image().url} alt="The current preview" width="160" height="90" />
              )}
            </Show>
            <div class="row-actions">
              <button type="button" id="project-previewMediaId" class="button" onClick={() => setPicking(!picking())}>
                {form.preview ? 'Change image' : 'Choose an image'}
              </button>
              <Show when={form.preview}>
                <button type="button" class="button" onClick={() => setForm('preview', null)}>
                  Remove image
                </button>
              </Show>
            </div>
            <FieldError id="project-previewMediaId-error" message={errors().previewMediaId} />
            <Show when={picking()}>
              <MediaPicker
                label="Pick a preview image"
                onPick={(m) => {
                  setForm('preview', { id: m.id, url: m.url })
                  setPicking(false)
                }}
                onClose={() => setPicking(false)}
              />
            </Show>
          </fieldset>
          <label for="project-demoSessionId">Demo recording</label>
          <select
            id="project-demoSessionId"
            aria-describedby="project-demo-hint"
            aria-invalid={errors().demoSessionId ? true : undefined}
            value={form.demoSessionId}
            onChange={(e) => setForm('demoSessionId', e.currentTarget.value)}
          >
            <option value="">None</option>
            <Show
              when={
                form.demoSessionId &&
                !(recordings.state === 'ready' && recordings().some((r) => r.id === form.demoSessionId))
              }
            >
              <option value={form.demoSessionId}>Current ({form.demoSessionId.slice(0, 8)})</option>
            </Show>
            <For each={recordings.state === 'ready' ? recordings() : []}>
              {(r) => (
                <option value={r.id}>
                  {new Date(r.startedAt).toLocaleString()} · {r.runner} · {Math.ceil(r.bytesOut / 1024)} KB of output
                </option>
              )}
            </For>
          </select>
          <p id="project-demo-hint" class="hint">
            One of this project's recorded sessions, played on its page until a visitor starts a terminal (and instead
            of one when terminals are off or busy).
          </p>
          <FieldError id="project-demoSessionId-error" message={errors().demoSessionId} />
          <label for="project-order">Order</label>
          <input
            id="project-order"
            type="number"
            min="0"
            max="10000"
            value={form.order}
            onInput={(e) => setForm('order', Number(e.currentTarget.value) || 0)}
          />
          <div class="form-actions">
            <button type="submit" class="button primary" disabled={busy()}>
              Save
            </button>
            <button type="button" class="button" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </form>
      </Show>
      <Loaded resource={projects} loading="Loading projects…" retry={refetch}>
        <AdminTable columns={['Project', 'Runtime', 'Runners', 'Status', 'Actions']} each={projects()}>
          {(p) => (
            <tr>
              <td>
                <strong>{p.title}</strong>
                <br />
                <span class="muted small">{p.slug}</span>
              </td>
              <td>{p.runtime}</td>
              <td>{p.runners.join(', ')}</td>
              <td>
                {p.deletedAt ? 'deleted' : p.status}
                {p.featured ? ' · featured' : ''}
              </td>
              <td class="row-actions">
                <button type="button" class="button" onClick={() => edit(p)}>
                  Edit<span class="sr-only"> {p.title}</span>
                </button>
                <Show when={!p.deletedAt}>
                  <button type="button" class="button" onClick={() => void togglePublished(p)}>
                    {p.status === 'published' ? 'Unpublish' : 'Publish'}
                    <span class="sr-only"> {p.title}</span>
                  </button>
                </Show>
                <button
                  type="button"
                  class="button"
                  onClick={() => setDetail({ id: p.id, title: p.title, show: 'versions' })}
                >
                  Versions<span class="sr-only"> of {p.title}</span>
                </button>
                <button
                  type="button"
                  class="button"
                  onClick={() => setDetail({ id: p.id, title: p.title, show: 'build' })}
                >
                  Build<span class="sr-only"> of {p.title}</span>
                </button>
                <Show
                  when={p.deletedAt}
                  fallback={
                    <button type="button" class="button danger" onClick={() => void setDeleted(p, true)}>
                      Delete<span class="sr-only"> {p.title}</span>
                    </button>
                  }
                >
                  <button type="button" class="button" onClick={() => void setDeleted(p, false)}>
                    Restore<span class="sr-only"> {p.title}</span>
                  </button>
                </Show>
              </td>
            </tr>
          )}
        </AdminTable>
      </Loaded>
      <Show when={detail()} keyed>
        {(d) =>
          d.show === 'versions' ? (
            <VersionsPanel projectId={d.id} title={d.title} onChanged={() => void refetch()} />
          ) : (
            <BuildPanel projectId={d.id} title={d.title} onChanged={() => void refetch()} />
          )
        }
      </Show>
    </section>
  )
}
