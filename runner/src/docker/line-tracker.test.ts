import { describe, expect, test } from 'bun:test'
import { DEFAULT_POLICY } from '../policy.ts'
import { CommandLineTracker } from './line-tracker.ts'

const enc = (s: string) => new TextEncoder().encode(s)
const dec = (b: Uint8Array) => new TextDecoder().decode(b)

function atPrompt(): CommandLineTracker {
  const t = new CommandLineTracker(DEFAULT_POLICY)
  t.onPrompt('ps1')
  return t
}

describe('CommandLineTracker', () => {
  test('an allowed line passes through unchanged', () => {
    const t = atPrompt()
    expect(t.input(enc('cd projects/minirt && make\r'))).toEqual({ forward: enc('cd projects/minirt && make\r') })
    expect(t.atPrompt).toBe(false)
  })

  test('a refused line is cleared in readline instead of submitted, with the policy message', () => {
    const t = atPrompt()
    const r = t.input(enc('curl http://example.com\r'))
    expect(dec(r.forward)).toBe('curl http://example.com\x05\x15\r')
    expect(r.refused).toContain("'curl' is not allowed")
  })

  test('keystrokes typed one by one are assembled, backspace removes a whole UTF-8 character', () => {
    const t = atPrompt()
    for (const ch of ['w', 'g', 'é', '\x7f', '\x7f', 'e', 't']) t.input(enc(ch))
    expect(t.input(enc('\r')).refused).toContain("'wet' is not allowed")
  })

  test('Ctrl-U and Ctrl-C start the line again', () => {
    const t = atPrompt()
    t.input(enc('rm -rf x\x15echo ok'))
    expect(t.input(enc('\r')).refused).toBeUndefined()
    t.onPrompt('ps1')
    t.input(enc('curl x\x03'))
    t.onPrompt('ps1')
    expect(t.input(enc('ls\r')).refused).toBeUndefined()
  })

  test('after an escape sequence (history, arrows) or Tab the line is unknown and allowed', () => {
    const t = atPrompt()
    expect(t.input(enc('\x1b[Acurl x\r')).refused).toBeUndefined()
    t.onPrompt('ps1')
    expect(t.input(enc('cur\tx\r')).refused).toBeUndefined()
    t.onPrompt('ps1')
    expect(t.input(enc('curl x\r')).refused).toContain('not allowed')
  })

  test('input to a running program is not checked', () => {
    const t = atPrompt()
    t.input(enc('./calc\r'))
    expect(t.input(enc('2+3\r'))).toEqual({ forward: enc('2+3\r') })
    expect(t.input(enc('quit now\r')).refused).toBeUndefined()
  })

  test('a continuation line is checked together with the lines before it', () => {
    const t = atPrompt()
    expect(t.input(enc('echo "\r')).refused).toBeUndefined()
    t.onPrompt('ps2')
    const r = t.input(enc('"; curl x\r'))
    expect(r.refused).toContain("'curl' is not allowed")
    expect(dec(r.forward)).toBe('"; curl x\x03')
  })

  test('the rest of a pasted batch after a refused line is dropped', () => {
    const t = atPrompt()
    const r = t.input(enc('curl x\rls\r'))
    expect(dec(r.forward)).toBe('curl x\x05\x15\r')
  })
})
