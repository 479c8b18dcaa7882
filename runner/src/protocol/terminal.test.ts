import { describe, expect, test } from 'bun:test'
import { CLOSE, isFinalClose, parseClientMessage, parseServerMessage } from './terminal.ts'

describe('terminal protocol: client frames (what the API accepts)', () => {
  test('known control messages come back typed, unknown fields dropped', () => {
    expect(parseClientMessage({ type: 'resize', cols: 120, rows: 40, extra: 1 })).toEqual({
      type: 'resize',
      cols: 120,
      rows: 40,
    })
    expect(parseClientMessage({ type: 'ack', bytes: 65536 })).toEqual({ type: 'ack', bytes: 65536 })
    expect(parseClientMessage({ type: 'ping' })).toEqual({ type: 'ping' })
  })

  test('anything else is an error message that says what is expected', () => {
    expect(parseClientMessage(42)).toBe(
      'text frames must be JSON control messages like {"type":"resize","cols":80,"rows":24}',
    )
    expect(parseClientMessage('{"type":')).toBe(
      'text frames must be JSON control messages like {"type":"resize","cols":80,"rows":24}',
    )
    expect(parseClientMessage({ type: 'resize', cols: 0, rows: 24 })).toBe(
      'resize needs whole numbers cols and rows from 1 to 1000',
    )
    expect(parseClientMessage({ type: 'resize', cols: 1001, rows: 24 })).toBe(
      'resize needs whole numbers cols and rows from 1 to 1000',
    )
    expect(parseClientMessage({ type: 'ack', bytes: -1 })).toBe('ack needs a non-negative whole number of bytes')
    expect(parseClientMessage({ type: 'launch-missiles' })).toBe(
      'unknown control message type "launch-missiles"; expected resize, ack or ping',
    )
  })
})

describe('terminal protocol: server frames (what the web client reads)', () => {
  test('each message kind is read back whole', () => {
    const ready = {
      type: 'ready',
      sessionId: 'f0e1',
      runner: 'wasi',
      expiresAt: '2030-01-01T00:00:00.000Z',
      resumeToken: 'tok',
    }
    expect(parseServerMessage(JSON.stringify(ready))).toEqual(ready as never)
    expect(parseServerMessage('{"type":"exit","code":3,"reason":"exit"}')).toEqual({
      type: 'exit',
      code: 3,
      reason: 'exit',
    })
    expect(
      parseServerMessage('{"type":"exit","code":null,"reason":"error","message":"runner service stopped"}'),
    ).toEqual({ type: 'exit', code: null, reason: 'error', message: 'runner service stopped' })
    expect(parseServerMessage('{"type":"error","code":"SESSION_GONE","message":"gone"}')).toEqual({
      type: 'error',
      code: 'SESSION_GONE',
      message: 'gone',
    })
    expect(parseServerMessage('{"type":"notice","message":"soon"}')).toEqual({ type: 'notice', message: 'soon' })
    expect(parseServerMessage('{"type":"pong"}')).toEqual({ type: 'pong' })
    expect(parseServerMessage('{"type":"watchers","count":2}')).toEqual({ type: 'watchers', count: 2 })
    expect(parseServerMessage('{"type":"size","cols":100,"rows":30}')).toEqual({ type: 'size', cols: 100, rows: 30 })
    const watching = { type: 'watching', sessionId: 's', project: 'calc', cols: 80, rows: 24 }
    expect(parseServerMessage(JSON.stringify(watching))).toEqual(watching as never)
  })

  test('malformed or unknown frames are ignored (undefined), never thrown', () => {
    for (const text of [
      '',
      'not json',
      '[]',
      'null',
      '{"type":"ready","sessionId":"x","runner":"vm","expiresAt":"t","resumeToken":"r"}',
      '{"type":"ready","sessionId":"x","runner":"wasi","expiresAt":"t"}',
      '{"type":"exit","code":"3","reason":"exit"}',
      '{"type":"error","code":"X"}',
      '{"type":"notice"}',
      '{"type":"launch"}',
      '{"type":"watchers","count":-1}',
      '{"type":"size","cols":0,"rows":24}',
      '{"type":"watching","sessionId":"s","project":"calc","cols":80}',
    ]) {
      expect(parseServerMessage(text)).toBeUndefined()
    }
  })
})

test('close codes: 4000–4499 are final (no automatic reconnect), the rest are not', () => {
  expect(isFinalClose(CLOSE.replaced)).toBe(true)
  expect(isFinalClose(CLOSE.gone)).toBe(true)
  expect(isFinalClose(CLOSE.normal)).toBe(false)
  expect(isFinalClose(CLOSE.unavailable)).toBe(false)
  expect(isFinalClose(3000)).toBe(false)
})
