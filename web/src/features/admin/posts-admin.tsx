import { A } from '@solidjs/router'
import { createSignal, Show } from 'solid-js'
import { createStore } from 'solid-js/store'
import type { AdminPost, PostInput } from '../../lib/contract.ts'
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
import {
  createAdminPosts,
  createPost,
  createPreview,
  deletePost,
  fetchAdminPost,
  restorePost,
  updatePost,
} from './queries.ts'

interface Draft {
  id: string | undefined
  title: string
  slug: string
  summary: string
  tags: string
  markdown: string
  status: 'draft' | 'published'
  /** Server-rendered, sanitized HTML of the last save. */
  html: string
}

const EMPTY: Draft = {
  id: undefined,
  title: '',
  slug: '',
  summary: '',
  tags: '',
  markdown: '',
  status: 'draft',
  html: '',
}

export function slugify(title: string): string {
  return title
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 100)
}

const draftOf = (p: AdminPost): Draft => ({
  id: p.id,
  title: p.title,
  slug: p.slug,
  summary: p.summary,
  tags: p.tags.join(', '),
  markdown: p.markdown,
  status: p.status,
  html: p.html,
})

/**
 * Posts: the list (drafts, published, deleted) and the editor. Its preview is rendered by the
 * server with the same code as the published page (GitHub-flavoured Markdown, highlighted code,
 * the same sanitizer), so what it shows is what visitors get.
 */
