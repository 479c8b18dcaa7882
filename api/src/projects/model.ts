import { RUNNER_KINDS } from '@shellfolio/runner'
import { t } from 'elysia'
import { envelopeSchema, errorSchema } from '../http/envelope.ts'
import { literalUnion } from '../http/literal-union.ts'

const runner = literalUnion(RUNNER_KINDS)

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
  featured: t.Optional(t.Boolean()),
  order: t.Optional(t.Integer({ minimum: -10_000, maximum: 10_000 })),
  previewMediaId: t.Optional(t.Nullable(t.String({ format: 'uuid', description: 'an image in the media library' }))),
  demoSessionId: t.Optional(
    t.Nullable(t.String({ format: 'uuid', description: 'a recorded terminal session of this project' })),
  ),
}

export const projectsModel = {
  'projects.create': t.Object(inputFields, { additionalProperties: false }),
  'projects.patch': t.Partial(t.Object(inputFields), { additionalProperties: false, minProperties: 1 }),
  'projects.adminQuery': t.Object({ include: t.Optional(t.Literal('deleted')) }),
  'projects.list': envelopeSchema(t.Array(publicProject)),
  'projects.page': envelopeSchema(publicProject),
  'projects.adminList': envelopeSchema(t.Array(adminProject)),
  'projects.admin': envelopeSchema(adminProject),
  'projects.error': errorSchema,
}
