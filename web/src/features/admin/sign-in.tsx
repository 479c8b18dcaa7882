import { createSignal, Show } from 'solid-js'
import { useAuth } from '../../lib/auth.tsx'
import { messageFor } from '../../lib/errors.ts'

/** The admin sign-in form. */
export function SignIn() {
  const auth = useAuth()
  const [error, setError] = createSignal<string>()
  const [busy, setBusy] = createSignal(false)
  const submit = async (ev: SubmitEvent) => {
    ev.preventDefault()
    const form = new FormData(ev.currentTarget as HTMLFormElement)
    setBusy(true)
    setError(undefined)
    try {
      await auth.signIn(String(form.get('email') ?? ''), String(form.get('password') ?? ''))
    } catch (err) {
      setError(messageFor(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <div class="page narrow">
      <h1>Sign in</h1>
      <p class="muted">The admin area manages posts, projects, media, feature flags and live terminals.</p>
      <form class="sign-in" onSubmit={submit} aria-describedby={error() ? 'sign-in-error' : undefined}>
        <label for="email">Email</label>
        <input id="email" name="email" type="email" autocomplete="username" required />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
        <Show when={error()}>
          <p id="sign-in-error" class="error-box" role="alert">
            {error()}
          </p>
        </Show>
        <div class="form-actions">
          <button type="submit" class="button primary" disabled={busy()}>
            {busy() ? 'Signing in…' : 'Sign in'}
          </button>
        </div>
      </form>
    </div>
  )
}
