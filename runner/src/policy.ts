import type { CommandPolicy } from './types.ts'

/** The default allowlist (docs/runners.md): safe file viewing, building and running project programs. */
export const DEFAULT_POLICY: CommandPolicy = {
  allow: ['ls', 'cd', 'cat', 'pwd', 'echo', 'clear', 'help', 'make', 'gcc', 'cc', './*', 'exit', 'history', 'stty'],
}

export type PolicyVerdict = { ok: true } | { ok: false; command: string; message: string }

/** Splits a shell line into simple commands on `;`, `&&`, `||` and `|` (quotes respected). */
export function splitCommands(line: string): string[] {
  const parts: string[] = []
  let current = ''
  let quote: '"' | "'" | null = null
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string
    if (quote) {
      if (ch === quote) quote = null
      current += ch
      continue
    }
    if (ch === '"' || ch === "'") {
      quote = ch
      current += ch
      continue
    }
    const two = line.slice(i, i + 2)
    if (two === '&&' || two === '||') {
      parts.push(current)
      current = ''
      i++
      continue
    }
    if (ch === ';' || ch === '|' || ch === '&') {
      parts.push(current)
      current = ''
      continue
    }
    current += ch
  }
  parts.push(current)
  return parts.map((p) => p.trim()).filter((p) => p.length > 0)
}

function matches(pattern: string, word: string): boolean {
  if (pattern === '*') return true // a project that opts out of the allowlist entirely
  if (!pattern.includes('*')) return pattern === word
  const re = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('[^\\s/]*')}$`)
  return re.test(word)
}

function escapeRegExp(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')
}

/**
 * Checks every simple command of a submitted line against the allowlist (first word of each).
 * Subshells, redirections into other programs and variable tricks are refused outright: the
 * container or WASI limits stay the real boundary, this is the friendly first line.
 */
export function checkLine(line: string, policy: CommandPolicy = DEFAULT_POLICY): PolicyVerdict {
  // `$((…))` is arithmetic, not a command: only `$(` without a second `(` runs a program.
  if (/`|\$\((?!\()/.test(line)) {
    return { ok: false, command: line.trim(), message: 'command substitution is not allowed here' }
  }
  for (const cmd of splitCommands(line)) {
    const word = cmd.split(/\s+/)[0] ?? ''
    if (!policy.allow.some((p) => matches(p, word))) {
      return {
        ok: false,
        command: word,
        message: `'${word}' is not allowed in this sandbox (allowed: ${policy.allow.join(', ')})`,
      }
    }
  }
  return { ok: true }
}
