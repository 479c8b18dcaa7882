import { Elysia, t } from 'elysia'
import { type AuthDeps, authPlugin, authServiceFor } from '../auth/index.ts'
import { hasRole } from '../auth/service.ts'
import { ok } from '../http/envelope.ts'
import { ForbiddenError } from '../http/errors.ts'
import { publicBodies, rejectRepeatedQuery } from '../lib/conditional.ts'
import { projectsModel } from './model.ts'
import type { ProjectsService, PublicProject } from './service.ts'

export interface ProjectsModuleDeps {
  projects: ProjectsService
  /** The app's deps (the auth plugin and service are keyed by this object). */
  auth: AuthDeps
}

const idParams = t.Object({ id: t.String({ format: 'uuid' }) })

/** module.projects: the runnable projects (public, cached, ETag) and their admin CRUD. */
export function projectsModule({ projects, auth }: ProjectsModuleDeps) {
  const authService = authServiceFor(auth)
  // Public reads answer with bodies prepared once per cached read (api/src/lib/conditional.ts).
  const listBodies = publicBodies(projectsModel['projects.list'], (list: PublicProject[]) => ok(list))
  const pageBodies = publicBodies(projectsModel['projects.page'], (project: PublicProject) => ok(project))
  return new Elysia({ name: 'module.projects', prefix: '/api/v1/projects' })
    .use(authPlugin(auth))
    .model(projectsModel)
    .get(
      '',
      async ({ query, request, set }) => {
        rejectRepeatedQuery(request, ['include'])
        if (query.include !== undefined) {
          const { user } = await authService.authenticate(request.headers.get('authorization'))
          if (!hasRole(user, 'admin')) throw new ForbiddenError('this needs the admin role', 'INSUFFICIENT_ROLE')
          set.headers['cache-control'] = 'no-store'
          return ok(await projects.listAdmin(true))
        }
        return listBodies.respond(request, set, await projects.listPublicRead())
      },
      {
        query: 'projects.adminQuery',
        response: {
          200: t.Union([t.Ref('projects.list'), t.Ref('projects.adminList')]),
          401: 'projects.error',
          403: 'projects.error',
        },
        detail: {
          summary: 'Projects in display order, with the runners available right now (ETag)',
          description: 'With `include=deleted` (admin token required) it lists every project, deleted ones included.',
          tags: ['projects'],
        },
      },
    )
    .get(
      '/:slug',
      async ({ params, request, set }) => {
        return pageBodies.respond(request, set, await projects.getPublicRead(params.slug))
      },
      {
        params: t.Object({ slug: t.String({ maxLength: 100 }) }),
        response: { 200: 'projects.page', 404: 'projects.error' },
        detail: { summary: 'A project by slug, with the runners available right now (ETag)', tags: ['projects'] },
      },
    )
    .get(
      '/by-id/:id',
      async ({ params, set }) => {
        set.headers['cache-control'] = 'no-store'
        return ok(await projects.getAdmin(params.id))
      },
      {
        auth: 'admin',
        params: idParams,
        response: { 200: 'projects.admin', 404: 'projects.error' },
        detail: { summary: 'Any project by id, deleted ones included (admin)', tags: ['projects'] },
      },
    )
    .post(
      '',
      async ({ body, set }) => {
        set.status = 201
        return ok(await projects.create(body))
      },
      {
        auth: 'admin',
        body: 'projects.create',
        response: { 201: 'projects.admin', 400: 'projects.error', 409: 'projects.error' },
        detail: { summary: 'Create a project', tags: ['projects'] },
      },
    )
    .patch('/:id', async ({ params, body }) => ok(await projects.update(params.id, body)), {
      auth: 'admin',
      params: idParams,
      body: 'projects.patch',
      response: { 200: 'projects.admin', 400: 'projects.error', 404: 'projects.error', 409: 'projects.error' },
      detail: { summary: 'Edit a project', tags: ['projects'] },
    })
    .delete('/:id', async ({ params }) => ok(await projects.remove(params.id)), {
      auth: 'admin',
      params: idParams,
      response: { 200: 'projects.admin', 404: 'projects.error' },
      detail: { summary: 'Soft-delete a project (restorable)', tags: ['projects'] },
    })
    .post('/:id/restore', async ({ params }) => ok(await projects.restore(params.id)), {
      auth: 'admin',
      params: idParams,
      response: { 200: 'projects.admin', 404: 'projects.error', 409: 'projects.error' },
      detail: { summary: 'Restore a soft-deleted project', tags: ['projects'] },
    })
}
