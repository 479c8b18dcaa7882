import { createEffect, createResource, createSignal, on, onCleanup, untrack } from 'solid-js'
import { apiFetch, postById, projectById, projectBySlug, toApiError, unwrap, v1 } from '../../lib/api.ts'
import type {
  AdminPost,
  AdminProject,
  Flag,
  LiveSession,
  Media,
  MediaItem,
  PostInput,
  ProjectBuild,
  ProjectImported,
  ProjectInput,
  ProjectVersion,
  Recording,
  Site,
  SiteInput,
} from '../../lib/contract.ts'
import { ApiError } from '../../lib/errors.ts'

// Reads ------------------------------------------------------------------------------------------

/** Every post (drafts and soft-deleted ones too): the admin view of the posts list. */
export async function fetchAdminPosts(): Promise<AdminPost[]> {
  const env = await unwrap(v1.posts.get({ query: { include: 'deleted', limit: '100' } }))
  // With include=deleted the server answers the admin list.
  return env.data as AdminPost[]
}

/** One post with its markdown source, drafts and deleted ones included. */
export async function fetchAdminPost(id: string): Promise<AdminPost> {
  return (await unwrap(v1.posts['by-id']({ id }).get())).data
}

export async function fetchAdminProjects(): Promise<AdminProject[]> {
  // include=deleted: the admin list (every project, with the admin fields).
  // With include=deleted the server answers the admin list.
  return (await unwrap(v1.projects.get({ query: { include: 'deleted' } }))).data as AdminProject[]
}

export async function fetchMedia(): Promise<MediaItem[]> {
  return (await unwrap(v1.media.get())).data
}

export async function fetchFlags(): Promise<Flag[]> {
  const data = (await unwrap(v1.flags.get())).data
  return Array.isArray(data) ? data : []
}

export async function fetchLiveSessions(): Promise<LiveSession[]> {
  return (await unwrap(v1.terminal.sessions.get())).data
}

/** A project's recorded sessions (to pick its demo). */
export async function fetchRecordings(project: string): Promise<Recording[]> {
  return (await unwrap(v1.site.recordings.get({ query: { project } }))).data
}

/**
 * Markdown rendered by the server exactly as a published post is (same renderer, same sanitizer),
 * so the editor's preview is what the page will show.
 */
export async function renderPreview(markdown: string, signal?: AbortSignal): Promise<string> {
  return (await unwrap(v1.site.preview.post({ markdown }, { fetch: { signal } }))).data.html
}

export const createAdminPosts = () => createResource(fetchAdminPosts)
export const createAdminProjects = () => createResource(fetchAdminProjects)
export const createFlags = () => createResource(fetchFlags)
export const createMediaList = () => createResource(fetchMedia)
export const createLiveSessions = () => createResource(fetchLiveSessions)
export const createRecordings = (project: () => string | undefined) => createResource(project, fetchRecordings)

/**
 * The editor's preview of `markdown`, rendered by the server 300 ms after typing stops. Empty text
 * renders nothing. Read it through `state` ('ready' | 'refreshing') so a first load never suspends
 * the form around it.
 */
export function createPreview(markdown: () => string) {
  const [settled, setSettled] = createSignal(untrack(markdown))
  let timer: ReturnType<typeof setTimeout> | undefined
  createEffect(
    on(
      markdown,
      (text) => {
        clearTimeout(timer)
        timer = setTimeout(() => setSettled(text), 300)
      },
      { defer: true },
    ),
  )
  onCleanup(() => clearTimeout(timer))
  return createResource(settled, (m) => renderPreview(m))
}

// Writes -----------------------------------------------------------------------------------------

export async function createPost(input: PostInput): Promise<AdminPost> {
  return (await unwrap(v1.posts.post(input))).data
}

export async function updatePost(id: string, patch: Partial<PostInput>): Promise<AdminPost> {
  return (await unwrap(postById(id).patch(patch))).data
}

/** Soft-deletes a post; returns it as it is now (with `deletedAt`). */
export async function deletePost(id: string): Promise<AdminPost> {
  return (await unwrap(postById(id).delete())).data
}

export async function restorePost(id: string): Promise<AdminPost> {
  return (await unwrap(postById(id).restore.post())).data
}

export async function saveSite(input: SiteInput): Promise<Site> {
  return (await unwrap(v1.site.put(input))).data
}

export async function updateProject(id: string, patch: ProjectInput): Promise<AdminProject> {
  return (await unwrap(projectById(id).patch(patch))).data
}

/** The latest version's check build of a project (polled while it runs). */
export async function fetchBuild(id: string): Promise<ProjectBuild> {
  return (await unwrap(projectBySlug(id).build.get())).data
}

