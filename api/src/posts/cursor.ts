import { createHmac, timingSafeEqual } from 'node:crypto'
import { BadRequestError } from '../http/errors.ts'

/** The keyset position after the last row of a page. */
export interface CursorPosition {
  /** The sort column of the last row as PostgreSQL prints a timestamptz (full microsecond precision). */
  at: string
  id: string
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:?\d{2})?|Z)$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export class InvalidCursorError extends BadRequestError {
  constructor() {
    super('the cursor is invalid or belongs to another listing; start again without it', undefined, 'INVALID_CURSOR')
  }
}

/**
 * Opaque, signed pagination cursors: base64url(JSON) + '.' + HMAC-SHA256. The key is derived from
 * the JWT secret with a purpose label, so a cursor can never be replayed as anything else, and the
 * signed `scope` ties it to one listing (public, or an admin filter).
 */
export function createCursorCodec(secret: string) {
  const key = createHmac('sha256', secret).update('shellfolio/posts-cursor/v1').digest()
  const sign = (payload: string) => createHmac('sha256', key).update(payload).digest()
  return {
    encode(scope: string, position: CursorPosition): string {
      const payload = Buffer.from(JSON.stringify({ s: scope, a: position.at, i: position.id })).toString('base64url')
      return `${payload}.${sign(payload).toString('base64url')}`
    },
    /** Throws InvalidCursorError (400) for anything tampered, malformed or from another scope. */
    decode(scope: string, cursor: string): CursorPosition {
      const [payload, mac, extra] = cursor.split('.')
      if (!payload || !mac || extra !== undefined || cursor.length > 512) throw new InvalidCursorError()
      const expected = sign(payload)
      const given = Buffer.from(mac, 'base64url')
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new InvalidCursorError()
      let parsed: { s?: unknown; a?: unknown; i?: unknown }
      try {
        parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
      } catch {
        throw new InvalidCursorError()
      }
      if (
        parsed.s !== scope ||
        typeof parsed.a !== 'string' ||
        !TIMESTAMP.test(parsed.a) ||
        typeof parsed.i !== 'string' ||
        !UUID.test(parsed.i)
      ) {
        throw new InvalidCursorError()
      }
      return { at: parsed.a, id: parsed.i }
    },
  }
}

export type CursorCodec = ReturnType<typeof createCursorCodec>
