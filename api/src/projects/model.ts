import { PROJECT_RUNTIMES, RUNNER_KINDS } from '@shellfolio/runner'
import { t } from 'elysia'
import { envelopeSchema, errorSchema } from '../http/envelope.ts'
import { literalUnion } from '../http/literal-union.ts'

const runner = literalUnion(RUNNER_KINDS)
const runtime = literalUnion(PROJECT_RUNTIMES)

const projectView = {
  id: t.String({ format: 'uuid' }),
  slug: t.String(),
  title: t.String(),
  summary: t.String(),
  description: t.String(),
  stack: t.Array(t.String()),
  repoUrl: t.Nullable(t.String()),
  sourcePath: t.String({ description: 'folder under wasm-projects/' }),
  binary: t.String(),
  runners: t.Array(runner),
  commands: t.Array(t.String()),
  policy: t.Object({ allow: t.Array(t.String()) }),
  featured: t.Boolean(),
  order: t.Integer(),
  previewImage: t.Nullable(
    t.Object({ id: t.String(), url: t.String() }, { description: 'an image from the media library' }),
  ),
  demo: t.Nullable(
    t.Object(
      { sessionId: t.String(), url: t.String({ description: 'the asciicast v2 recording, public' }) },
      { description: "one of the project's recorded sessions, played on its page" },
    ),
  ),
  runtime: runtime,
  build: t.String({ description: "the command that prepares the project ('' when none)" }),
  updatedAt: t.String(),
}

export const publicProject = t.Object({
  ...projectView,
  availableRunners: t.Array(runner, {
    description: "the project's runners that are up and switched on right now",
  }),
})

export const adminProject = t.Object({
  ...projectView,
  status: t.Union([t.Literal('draft'), t.Literal('published')], {
    description: 'a draft is not listed and not runnable by visitors',
  }),
  currentVersionId: t.Nullable(t.String({ description: 'the imported version visitors get' })),
  createdAt: t.String(),
  deletedAt: t.Nullable(t.String()),
})

const inputFields = {
  slug: t.String({ pattern: '^[a-z0-9]+(?:-[a-z0-9]+)*$', maxLength: 100 }),
  title: t.String({ minLength: 1, maxLength: 200 }),
  summary: t.Optional(t.String({ maxLength: 500 })),
  description: t.Optional(t.String({ maxLength: 20_000 })),
  stack: t.Optional(t.Array(t.String({ minLength: 1, maxLength: 40 }), { maxItems: 30 })),
  repoUrl: t.Optional(t.Nullable(t.String({ pattern: '^https?://[^\\s]+$', maxLength: 500 }))),
  sourcePath: t.String({
    pattern: '^[a-z0-9][a-z0-9_-]*$',
    maxLength: 100,
    description: 'a folder directly under wasm-projects/',
  }),
  binary: t.Optional(t.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', maxLength: 100 })),
  runners: t.Optional(t.Array(runner, { maxItems: 2, uniqueItems: true })),
  commands: t.Optional(t.Array(t.String({ minLength: 1, maxLength: 200 }), { maxItems: 50 })),
  policy: t.Optional(
    t.Object(
      { allow: t.Array(t.String({ minLength: 1, maxLength: 64 }), { maxItems: 100 }) },
      { additionalProperties: false },
    ),
  ),
  runtime: t.Optional(runtime),
  build: t.Optional(t.String({ maxLength: 500, pattern: '^[^\\x00-\\x1f\\x7f]*$' })),
  featured: t.Optional(t.Boolean()),
  order: t.Optional(t.Integer({ minimum: -10_000, maximum: 10_000 })),
  previewMediaId: t.Optional(t.Nullable(t.String({ format: 'uuid', description: 'an image in the media library' }))),
  demoSessionId: t.Optional(
    t.Nullable(t.String({ format: 'uuid', description: 'a recorded terminal session of this project' })),
  ),
}

const buildView = t.Object({
  versionId: t.String(),
  version: t.Integer(),
  status: t.Union([t.Literal('queued'), t.Literal('running'), t.Literal('passed'), t.Literal('failed')]),
  runner: t.Nullable(runner),
  log: t.String({ description: 'terminal output of the check build, escape sequences removed' }),
  startedAt: t.Nullable(t.String()),
  finishedAt: t.Nullable(t.String()),
})

const versionView = t.Object({
  id: t.String(),
  number: t.Integer(),
  slug: t.String(),
  title: t.String(),
  runtime: runtime,
  files: t.Integer(),
  totalBytes: t.Integer(),
  current: t.Boolean({ description: 'the version visitors get' }),
  build: buildView,
  createdAt: t.String(),
})

export const projectsModel = {
  'projects.import': t.Object({
    archive: t.File({ description: '.tar.gz, .tgz, .tar or .zip with project.json at its root' }),
    projectId: t.Optional(t.String({ format: 'uuid', description: 'import as a new version of this project' })),
  }),
  'projects.imported': envelopeSchema(t.Object({ project: adminProject, version: versionView, build: buildView })),
  'projects.build': envelopeSchema(buildView),
  'projects.versions': envelopeSchema(t.Array(versionView)),
  'projects.version': envelopeSchema(versionView),

  'projects.create': t.Object(inputFields, { additionalProperties: false }),
  'projects.patch': t.Partial(t.Object(inputFields), { additionalProperties: false, minProperties: 1 }),
  'projects.adminQuery': t.Object({ include: t.Optional(t.Literal('deleted')) }),
  'projects.list': envelopeSchema(t.Array(publicProject)),
  'projects.page': envelopeSchema(publicProject),
  'projects.adminList': envelopeSchema(t.Array(adminProject)),
  'projects.admin': envelopeSchema(adminProject),
  'projects.error': errorSchema,
}
