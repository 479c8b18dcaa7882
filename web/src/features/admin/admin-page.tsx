import { A, useParams } from '@solidjs/router'
import { createSignal, For, lazy, Match, onMount, Suspense, Switch } from 'solid-js'
import { Loading } from '../../components/loading.tsx'
import { useAuth } from '../../lib/auth.tsx'
import { PageHead } from '../../lib/head.tsx'
import { SignIn } from './sign-in.tsx'

const ProfileAdmin = lazy(() => import('./profile-admin.tsx'))
const PostsAdmin = lazy(() => import('./posts-admin.tsx'))
const ProjectsAdmin = lazy(() => import('./projects-admin.tsx'))
const MediaAdmin = lazy(() => import('./media-admin.tsx'))
const FlagsAdmin = lazy(() => import('./flags-admin.tsx'))
// The recording player (asciinema-player) loads only with this section.
const SessionsAdmin = lazy(() => import('./sessions-admin.tsx'))
const ProblemsAdmin = lazy(() => import('./problems-admin.tsx'))

const SECTIONS = [
  { path: 'profile', label: 'Profile' },
  { path: 'posts', label: 'Posts' },
  { path: 'projects', label: 'Projects' },
  { path: 'media', label: 'Media' },
  { path: 'flags', label: 'Feature flags' },
  { path: 'sessions', label: 'Live sessions' },
  { path: 'problems', label: 'Problems' },
] as const

export default function AdminPage() {
  const auth = useAuth()
  const params = useParams()
  const section = () => params.section?.split('/')[0] || 'posts'
  const title = () =>
    auth.state.status === 'signed-in'
      ? `Admin: ${SECTIONS.find((s) => s.path === section())?.label ?? 'Admin'}`
      : 'Sign in'
  // The admin lives in the browser (its session is in sessionStorage): the server sends a shell.
  const [mounted, setMounted] = createSignal(false)
  onMount(() => setMounted(true))
  return (
    <Switch>
      <Match when={!mounted() || auth.state.status === 'unknown'}>
        <PageHead title="Admin" noindex />
        <div class="page">
          <Loading label="Checking your session…" />
        </div>
      </Match>
      <Match when={auth.state.status === 'signed-out'}>
        <PageHead title={title()} noindex />
        <SignIn />
      </Match>
      <Match when={auth.state.status === 'signed-in'}>
        <PageHead title={title()} noindex />
        <div class="page wide admin-layout">
          <nav class="admin-nav" aria-label="Admin">
            <ul>
              <For each={SECTIONS}>
                {(s) => (
                  <li>
                    <A
                      href={`/admin/${s.path}`}
                      class={section() === s.path ? 'active' : ''}
                      aria-current={section() === s.path ? 'page' : undefined}
                    >
                      {s.label}
                    </A>
                  </li>
                )}
              </For>
            </ul>
            <p class="admin-user">
              Signed in as <strong>{auth.state.user?.email}</strong>
            </p>
            <button type="button" class="button" onClick={() => void auth.signOut()}>
              Sign out
            </button>
          </nav>
          <div class="admin-content">
            <Suspense fallback={<Loading />}>
              <Switch fallback={<p>Unknown section. Pick one from the menu.</p>}>
                <Match when={section() === 'profile'}>
                  <ProfileAdmin />
                </Match>
                <Match when={section() === 'posts'}>
                  <PostsAdmin />
                </Match>
                <Match when={section() === 'projects'}>
                  <ProjectsAdmin />
                </Match>
                <Match when={section() === 'media'}>
                  <MediaAdmin />
                </Match>
                <Match when={section() === 'flags'}>
                  <FlagsAdmin />
                </Match>
                <Match when={section() === 'sessions'}>
                  <SessionsAdmin />
                </Match>
                <Match when={section() === 'problems'}>
                  <ProblemsAdmin />
                </Match>
              </Switch>
            </Suspense>
          </div>
        </div>
      </Match>
    </Switch>
  )
}
