import { A, Route, Router, type RouteSectionProps, useLocation } from '@solidjs/router'
import { createEffect, ErrorBoundary, For, lazy, on, Show, Suspense } from 'solid-js'
import { ErrorView } from './components/error-view.tsx'
import { Loading } from './components/loading.tsx'
import ArchitecturePage from './features/architecture/architecture-page.tsx'
import BlogPage from './features/blog/blog-page.tsx'
import PostPage from './features/blog/post-page.tsx'
import TagPage from './features/blog/tag-page.tsx'
import EmbedPage from './features/embed/embed-page.tsx'
import HomePage from './features/home/home-page.tsx'
import NotFoundPage from './features/home/not-found-page.tsx'
import ProjectPage from './features/projects/project-page.tsx'
import ProjectsPage from './features/projects/projects-page.tsx'
import ReplayPage from './features/replay/replay-page.tsx'
import { SiteProvider, useSite } from './features/site/site-context.tsx'
import WatchPage from './features/watch/watch-page.tsx'
import { AuthProvider } from './lib/auth.tsx'
import type { Site } from './lib/contract.ts'
import { online } from './lib/network.ts'
import { type ServerRender, ServerRenderContext } from './lib/server.ts'

// Public pages are rendered on the server and hydrated, so they ship in the main bundle (no
// request waterfall before hydration). The admin (and, inside the project page, xterm.js and the
// recording player) are their own chunks: a visitor reading the blog never downloads them.
const Admin = lazy(() => import('./features/admin/admin-page.tsx'))

function Layout(props: RouteSectionProps) {
  const location = useLocation()
  const site = useSite()
  let main: HTMLElement | undefined
  // After a client-side navigation, move focus to the new page (screen readers announce it).
  createEffect(
    on(
      () => location.pathname,
      () => main?.focus({ preventScroll: true }),
      { defer: true },
    ),
  )
  // The embed page (framed by other sites) is the terminal alone: no header, navigation or footer.
  const bare = () => location.pathname.startsWith('/embed/')
  return (
    <Show
      when={!bare()}
      fallback={
        <main id="main" class="embed-main">
          <ErrorBoundary fallback={(err, reset) => <ErrorView error={err} retry={reset} />}>
            <Suspense fallback={<Loading />}>{props.children}</Suspense>
          </ErrorBoundary>
        </main>
      }
    >
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="site-header">
        <div class="bar">
          <A href="/" class="brand" end>
            <span class="prompt" aria-hidden="true">
              $
            </span>{' '}
            {site.profile().configured ? site.profile().name : site.profile().siteTitle}
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
        <Show when={site.profile().links.length > 0}>
          <ul class="footer-links" aria-label={`${site.profile().name} elsewhere`}>
            <For each={site.profile().links}>
              {(link) => (
                <li>
                  <a href={link.url} rel="me noopener noreferrer">
                    {link.label}
                  </a>
                </li>
              )}
            </For>
          </ul>
        </Show>
        <p>
          {site.profile().siteTitle} — built with Shellfolio. Programs run in a sandbox; nothing you type leaves it.{' '}
          <A href="/architecture">How it works</A> · <a href="/feed.xml">Feed</a>
        </p>
      </footer>
    </Show>
  )
}

/**
 * The whole site. `site` is the profile the page carries; `server` the server render's state
 * (entry-server.tsx), with `url` the page to render there. The provider is there in the browser too
 * (empty): server and browser must build the same tree for hydration keys to match.
 */
export function App(props: { site?: Site | undefined; server?: ServerRender | undefined; url?: string }) {
  return (
    <ServerRenderContext.Provider value={props.server}>
      <AuthProvider>
        <SiteProvider initial={props.site}>
          <Router url={props.url} root={Layout}>
            <Route path="/" component={HomePage} />
            <Route path="/projects" component={ProjectsPage} />
            <Route path="/projects/:slug" component={ProjectPage} />
            <Route path="/blog" component={BlogPage} />
            <Route path="/blog/tags/:tag" component={TagPage} />
            <Route path="/blog/:slug" component={PostPage} />
            <Route path="/architecture" component={ArchitecturePage} />
            <Route path="/embed/:slug" component={EmbedPage} />
            <Route path="/watch/:token" component={WatchPage} />
            <Route path="/replay/:id" component={ReplayPage} />
            <Route path="/admin/*section" component={Admin} />
            <Route path="*404" component={NotFoundPage} />
          </Router>
        </SiteProvider>
      </AuthProvider>
    </ServerRenderContext.Provider>
  )
}