export default function PostsAdmin() {
  const [posts, { refetch, mutate }] = createAdminPosts()
  const [draft, setDraft] = createStore<Draft>({ ...EMPTY })
  const [editing, setEditing] = createSignal(false)
  const [slugTouched, setSlugTouched] = createSignal(false)
  const [busy, setBusy] = createSignal(false)
  const [message, setMessage] = createStatus()
  const [errors, setErrors] = createSignal<Record<string, string>>({})
  const [picking, setPicking] = createSignal(false)
  const [preview] = createPreview(() => draft.markdown)
  const previewHtml = () => (preview.state === 'ready' || preview.state === 'refreshing' ? preview.latest : undefined)
  let body!: HTMLTextAreaElement
  const invalid = (key: string) => (errors()[key] ? true : undefined)
  const describedBy = (key: string, hint?: string) =>
    [errors()[key] ? `post-${key.replaceAll('/', '-')}-error` : '', hint ?? ''].filter(Boolean).join(' ') || undefined

  /** Inserts Markdown at the caret of the body (an image from the library). */
  const insertAtCaret = (text: string) => {
    const start = body.selectionStart ?? draft.markdown.length
    const end = body.selectionEnd ?? start
    const before = draft.markdown.slice(0, start)
    const lead = before && !before.endsWith('\n') ? '\n\n' : ''
    setDraft('markdown', `${before}${lead}${text}\n${draft.markdown.slice(end)}`)
    body.focus()
    const caret = start + lead.length + text.length + 1
    body.setSelectionRange(caret, caret)
  }

  const replace = (post: AdminPost) =>
    mutate((list) => {
      const rest = (list ?? []).filter((p) => p.id !== post.id)
      return [post, ...rest]
    })

  const open = async (post?: AdminPost) => {
    setMessage(undefined)
    try {
      // The list may hold summaries: load the full post (markdown source) before editing.
      setDraft(post ? draftOf(await fetchAdminPost(post.id)) : { ...EMPTY })
    } catch (err) {
      setMessage({ ok: false, text: messageFor(err) })
      return
    }
    setSlugTouched(Boolean(post))
    setErrors({})
    setEditing(true)
  }

  const run = async (label: string, fn: () => Promise<void>) => {
    setBusy(true)
    setMessage(undefined)
    setErrors({})
    try {
      await fn()
      setMessage({ ok: true, text: label })
    } catch (err) {
      // Point at the exact field the server refused, and move focus there.
      const found = fieldErrorsOf(err)
      setErrors(found)
      setMessage({ ok: false, text: messageFor(err) })
      queueMicrotask(() => focusFirstError(found, 'post'))
    } finally {
      setBusy(false)
    }
  }

  const save = (status: 'draft' | 'published') =>
    run(status === 'published' ? 'Published.' : 'Saved as a draft.', async () => {
      const input: PostInput = {
        title: draft.title.trim(),
        slug: draft.slug.trim() || slugify(draft.title),
        summary: draft.summary.trim(),
        markdown: draft.markdown,
        tags: draft.tags
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean),
        status,
      }
      const saved = draft.id ? await updatePost(draft.id, input) : await createPost(input)
      setDraft(draftOf(saved))
      replace(saved)
    })

  const remove = (post: AdminPost) =>
    run(`“${post.title}” was deleted. You can restore it.`, async () => {
      // The server answers with the post as deleted: show that row as it is now.
      replace(await deletePost(post.id))
      if (draft.id === post.id) setEditing(false)
    })

  const restore = (post: AdminPost) =>
    run(`“${post.title}” was restored.`, async () => {
      replace(await restorePost(post.id))
    })

  return (
    <section aria-labelledby="posts-title">
      <h1 id="posts-title">Posts</h1>
      <StatusMessage status={message()} />

      <Show when={editing()}>
        <form
          class="post-editor"
          aria-label={draft.id ? 'Edit post' : 'New post'}
          onSubmit={(ev) => {
            ev.preventDefault()
            void save(draft.status)
          }}
        >
          <h2>{draft.id ? 'Edit post' : 'New post'}</h2>
          <label for="post-title">Title</label>
          <input
            id="post-title"
            type="text"
            required
            maxLength={200}
            aria-invalid={invalid('title')}
            aria-describedby={describedBy('title')}
            value={draft.title}
            onInput={(e) => {
              setDraft('title', e.currentTarget.value)
              if (!slugTouched()) setDraft('slug', slugify(e.currentTarget.value))
            }}
          />
          <FieldError id="post-title-error" message={errors().title} />
          <label for="post-slug">Slug</label>
          <input
            id="post-slug"
            type="text"
            required
            pattern="[a-z0-9]+(-[a-z0-9]+)*"
            aria-invalid={invalid('slug')}
            aria-describedby={describedBy('slug', 'post-slug-hint')}
            value={draft.slug}
            onInput={(e) => {
              setSlugTouched(true)
              setDraft('slug', e.currentTarget.value)
            }}
          />
          <p id="post-slug-hint" class="hint">
            The address: /blog/{draft.slug || 'your-slug'} — lower-case words joined by dashes.
          </p>
          <FieldError id="post-slug-error" message={errors().slug} />
          <label for="post-summary">Summary</label>
          <input
            id="post-summary"
            type="text"
            maxLength={500}
            aria-invalid={invalid('summary')}
            aria-describedby={describedBy('summary')}
            value={draft.summary}
            onInput={(e) => setDraft('summary', e.currentTarget.value)}
          />
          <FieldError id="post-summary-error" message={errors().summary} />
          <label for="post-tags">Tags</label>
          <input
            id="post-tags"
            type="text"
            aria-invalid={invalid('tags') ?? (Object.keys(errors()).some((k) => k.startsWith('tags/')) || undefined)}
            aria-describedby={describedBy('tags', 'post-tags-hint')}
            value={draft.tags}
            onInput={(e) => setDraft('tags', e.currentTarget.value)}
          />
          <p id="post-tags-hint" class="hint">
            Comma-separated, e.g. c, raytracing
          </p>
          <FieldError
            id="post-tags-error"
            message={errors().tags ?? Object.entries(errors()).find(([k]) => k.startsWith('tags/'))?.[1]}
          />
          <div class="editor">
            <div>
              <label for="post-body">Markdown</label>
              <textarea
                id="post-body"
                ref={body}
                required
                aria-invalid={invalid('markdown')}
                aria-describedby={describedBy('markdown', 'post-body-hint')}
                value={draft.markdown}
                onInput={(e) => setDraft('markdown', e.currentTarget.value)}
              />
              <p id="post-body-hint" class="hint">
                GitHub-flavoured Markdown: tables, task lists (- [ ] …), fenced code with a language (```c).
              </p>
              <FieldError id="post-markdown-error" message={errors().markdown} />
              <button type="button" class="button" aria-expanded={picking()} onClick={() => setPicking(!picking())}>
                Insert an image
              </button>
              <Show when={picking()}>
                <MediaPicker
                  label="Pick an image to insert"
                  onPick={(m) => {
                    const alt = (m.originalName || 'image').replace(/\.[a-z0-9]+$/i, '').replace(/[[\]]/g, '')
                    insertAtCaret(`![${alt}](${m.url})`)
                    setPicking(false)
                  }}
                  onClose={() => setPicking(false)}
                />
              </Show>
            </div>
            <div>
              <p class="label" id="post-preview-label">
                Preview <span class="muted small">(rendered as the published page)</span>
              </p>
              <section class="preview" aria-labelledby="post-preview-label" aria-busy={preview.loading}>
                <Show when={previewHtml() !== undefined} fallback={<p class="muted">Nothing to preview yet.</p>}>
                  <div class="prose" innerHTML={previewHtml() ?? ''} />
                </Show>
              </section>
            </div>
          </div>
          <p class="hint">
            Status: <span class={`badge ${draft.status}`}>{draft.status}</span>
          </p>
          <div class="form-actions">
            <button type="button" class="button" disabled={busy()} onClick={() => void save('draft')}>
              {draft.status === 'published' ? 'Unpublish (save as draft)' : 'Save draft'}
            </button>
            <button type="button" class="button primary" disabled={busy()} onClick={() => void save('published')}>
              {draft.status === 'published' ? 'Update' : 'Publish'}
            </button>
            <Show when={draft.status === 'published' && draft.slug}>
              <A href={`/blog/${draft.slug}`} class="button">
                View on the blog
              </A>
            </Show>
            <button type="button" class="button" onClick={() => setEditing(false)}>
              Close
            </button>
          </div>
        </form>
      </Show>

      <Show when={!editing()}>
        <p>
          <button type="button" class="button primary" onClick={() => void open()}>
            New post
          </button>
        </p>
      </Show>

      <h2>All posts</h2>
      <Loaded resource={posts} loading="Loading posts…" retry={refetch}>
        <AdminTable
          columns={['Title', 'Status', 'Updated', 'Actions']}
          caption="Posts, newest first"
          each={posts()}
          empty="No posts yet."
        >
          {(p) => (
            <tr data-post={p.slug}>
              <td>{p.title}</td>
              <td>
                <span class={`badge ${p.deletedAt ? 'deleted' : p.status}`}>
                  {p.deletedAt ? 'deleted' : (p.status ?? '—')}
                </span>
              </td>
              <td>{p.updatedAt ? new Date(p.updatedAt).toLocaleString() : '—'}</td>
              <td>
                <div class="row-actions">
                  <Show
                    when={!p.deletedAt}
                    fallback={
                      <button type="button" class="button" disabled={busy()} onClick={() => void restore(p)}>
                        Restore<span class="sr-only"> {p.title}</span>
                      </button>
                    }
                  >
                    <button type="button" class="button" onClick={() => void open(p)}>
                      Edit<span class="sr-only"> {p.title}</span>
                    </button>
                    <button type="button" class="button danger" disabled={busy()} onClick={() => void remove(p)}>
                      Delete<span class="sr-only"> {p.title}</span>
                    </button>
                  </Show>
                </div>
              </td>
            </tr>
          )}
        </AdminTable>
      </Loaded>
    </section>
  )
}
