import { makeBundle } from '@shellfolio/runner/remote/bundle'
import { Elysia, t } from 'elysia'
import { type AuthDeps, authPlugin, authServiceFor } from '../auth/index.ts'
import { hasRole } from '../auth/service.ts'
import { ok } from '../http/envelope.ts'
import { ForbiddenError, NotFoundError } from '../http/errors.ts'
import { publicBodies, rejectRepeatedQuery } from '../lib/conditional.ts'
import { matchesEtag } from '../lib/read-cache.ts'
import { terminalProjects } from '../terminal/projects.ts'
import type { ProjectImports } from './import.ts'
import { projectsModel } from './model.ts'
import type { ProjectsService, PublicProject } from './service.ts'

export interface ProjectsModuleDeps {
  projects: ProjectsService
  /** Imports, versions, check builds and publishing (docs/projects.md). */
  imports: ProjectImports
  /** The app's deps (the auth plugin and service are keyed by this object). */
  auth: AuthDeps
}

const idParams = t.Object({ id: t.String({ format: 'uuid' }) })
/**
 * why: GET /:slug holds that path position, and the router wants one parameter name per position,
 * so the GET routes below name the project's id `slug` (it is validated as a uuid).
 */
const idAsSlugParams = t.Object({ slug: t.String({ format: 'uuid', description: "the project's id" }) })

/** module.projects: the runnable projects (public, cached, ETag) and their admin CRUD. */
export function projectsModule({ projects, imports, auth }: ProjectsModuleDeps) {
  const authService = authServiceFor(auth)
  const resolveFiles = terminalProjects(projects, imports)
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
      '/:slug/files',
      async ({ params, request }) => {
        // The browser runner's project files (docs/runners.md, "The browser runner"): the same
        // folder a WASI session starts from, as one tar; only for projects that run on WASI.
        const project = await resolveFiles(params.slug)
        if (!project || !project.runners.includes('wasi'))
          throw new NotFoundError(`no project ${params.slug} runs in the browser`, 'PROJECT_NOT_FOUND')
        const { ref, body } = await makeBundle(project.sourceDir)
        const etag = `"${ref.sha256}"`
        const headers: Record<string, string> = {
          etag,
          'content-type': 'application/x-tar',
          'cache-control': 'public, max-age=0, must-revalidate',
          'cross-origin-resource-policy': 'same-origin',
        }
        if (matchesEtag(request.headers.get('if-none-match'), etag)) return new Response(null, { status: 304, headers })
        return new Response(body as Uint8Array<ArrayBuffer>, { headers })
      },
      {
        params: t.Object({ slug: t.String({ maxLength: 100 }) }),
        detail: {
          summary: "A WASI project's files as one tar, for the browser runner (ETag)",
          tags: ['projects'],
        },
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
    .post(
      '/import',
      async ({ body, user, set }) => {
        const result = await imports.importArchive({
          archive: body.archive,
          ...(body.projectId ? { projectId: body.projectId } : {}),
          userId: user.id,
        })
        set.status = 201
        return ok({ project: await projects.getAdmin(result.projectId), version: result.version, build: result.build })
      },
      {
        auth: 'admin',
        body: 'projects.import',
        type: 'multipart/form-data',
        response: {
          201: 'projects.imported',
          400: 'projects.error',
          404: 'projects.error',
          409: 'projects.error',
          413: 'projects.error',
        },
        detail: {
          summary:
            'Import a project from an archive (multipart field `archive`): a draft, or a new version of the same slug',
          description:
            'Answers once the files are stored; the check build runs afterwards (GET /:id/build). See docs/projects.md.',
          tags: ['projects'],
        },
      },
    )
    .get(
      '/:slug/build',
      async ({ params, set }) => {
        set.headers['cache-control'] = 'no-store'
        return ok(await imports.build(params.slug))
      },
      {
        auth: 'admin',
        params: idAsSlugParams,
        response: { 200: 'projects.build', 404: 'projects.error' },
        detail: { summary: "The latest version's check build: status, runner, log (admin)", tags: ['projects'] },
      },
    )
    .get(
      '/:slug/versions',
      async ({ params, set }) => {
        set.headers['cache-control'] = 'no-store'
        return ok(await imports.versions(params.slug))
      },
      {
        auth: 'admin',
        params: idAsSlugParams,
        response: { 200: 'projects.versions', 404: 'projects.error' },
        detail: { summary: 'Every imported version, newest first, with its build (admin)', tags: ['projects'] },
      },
    )
    .post(
      '/:id/versions/:versionId/activate',
      async ({ params }) => ok(await imports.activate(params.id, params.versionId)),
      {
        auth: 'admin',
        params: t.Object({ id: t.String({ format: 'uuid' }), versionId: t.String({ format: 'uuid' }) }),
        response: { 200: 'projects.version', 404: 'projects.error', 409: 'projects.error' },
        detail: { summary: 'Roll back (or forward) to a version whose build passed', tags: ['projects'] },
      },
    )
    .post(
      '/:id/publish',
      async ({ params }) => {
        await imports.publish(params.id)
        return ok(await projects.getAdmin(params.id))
      },
      {
        auth: 'admin',
        params: idParams,
        response: { 200: 'projects.admin', 404: 'projects.error', 409: 'projects.error' },
        detail: {
          summary: 'List the project and open it to visitors (refused until a build passed)',
          tags: ['projects'],
        },
      },
    )
    .post(
      '/:id/unpublish',
      async ({ params }) => {
        await imports.unpublish(params.id)
        return ok(await projects.getAdmin(params.id))
      },
      {
        auth: 'admin',
        params: idParams,
        response: { 200: 'projects.admin', 404: 'projects.error' },
        detail: { summary: 'Back to draft: unlisted, no new visitor sessions', tags: ['projects'] },
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