export async function fetchVersions(id: string): Promise<ProjectVersion[]> {
  return (await unwrap(projectBySlug(id).versions.get())).data
}

/** Rolls back (or forward) to a version whose build passed. */
export async function activateVersion(id: string, versionId: string): Promise<ProjectVersion> {
  return (await unwrap(projectById(id).versions({ versionId }).activate.post())).data
}

/** Soft-deletes a project (off the site at once, restorable); returns it with `deletedAt`. */
export async function deleteProject(id: string): Promise<AdminProject> {
  return (await unwrap(projectById(id).delete())).data
}

export async function restoreProject(id: string): Promise<AdminProject> {
  return (await unwrap(projectById(id).restore.post())).data
}

export async function publishProject(id: string, publish: boolean): Promise<AdminProject> {
  const target = projectById(id)
  return (await unwrap(publish ? target.publish.post() : target.unpublish.post())).data
}

export async function putFlag(
  key: string,
  changes: Partial<Pick<Flag, 'enabled' | 'rolloutPercent' | 'killSwitch' | 'description'>>,
): Promise<Flag> {
  return (await unwrap(v1.flags({ key }).put(changes))).data
}

export async function killSession(id: string): Promise<void> {
  await unwrap(v1.terminal.sessions({ id }).delete())
}

/** An admin's own read-only watch link to any live session (docs/terminal-protocol.md, "Watching"). */
export async function watchSession(id: string): Promise<string> {
  return (await unwrap(v1.terminal.sessions({ id }).watch.admin.post())).data.watchUrl
}

/** Publishes (or withdraws) a recorded session as a public replay at `/replay/:id` (docs/api.md, "Replays"). */
export async function publishReplay(id: string, value: boolean): Promise<void> {
  await unwrap(v1.terminal.sessions({ id }).replay.put({ public: value }))
}

/** The asciicast v2 text of a session (not an envelope: the player parses it). */
export async function fetchRecording(id: string): Promise<string> {
  const res = await apiFetch(`/api/v1/terminal/sessions/${encodeURIComponent(id)}/recording`)
  if (!res.ok) throw toApiError(res.status, await res.json().catch(() => null))
  return res.text()
}

/**
 * Uploads a file with progress. XMLHttpRequest, not the Eden client: fetch has no upload progress
 * events. The bearer token comes from the same auth hooks (refreshed once on a 401).
 */
export function uploadMedia(
  file: File,
  token: () => Promise<string | undefined>,
  refresh: () => Promise<boolean>,
  onProgress: (fraction: number) => void,
): { done: Promise<Media>; abort: () => void } {
  return uploadForm<Media>('/api/v1/media', 'file', file, token, refresh, onProgress)
}

/** Imports a project archive (multipart field `archive`) with upload progress (docs/projects.md). */
export function importProject(
  file: File,
  token: () => Promise<string | undefined>,
  refresh: () => Promise<boolean>,
  onProgress: (fraction: number) => void,
): { done: Promise<ProjectImported>; abort: () => void } {
  return uploadForm<ProjectImported>('/api/v1/projects/import', 'archive', file, token, refresh, onProgress)
}

function uploadForm<T>(
  url: string,
  field: string,
  file: File,
  token: () => Promise<string | undefined>,
  refresh: () => Promise<boolean>,
  onProgress: (fraction: number) => void,
): { done: Promise<T>; abort: () => void } {
  let xhr: XMLHttpRequest | undefined
  const send = (bearer: string | undefined) =>
    new Promise<{ status: number; body: unknown }>((resolve, reject) => {
      xhr = new XMLHttpRequest()
      xhr.open('POST', url)
      if (bearer) xhr.setRequestHeader('authorization', `Bearer ${bearer}`)
      xhr.responseType = 'json'
      xhr.upload.onprogress = (ev) => {
        if (ev.lengthComputable) onProgress(ev.loaded / ev.total)
      }
      xhr.onload = () => resolve({ status: xhr!.status, body: xhr!.response })
      xhr.onerror = () => reject(new ApiError(navigator.onLine ? 'NETWORK' : 'OFFLINE', 'upload failed'))
      xhr.onabort = () => reject(new ApiError('ABORTED', 'upload cancelled'))
      xhr.ontimeout = () => reject(new ApiError('TIMEOUT', 'upload timed out'))
      xhr.timeout = 10 * 60_000
      const form = new FormData()
      form.append(field, file, file.name)
      xhr.send(form)
    })
  const done = (async () => {
    let res = await send(await token())
    if (res.status === 401 && (await refresh())) res = await send(await token())
    if (res.status < 200 || res.status >= 300) throw toApiError(res.status, res.body)
    return (res.body as { data: T }).data
  })()
  return { done, abort: () => xhr?.abort() }
}
