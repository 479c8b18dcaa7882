import { describe, expect, test } from 'bun:test'
import { DEFAULT_POLICY } from '../policy.ts'
import { CommandLineTracker, MAX_LINE } from './line-tracker.ts'

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

  test('a refused line is turned into a comment in readline (kept on screen) instead of run, with the policy message', () => {
    const t = atPrompt()
    const r = t.input(enc('curl http://example.com\r'))
    expect(dec(r.forward)).toBe('curl http://example.com\x1b#')
    expect(r.refused).toContain("'curl' is not allowed")
  })

  test('keystrokes typed one by one are assembled, backspace removes a whole UTF-8 character', () => {
    const t = atPrompt()
    for (const ch of ['w', 'g', 'é', '\x7f', '\x7f', 'e', 't']) t.input(enc(ch))
    expect(t.input(enc('\r')).refused).toContain("'wet' is not allowed")
  })

  test('a line longer than MAX_LINE is not kept in memory and is refused on Enter; Ctrl-U starts afresh', () => {
    const t = atPrompt()
    // A paste without Enter, far beyond the bound: the tracker holds at most MAX_LINE of it.
    for (let i = 0; i < 64; i++) t.input(enc(`echo ${'x'.repeat(64 * 1024)}`))
    expect(t.input(enc('\r')).refused).toBe(`a command line is limited to ${MAX_LINE} bytes`)
    t.onPrompt('ps1')
    t.input(enc(`${'y'.repeat(MAX_LINE + 1)}\x15echo fine`))
    expect(t.input(enc('\r')).refused).toBeUndefined()
  })

  test('the shell is never handed more than MAX_LINE bytes of one line: the rest is dropped, control keys still pass', () => {
    const t = atPrompt()
    let handed = 0
    let dropped = 0
    for (let i = 0; i < 8; i++) {
      const r = t.input(enc('a'.repeat(64 * 1024)))
      handed += r.forward.length
      dropped += r.dropped ?? 0
    }
    expect(handed).toBe(MAX_LINE)
    expect(dropped).toBe(8 * 64 * 1024 - MAX_LINE)
    // Ctrl-C and Ctrl-U in a chunk that is otherwise dropped reach the shell, and the line starts afresh.
    const r = t.input(enc('bbbb\x03echo ok'))
    expect(dec(r.forward)).toBe('\x03echo ok')
    expect(r.dropped).toBe(4)
    expect(t.input(enc('\r'))).toEqual({ forward: enc('\r') })
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
    expect(dec(r.forward)).toBe('curl x\x1b#')
  })
})
