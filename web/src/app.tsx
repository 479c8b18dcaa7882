import { A, Route, Router, type RouteSectionProps, useLocation } from '@solidjs/router'
import { createEffect, ErrorBoundary, lazy, on, Show, Suspense } from 'solid-js'
import { ErrorView } from './components/error-view.tsx'
import { Loading } from './components/loading.tsx'
import { AuthProvider } from './lib/auth.tsx'
import { online } from './lib/network.ts'

// Every page is its own chunk: a visitor reading the blog never downloads xterm.js or the admin.
const Home = lazy(() => import('./features/home/home-page.tsx'))
const Projects = lazy(() => import('./features/projects/projects-page.tsx'))
const Project = lazy(() => import('./features/projects/project-page.tsx'))
const Blog = lazy(() => import('./features/blog/blog-page.tsx'))
const Post = lazy(() => import('./features/blog/post-page.tsx'))
const Architecture = lazy(() => import('./features/architecture/architecture-page.tsx'))
const Admin = lazy(() => import('./features/admin/admin-page.tsx'))
const NotFound = lazy(() => import('./features/home/not-found-page.tsx'))

function Layout(props: RouteSectionProps) {
  const location = useLocation()
  let main: HTMLElement | undefined
  // After a client-side navigation, move focus to the new page (screen readers announce it).
  createEffect(
    on(
      () => location.pathname,
      () => main?.focus({ preventScroll: true }),
      { defer: true },
    ),
  )
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="site-header">
        <div class="bar">
          <A href="/" class="brand" end>
            <span class="prompt" aria-hidden="true">
              $
            </span>{' '}
            shellfolio
          </A>
          <nav aria-label="Main">
            <ul>
              <li>
                <A href="/projects">Projects</A>
              </li>
              <li>
                <A href="/blog">Blog</A>
              </li>
              <li>
                <A href="/architecture">How it works</A>
              </li>
              <li>
                <A href="/admin">Admin</A>
              </li>
            </ul>
          </nav>
        </div>
      </header>
      <Show when={!online()}>
        <p class="offline-banner" role="status">
          You are offline. Pages you have opened still work; anything new loads once you are back online.
        </p>
      </Show>
      <main id="main" tabindex="-1" ref={main}>
        <ErrorBoundary fallback={(err, reset) => <ErrorView error={err} retry={reset} />}>
          <Suspense fallback={<Loading />}>{props.children}</Suspense>
        </ErrorBoundary>
      </main>
      <footer class="site-footer">
        <p>
          Shellfolio — self-hosted, open source. Programs run in a sandbox; nothing you type leaves it.{' '}
          <A href="/architecture">How it works</A>
        </p>
      </footer>
    </>
  )
}

export function App() {
  return (
    <AuthProvider>
      <Router root={Layout}>
        <Route path="/" component={Home} />
        <Route path="/projects" component={Projects} />
        <Route path="/projects/:slug" component={Project} />
        <Route path="/blog" component={Blog} />
        <Route path="/blog/:slug" component={Post} />
        <Route path="/architecture" component={Architecture} />
        <Route path="/admin/*section" component={Admin} />
        <Route path="*404" component={NotFound} />
      </Router>
    </AuthProvider>
  )
}
