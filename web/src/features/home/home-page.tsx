import { A } from '@solidjs/router'
import { createResource, For, Show, Suspense } from 'solid-js'
import { ErrorView } from '../../components/error-view.tsx'
import { Loading } from '../../components/loading.tsx'
import { useTitle } from '../../lib/title.ts'
import { owner } from '../../site.ts'
import { PostItem } from '../blog/post-item.tsx'
import { fetchPostsPage } from '../blog/queries.ts'
import { ProjectCard } from '../projects/project-card.tsx'
import { createProjects } from '../projects/queries.ts'

export default function HomePage() {
  useTitle(() => undefined)
  const [projects, { refetch: refetchProjects }] = createProjects()
  const [posts, { refetch: refetchPosts }] = createResource(() => fetchPostsPage(undefined, 3))
  const featured = () => (projects() ?? []).filter((p) => p.featured)
  return (
    <div class="page">
      <section class="hero" aria-labelledby="who">
        <p class="eyebrow">{owner.role}</p>
        <h1 id="who">Hi, I'm {owner.name}.</h1>
        <p class="lead">{owner.intro}</p>
        <p>
          <A href="/projects" class="button primary">
            Run a project
          </A>{' '}
          <A href="/architecture" class="button">
            How it works
          </A>
        </p>
      </section>

      <section aria-labelledby="featured">
        <h2 id="featured">Featured projects</h2>
        <Suspense fallback={<Loading label="Loading projects…" />}>
          <Show
            when={!projects.error}
            fallback={<ErrorView error={projects.error} retry={() => void refetchProjects()} />}
          >
            <div class="grid">
              <For each={featured()} fallback={<p class="muted">No featured projects yet.</p>}>
                {(p) => <ProjectCard project={p} headingLevel={3} />}
              </For>
            </div>
          </Show>
        </Suspense>
      </section>

      <section aria-labelledby="recent">
        <h2 id="recent">Recent posts</h2>
        <Suspense fallback={<Loading label="Loading posts…" />}>
          <Show when={!posts.error} fallback={<ErrorView error={posts.error} retry={() => void refetchPosts()} />}>
            <For each={posts()?.items} fallback={<p class="muted">Nothing published yet.</p>}>
              {(p) => <PostItem post={p} headingLevel={3} />}
            </For>
            <p>
              <A href="/blog">All posts →</A>
            </p>
          </Show>
        </Suspense>
      </section>
    </div>
  )
}
