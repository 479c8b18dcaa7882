/**
 * Named shapes of what the API returns, for component props and stores. Calls are typed by Eden
 * from `App`; these names must stay assignable from those inferred types (tsc checks every use).
 */

export type RunnerKind = 'wasi' | 'docker'

export interface TokenPair {
  accessToken: string
  refreshToken: string
  tokenType: string
  expiresIn: number
}

export interface Me {
  id: string
  email: string
  displayName?: string
  role: string
}

export interface Author {
  id: string
  name: string
}

/** A published post in the public list. */
export interface PostSummary {
  id: string
  slug: string
  title: string
  summary: string
  tags: string[]
  publishedAt: string
  author: Author | null
}

/** A published post's page: sanitized HTML rendered by the server on write. */
export interface PostPage extends PostSummary {
  html: string
  updatedAt: string
}

/** A post as the admin sees it (drafts, deleted ones, the markdown source). */
export interface AdminPost {
  id: string
  slug: string
  title: string
  summary: string
  markdown: string
  html: string
  tags: string[]
  status: 'draft' | 'published'
  publishedAt: string | null
  author: Author | null
  createdAt: string
  updatedAt: string
  deletedAt: string | null
}

export interface PostInput {
  slug: string
  title: string
  summary?: string
  markdown: string
  tags?: string[]
  status?: 'draft' | 'published'
}

export interface Project {
  id: string
  slug: string
  title: string
  summary: string
  description: string
  stack: string[]
  repoUrl: string | null
  sourcePath: string
  binary: string
  runners: RunnerKind[]
  /** Runners that are up and switched on right now (public view). */
  availableRunners: RunnerKind[]
  commands: string[]
  policy: { allow: string[] }
  featured: boolean
  order: number
  updatedAt: string
}

/** A project as the admin sees it (no live runner availability, deleted ones too). */
export type AdminProject = Omit<Project, 'availableRunners'> & { createdAt: string; deletedAt: string | null }

export type ProjectInput = Partial<
  Pick<
    Project,
    'title' | 'summary' | 'description' | 'stack' | 'repoUrl' | 'runners' | 'commands' | 'featured' | 'order'
  >
>

export interface Flag {
  key: string
  environment: string
  description: string
  enabled: boolean
  rolloutPercent: number
  killSwitch: boolean
  defaultValue: boolean
  updatedAt: string
  updatedBy: string | null
}

export interface Media {
  id: string
  url: string
  contentType: string
  size: number
  originalName?: string
}

export interface MediaItem extends Media {
  originalName: string
  sha256: string
  createdAt: string
}

export interface TerminalSession {
  sessionId: string
  ticket: string
  runner: RunnerKind
  expiresAt: string
}

export interface LiveSession {
  id: string
  project: string
  runner: string
  ip: string
  instance: string
  status: string
  startedAt: string
  expiresAt: string
}

export interface PageMeta {
  nextCursor: string | null
}
