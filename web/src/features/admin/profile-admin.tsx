import { createSignal, Index, Show } from 'solid-js'
import { createStore } from 'solid-js/store'
import type { Site, SiteInput } from '../../lib/contract.ts'
import { messageFor } from '../../lib/errors.ts'
import { useSite } from '../site/site-context.tsx'
import { createStatus, FieldError, fieldErrorsOf, focusFirstError, StatusMessage } from './admin-ui.tsx'
import { MediaPicker } from './media-picker.tsx'
import { createPreview, saveSite } from './queries.ts'

interface Form {
  name: string
  headline: string
  intro: string
  avatar: { id: string; url: string } | null
  location: string
  links: { label: string; url: string }[]
  siteTitle: string
  siteDescription: string
}

const formOf = (s: Site): Form => ({
  // A fresh install's placeholder name is not the owner's: start them from an empty field.
  name: s.configured ? s.name : '',
  headline: s.configured ? s.headline : '',
  intro: s.configured ? s.intro : '',
  avatar: s.avatar,
  location: s.location,
  links: s.links.map((l) => ({ ...l })),
  siteTitle: s.siteTitle,
  siteDescription: s.siteDescription,
})

/** The owner's profile: who they are, their photo and links, and the site's title and description. */
export default function ProfileAdmin() {
  const site = useSite()
  const [form, setForm] = createStore<Form>(formOf(site.profile()))
  const [errors, setErrors] = createSignal<Record<string, string>>({})
  const [busy, setBusy] = createSignal(false)
  const [picking, setPicking] = createSignal(false)
  const [message, setMessage] = createStatus()
  const [preview] = createPreview(() => form.intro)
  const previewHtml = () => (preview.state === 'ready' || preview.state === 'refreshing' ? preview.latest : undefined)

  const invalid = (key: string) => (errors()[key] ? true : undefined)
  const describedBy = (key: string, hint?: string) =>
    [errors()[key] ? `profile-${key.replaceAll('/', '-')}-error` : '', hint ?? ''].filter(Boolean).join(' ') ||
    undefined

  const save = async (ev: SubmitEvent) => {
    ev.preventDefault()
    setBusy(true)
    setMessage(undefined)
    setErrors({})
    const input: SiteInput = {
      name: form.name.trim(),
      headline: form.headline.trim(),
      intro: form.intro,
      avatarId: form.avatar?.id ?? null,
      location: form.location.trim(),
      links: form.links.filter((l) => l.label.trim() || l.url.trim()),
      siteTitle: form.siteTitle.trim(),
      siteDescription: form.siteDescription.trim(),
    }
    try {
      const saved = await saveSite(input)
      site.replace(saved)
      setForm(formOf(saved))
      setMessage({ ok: true, text: 'Profile saved. The home page shows it now.' })
    } catch (err) {
      const found = fieldErrorsOf(err)
      setErrors(found)
      setMessage({ ok: false, text: messageFor(err) })
      queueMicrotask(() => focusFirstError(found, 'profile'))
    } finally {
      setBusy(false)
    }
  }

  return (
    <section aria-labelledby="profile-title">
      <h1 id="profile-title">Profile</h1>
      <p class="muted">
        Who this site is about. It fills the home page, the footer links and the previews shown when someone shares a
        link.
      </p>
      <StatusMessage status={message()} />
      <form class="profile-form" onSubmit={save} aria-label="Profile" noValidate>
        <label for="profile-name">Name</label>
        <input
          id="profile-name"
          type="text"
          required
          maxLength={100}
          autocomplete="name"
          value={form.name}
          aria-invalid={invalid('name')}
          aria-describedby={describedBy('name')}
          onInput={(e) => setForm('name', e.currentTarget.value)}
        />
        <FieldError id="profile-name-error" message={errors().name} />

        <label for="profile-headline">Headline</label>
        <input
          id="profile-headline"
          type="text"
          maxLength={160}
          placeholder="e.g. Systems programmer · C, Unix and the web"
          value={form.headline}
          aria-invalid={invalid('headline')}
          aria-describedby={describedBy('headline')}
          onInput={(e) => setForm('headline', e.currentTarget.value)}
        />
        <FieldError id="profile-headline-error" message={errors().headline} />

        <label for="profile-location">Location</label>
        <input
          id="profile-location"
          type="text"
          maxLength={100}
          value={form.location}
          aria-invalid={invalid('location')}
          aria-describedby={describedBy('location')}
          onInput={(e) => setForm('location', e.currentTarget.value)}
        />
        <FieldError id="profile-location-error" message={errors().location} />

        <fieldset>
          <legend>Photo</legend>
          <Show when={form.avatar} fallback={<p class="muted small">No photo: link previews use none.</p>}>
            {(avatar) => <img class="avatar small" src={avatar().url} alt="The current one" width="96" height="96" />}
          </Show>
          <div class="row-actions">
            <button type="button" class="button" id="profile-avatarId" onClick={() => setPicking(!picking())}>
              {form.avatar ? 'Change photo' : 'Choose a photo'}
            </button>
            <Show when={form.avatar}>
              <button type="button" class="button" onClick={() => setForm('avatar', null)}>
                Remove photo
              </button>
            </Show>
          </div>
          <FieldError id="profile-avatarId-error" message={errors().avatarId} />
          <Show when={picking()}>
            <MediaPicker
              label="Pick a photo"
              onPick={(m) => {
                setForm('avatar', { id: m.id, url: m.url })
                setPicking(false)
              }}
              onClose={() => setPicking(false)}
            />
          </Show>
        </fieldset>

        <div class="editor">
          <div>
            <label for="profile-intro">Introduction (Markdown)</label>
            <textarea
              id="profile-intro"
              value={form.intro}
              maxLength={20000}
              aria-invalid={invalid('intro')}
              aria-describedby={describedBy('intro')}
              onInput={(e) => setForm('intro', e.currentTarget.value)}
            />
            <FieldError id="profile-intro-error" message={errors().intro} />
          </div>
          <div>
            <p class="label" id="profile-preview-label">
              Preview
            </p>
            <section class="preview" aria-labelledby="profile-preview-label" aria-busy={preview.loading}>
              <Show when={previewHtml() !== undefined} fallback={<p class="muted">Nothing to preview yet.</p>}>
                <div class="prose intro" innerHTML={previewHtml() ?? ''} />
              </Show>
            </section>
          </div>
        </div>

        <fieldset>
          <legend>Links</legend>
          <p class="hint">
            GitHub, email (mailto:you@example.com), a CV as a PDF from Media, socials. Shown on the home page and in the
            footer.
          </p>
          <Index each={form.links}>
            {(link, i) => (
              <div class="link-row">
                <label for={`profile-links-${i}-label`}>Label</label>
                <input
                  id={`profile-links-${i}-label`}
                  type="text"
                  maxLength={40}
                  value={link().label}
                  aria-invalid={invalid(`links/${i}/label`)}
                  aria-describedby={describedBy(`links/${i}/label`)}
                  onInput={(e) => setForm('links', i, 'label', e.currentTarget.value)}
                />
                <FieldError id={`profile-links-${i}-label-error`} message={errors()[`links/${i}/label`]} />
                <label for={`profile-links-${i}-url`}>URL</label>
                <input
                  id={`profile-links-${i}-url`}
                  type="text"
                  inputMode="url"
                  maxLength={500}
                  value={link().url}
                  aria-invalid={invalid(`links/${i}/url`)}
                  aria-describedby={describedBy(`links/${i}/url`)}
                  onInput={(e) => setForm('links', i, 'url', e.currentTarget.value)}
                />
                <FieldError id={`profile-links-${i}-url-error`} message={errors()[`links/${i}/url`]} />
                <button
                  type="button"
                  class="button"
                  onClick={() => setForm('links', (list) => list.filter((_, k) => k !== i))}
                >
                  Remove<span class="sr-only"> link {i + 1}</span>
                </button>
              </div>
            )}
          </Index>
          <Show when={form.links.length < 12}>
            <button
              type="button"
              class="button"
              onClick={() => setForm('links', (list) => [...list, { label: '', url: '' }])}
            >
              Add a link
            </button>
          </Show>
        </fieldset>

        <label for="profile-siteTitle">Site title</label>
        <input
          id="profile-siteTitle"
          type="text"
          required
          maxLength={80}
          value={form.siteTitle}
          aria-invalid={invalid('siteTitle')}
          aria-describedby={describedBy('siteTitle', 'profile-siteTitle-hint')}
          onInput={(e) => setForm('siteTitle', e.currentTarget.value)}
        />
        <p id="profile-siteTitle-hint" class="hint">
          In every page's title and link preview.
        </p>
        <FieldError id="profile-siteTitle-error" message={errors().siteTitle} />

        <label for="profile-siteDescription">Site description</label>
        <input
          id="profile-siteDescription"
          type="text"
          maxLength={300}
          value={form.siteDescription}
          aria-invalid={invalid('siteDescription')}
          aria-describedby={describedBy('siteDescription', 'profile-siteDescription-hint')}
          onInput={(e) => setForm('siteDescription', e.currentTarget.value)}
        />
        <p id="profile-siteDescription-hint" class="hint">
          What search engines and link previews show for pages without their own.
        </p>
        <FieldError id="profile-siteDescription-error" message={errors().siteDescription} />

        <div class="form-actions">
          <button type="submit" class="button primary" disabled={busy()}>
            {busy() ? 'Saving…' : 'Save profile'}
          </button>
          <a class="button" href="/">
            View the home page
          </a>
        </div>
      </form>
    </section>
  )
}
