import pino from 'pino'

export type Logger = pino.Logger

/** Structured JSON logs to stdout. Secrets are redacted wherever they might appear. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'password',
          '*.password',
          'currentPassword',
          '*.currentPassword',
          'newPassword',
          '*.newPassword',
          'refreshToken',
          '*.refreshToken',
          'accessToken',
          '*.accessToken',
          'ticket',
          '*.ticket',
          'headers.authorization',
          'headers.cookie',
          '*.secret',
        ],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination(1),
  )
}
