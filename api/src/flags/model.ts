import { t } from 'elysia'
import { envelopeSchema, errorSchema } from '../http/envelope.ts'

export const FLAG_KEY_PATTERN = '^[a-z][a-z0-9_-]*(?:\\.[a-z0-9_-]+)*$'

const settings = {
  description: t.String({ maxLength: 500 }),
  enabled: t.Boolean(),
  rolloutPercent: t.Integer({ minimum: 0, maximum: 100, description: 'share of subjects that see it on' }),
  killSwitch: t.Boolean({ description: 'forces the flag off, whatever else says' }),
  defaultValue: t.Boolean({ description: 'answer when the flag cannot be evaluated' }),
}

const flag = t.Object({
  key: t.String(),
  environment: t.String(),
  ...settings,
  updatedAt: t.String(),
  updatedBy: t.Nullable(t.String()),
})

const settingsObject = t.Object(settings)

const auditEntry = t.Object({
  id: t.String(),
  key: t.String(),
  environment: t.String(),
  actorId: t.Nullable(t.String()),
  before: t.Nullable(settingsObject),
  after: settingsObject,
  createdAt: t.String(),
})

export const flagsModel = {
  'flags.put': t.Partial(t.Object(settings), { additionalProperties: false, minProperties: 1 }),
  'flags.keyParams': t.Object({ key: t.String({ pattern: FLAG_KEY_PATTERN, maxLength: 100 }) }),
  'flags.evaluatedQuery': t.Object({ subject: t.Optional(t.String({ maxLength: 200 })) }),
  'flags.list': envelopeSchema(t.Array(flag)),
  'flags.one': envelopeSchema(flag),
  'flags.audit': envelopeSchema(t.Array(auditEntry)),
  'flags.evaluated': envelopeSchema(t.Record(t.String(), t.Boolean())),
  'flags.error': errorSchema,
}
