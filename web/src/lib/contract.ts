import type { postBySlug, projectById, projectBySlug, v1 } from './api.ts'

/**
 * Named shapes of what the API returns and accepts, for component props and stores. Every shape is
 * derived from the Eden client over `App` (docs/conventions.md rule 3: one source of truth for shapes), so a
 * changed route model changes these types and tsc checks every use.
 */

/** A treaty call's success envelope (`{ data, meta, error }`). */
type Body<T extends Promise<{ data: unknown }>> = NonNullable<Awaited<T>['data']>
/** The `data` of a treaty call's success envelope. */
type Data<T extends Promise<{ data: { data: unknown } | null }>> = NonNullable<Awaited<T>['data']>['data']
/** The body a treaty call takes. */
type Input<F extends (...args: never[]) => unknown> = NonNullable<Parameters<F>[0]>

type ProjectAdmin = ReturnType<typeof projectById>

export type TokenPair = Data<ReturnType<typeof v1.auth.token.post>>

export type Me = Data<ReturnType<typeof v1.auth.me.get>>

/** A published post's page: sanitized HTML rendered by the server on write. */
export type PostPage = Data<ReturnType<ReturnType<typeof postBySlug>['get']>>

/** A post as the admin sees it (drafts, deleted ones, the markdown source). */
export type AdminPost = Data<ReturnType<ReturnType<(typeof v1.posts)['by-id']>['get']>>

/** A published post in the public list (`GET /posts` answers this list, or the admin one). */
export type PostSummary = Exclude<Data<ReturnType<typeof v1.posts.get>>[number], AdminPost>

export type Author = NonNullable<PostSummary['author']>

export type PostInput = Input<typeof v1.posts.post>

/** A project as the public sees it, with the runners that are up and switched on right now. */
export type Project = Data<ReturnType<ReturnType<typeof projectBySlug>['get']>>

/** A project as the admin sees it (no live runner availability, deleted ones too). */
export type AdminProject = Data<ReturnType<ProjectAdmin['patch']>>

/** The changes of a project edit. */
export type ProjectInput = Input<ProjectAdmin['patch']>

export type RunnerKind = Project['runners'][number]

/** What an import answers: the project, the new version and its check build (docs/projects.md). */
export type ProjectImported = Data<ReturnType<typeof v1.projects.import.post>>

/** A version's check build: queued → running → passed | failed, with its log. */
export type ProjectBuild = Data<ReturnType<ReturnType<typeof projectBySlug>['build']['get']>>

/** One imported version of a project, newest first. */
export type ProjectVersion = Data<ReturnType<ReturnType<typeof projectBySlug>['versions']['get']>>[number]

export type Flag = Data<ReturnType<typeof v1.flags.get>>[number]

/** An uploaded file, as the upload answers it. */
export type Media = Data<ReturnType<typeof v1.media.post>>

/** A file in the media library. */
export type MediaItem = Data<ReturnType<typeof v1.media.get>>[number]

export type TerminalSession = Data<ReturnType<typeof v1.terminal.sessions.post>>

export type LiveSession = Data<ReturnType<typeof v1.terminal.sessions.get>>[number]

/** The owner's profile and the site's title and description (`GET /api/v1/site`). */
export type Site = Data<ReturnType<typeof v1.site.get>>

export type SiteInput = Input<typeof v1.site.put>

export type SiteLink = Site['links'][number]

/** A recorded session of a project (the admin picks one as its demo). */
export type Recording = Data<ReturnType<typeof v1.site.recordings.get>>[number]

/** The cursor of a paged list. */
export type PageMeta = Body<ReturnType<typeof v1.posts.get>>['meta']

/** A group of unexpected errors on the admin's Problems page (`GET /api/v1/problems`). */
export type Problem = Data<ReturnType<typeof v1.problems.get>>[number]
