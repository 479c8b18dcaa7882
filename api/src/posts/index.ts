import { Elysia, t } from 'elysia'
import { type AuthDeps, authPlugin, authServiceFor } from '../auth/index.ts'
import { hasRole } from '../auth/service.ts'
import { ok } from '../http/envelope.ts'
import { ForbiddenError } from '../http/errors.ts'
import { publicBodies, rejectRepeatedQuery } from '../lib/conditional.ts'
import type { CachedRead } from '../lib/read-cache.ts'
import { postsModel } from './model.ts'
import { type Page, PostNotFoundError, type PostPage, type PostSummary, type PostsService } from './service.ts'

const DEFAULT_LIMIT = 20
const QUERY_NAMES = ['limit', 'cursor', 'status', 'include', 'tag'] as const

export interface PostsModuleDeps {
  posts: PostsService
  /** The app's deps (the auth plugin and service are keyed by this object). */
  auth: AuthDeps
}

const idParams = t.Object({ id: t.String({ format: 'uuid' }) })

/** module.posts: the public blog (cached, ETag) and the admin CRUD with soft deletes. */
export function postsModule({ posts, auth }: PostsModuleDeps) {
  const authService = authServiceFor(auth)
  // Public reads answer with bodies prepared once per cached read (api/src/lib/conditional.ts).
  const listBodies = publicBodies(postsModel['posts.list'], (page: Page<PostSummary>) =>
    ok(page.items, { nextCursor: page.nextCursor }),
  )
  const pageBodies = publicBodies(postsModel['posts.page'], (page: PostPage) => ok(page))
  return new Elysia({ name: 'module.posts', prefix: '/api/v1/posts' })
    .use(authPlugin(auth))
    .model(postsModel)
    .get(
      '',
      async ({ query, request, set }) => {
        rejectRepeatedQuery(request, QUERY_NAMES)
        const limit = query.limit ? Number(query.limit) : DEFAULT_LIMIT
        if (query.status !== undefined || query.include !== undefined) {
          // The admin view of the same list: drafts and deleted posts need an admin token.
          const { user } = await authService.authenticate(request.headers.get('authorization'))
          if (!hasRole(user, 'admin')) throw new ForbiddenError('this needs the admin role', 'INSUFFICIENT_ROLE')
          set.headers['cache-control'] = 'no-store'
          const page = await posts.listAdmin({
            limit,
            cursor: query.cursor,
            status: query.status,
            includeDeleted: query.include === 'deleted',
          })
          return ok(page.items, { nextCursor: page.nextCursor })
        }
        const read = await posts.listPublic(limit, query.cursor, query.tag)
        return listBodies.respond(request, set, read)
      },
      {
        query: 'posts.listQuery',
        response: {
          // why: the first schema that fits shapes the response, so the richer admin shape goes first
          200: t.Union([t.Ref('posts.adminList'), t.Ref('posts.list')]),
          400: 'posts.error',
          401: 'posts.error',
          403: 'posts.error',
        },
        detail: {
          summary: 'Published posts, newest first (cursor pagination, ETag)',
          description:
            'With `status` or `include=deleted` (admin token required) it lists every post, drafts and deleted ones included, newest created first.',
          tags: ['posts'],
        },
      },
    )
    .get(
      '/by-id/:id',
      async ({ params, set }) => {
        set.headers['cache-control'] = 'no-store'
        return ok(await posts.getAdmin(params.id))
      },
      {
        auth: 'admin',
        params: idParams,
        response: { 200: 'posts.admin', 404: 'posts.error' },
        detail: { summary: 'Any post by id, drafts and deleted ones included (admin)', tags: ['posts'] },
      },
    )
    .post(
      '',
      async ({ body, user, set }) => {
        set.status = 201
        return ok(await posts.create(body, user.id))
      },
      {
        auth: 'admin',
        body: 'posts.create',
        response: { 201: 'posts.admin', 400: 'posts.error', 409: 'posts.error' },
        detail: { summary: 'Create a post (markdown rendered and sanitized on write)', tags: ['posts'] },
      },
    )
    .patch('/:id', async ({ params, body }) => ok(await posts.update(params.id, body)), {
      auth: 'admin',
      params: idParams,
      body: 'posts.patch',
      response: { 200: 'posts.admin', 400: 'posts.error', 404: 'posts.error', 409: 'posts.error' },
      detail: { summary: 'Edit a post', tags: ['posts'] },
    })
    .delete('/:id', async ({ params }) => ok(await posts.remove(params.id)), {
      auth: 'admin',
      params: idParams,
      response: { 200: 'posts.admin', 404: 'posts.error' },
      detail: { summary: 'Soft-delete a post (restorable)', tags: ['posts'] },
    })
    .post('/:id/restore', async ({ params }) => ok(await posts.restore(params.id)), {
      auth: 'admin',
      params: idParams,
      response: { 200: 'posts.admin', 404: 'posts.error', 409: 'posts.error' },
      detail: { summary: 'Restore a soft-deleted post', tags: ['posts'] },
    })
    .get(
      '/:slug',
      async ({ params, request, set }) => {
        const read = await posts.getPublic(params.slug)
        if (read.value === null) throw new PostNotFoundError()
        return pageBodies.respond(request, set, read as CachedRead<PostPage>)
      },
      {
        params: t.Object({ slug: t.String({ maxLength: 100 }) }),
        response: { 200: 'posts.page', 404: 'posts.error' },
        detail: { summary: 'A published post by slug (ETag)', tags: ['posts'] },
      },
    )
}
