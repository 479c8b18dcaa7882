import { A } from '@solidjs/router'
import { ErrorBoundary, For, Show, Suspense } from 'solid-js'
import { ErrorView } from '../../components/error-view.tsx'
import { Loading } from '../../components/loading.tsx'
import { PageHead } from '../../lib/head.tsx'
import { useServerRender } from '../../lib/server.ts'
import { PostItem } from '../blog/post-item.tsx'
import { createPostsPage } from '../blog/queries.ts'
import { ProjectCard } from '../projects/project-card.tsx'
import { createProjects } from '../projects/queries.ts'
import { useSite } from '../site/site-context.tsx'

export default function HomePage() {
  const site = useSite()
  const profile = () => site.profile()
  const origin = useServerRender()?.origin ?? (typeof location === 'undefined' ? '' : location.origin)
  const [projects, { refetch: refetchProjects }] = createProjects()
  const [posts, { refetch: refetchPosts }] = createPostsPage(() => ({ limit: 3 }))
  const featured = () => (projects() ?? []).filter((p) => p.featured)
  const layout = () => (featured().length === 1 ? 'one' : featured().length === 2 ? 'two' : 'many')
  return (
    <div class="page">
      <PageHead
        type="profile"
        path="/"
        jsonLd={{
          '@context': 'https://schema.org',
          '@type': 'Person',
          name: profile().name,
          description: profile().headline || undefined,
          url: `${origin}/`,
          image: profile().avatar ? `${origin}${profile().avatar?.url}` : undefined,
          homeLocation: profile().location ? { '@type': 'Place', name: profile().location } : undefined,
          sameAs: profile()
            .links.map((l) => l.url)
            .filter((u) => u.startsWith('http')),
        }}
      />
      <section class="hero" aria-labelledby="who">
        <Show when={profile().avatar}>
          {(avatar) => <img class="avatar" src={avatar().url} alt={profile().name} width="144" height="144" />}
        </Show>
        <div class="hero-text">
          <Show when={profile().headline}>
            <p class="eyebrow">{profile().headline}</p>
          </Show>
          <h1 id="who">{profile().name}</h1>
          <Show when={profile().location}>
            <p class="muted location">{profile().location}</p>
          </Show>
          <div class="lead intro" innerHTML={profile().introHtml} />
          <Show when={profile().links.length > 0}>
            <ul class="profile-links" aria-label="Links">
              <For each={profile().links}>
                {(link) => (
                  <li>
                    <a href={link.url} rel="me noopener noreferrer" class="button">
                      {link.label}
                    </a>
                  </li>
                )}
              </For>
            </ul>
          </Show>
          <Show when={!profile().configured}>
            <p class="notice" role="note">
              New here? This is the site's starting point: <A href="/admin/profile">fill in the profile</A> and it
              becomes yours.
            </p>
          </Show>
        </div>
      </section>

      <section aria-labelledby="featured">
        <h2 id="featured">Featured projects</h2>
        <ErrorBoundary fallback={(err) => <ErrorView error={err} retry={() => void refetchProjects()} />}>
          <Suspense fallback={<Loading label="Loading projects…" />}>
            <div class={`featured featured-${layout()}`}>
              <For
                each={featured()}
                fallback={
                  <p class="muted">
                    No featured projects yet. <A href="/projects">See every project</A>.
                  </p>
                }
              >
                {(p, i) => <ProjectCard project={p} headingLevel={3} number={i() + 1} />}
              </For>
            </div>
            <p>
              <A href="/projects">All projects →</A>
            </p>
          </Suspense>
        </ErrorBoundary>
      </section>

      <section aria-labelledby="recent">
        <h2 id="recent">Recent posts</h2>
        <ErrorBoundary fallback={(err) => <ErrorView error={err} retry={() => void refetchPosts()} />}>
          <Suspense fallback={<Loading label="Loading posts…" />}>
            <For each={posts()?.items} fallback={<p class="muted">Nothing published yet.</p>}>
              {(p) => <PostItem post={p} headingLevel={3} />}
            </For>
            <p>
              <A href="/blog">All posts →</A>
            </p>
          </Suspense>
        </ErrorBoundary>
      </section>
    </div>
  )
}
