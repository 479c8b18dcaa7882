import { t } from 'elysia'
import { envelopeSchema, errorSchema } from '../http/envelope.ts'

const problem = t.Object({
  id: t.String(),
  code: t.String(),
  route: t.String(),
  frame: t.String(),
  message: t.String(),
  status: t.Union([t.Literal('open'), t.Literal('resolved')]),
  count: t.Integer(),
  firstSeen: t.String(),
  lastSeen: t.String(),
  sampleRequestId: t.Nullable(t.String()),
  sampleTraceId: t.Nullable(t.String()),
  resolvedAt: t.Nullable(t.String()),
})

export const problemsModel = {
  'problems.listQuery': t.Object({
    status: t.Optional(t.Union([t.Literal('open'), t.Literal('resolved'), t.Literal('all')])),
  }),
  'problems.idParams': t.Object({ id: t.String({ format: 'uuid' }) }),
  'problems.list': envelopeSchema(
    t.Array(problem),
    t.Object({
      count: t.Integer(),
      /** Dependencies in an outage right now, as this instance sees them. */
      outages: t.Array(t.Object({ dependency: t.String(), since: t.String(), failures: t.Integer() })),
      /** Groups buffered in memory, not yet written (the database was unavailable). */
      buffered: t.Integer(),
    }),
  ),
  'problems.one': envelopeSchema(problem),
  'problems.error': errorSchema,
}
