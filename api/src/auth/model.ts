import { t } from 'elysia'
import { envelopeSchema as envelope } from '../http/envelope.ts'
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './users.ts'

const tokenString = t.String({ minLength: 1, maxLength: 4096 })

export const authModels = {
  'auth.login': t.Object({
    email: t.String({ format: 'email', maxLength: 254 }),
    password: t.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH }),
  }),
  'auth.refresh': t.Object({ refreshToken: tokenString }),
  'auth.logout': t.Object({ refreshToken: t.Optional(tokenString) }),
  'auth.password': t.Object({
    currentPassword: t.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH }),
    newPassword: t.String({ minLength: MIN_PASSWORD_LENGTH, maxLength: MAX_PASSWORD_LENGTH }),
  }),
  'auth.tokens': envelope(
    t.Object({
      accessToken: t.String(),
      refreshToken: t.String(),
      tokenType: t.Literal('Bearer'),
      expiresIn: t.Integer({ description: 'access token lifetime in seconds' }),
    }),
  ),
  'auth.me': envelope(
    t.Object({
      id: t.String({ format: 'uuid' }),
      email: t.String(),
      role: t.Union([t.Literal('admin'), t.Literal('editor')]),
      displayName: t.String(),
    }),
  ),
}
