import { literalText, parseShellLine } from './shell-syntax.ts'
import type { CommandPolicy } from './types.ts'

/** The default allowlist (docs/runners.md): safe file viewing, building and running project programs. */
export const DEFAULT_POLICY: CommandPolicy = {
  allow: [
    'ls',
    'cd',
    'cat',
    'pwd',
    'echo',
    'clear',
    'help',
    'make',
    'gcc',
    'cc',
    './*',
    'exit',
    'history',
    'jobs',
    'fg',
    'stty',
    'head',
    'tail',
    'wc',
  ],
}

/**
 * Commands of the site itself, allowed whatever the project's allowlist says: `download FILE`
 * hands a workspace file to the browser (docs/runners.md, "Files").
 */
export const SITE_COMMANDS = ['download']

export type PolicyVerdict = { ok: true } | { ok: false; command: string; message: string }

/** The simple commands of a line as typed, split on `;` `&&` `||` `|` `&` (quotes respected). */
export function splitCommands(line: string): string[] {
  return parseShellLine(line).pipelines.flatMap((p) => p.commands.map((c) => c.words.map((w) => w.raw).join(' ')))
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
 * Checks every simple command of a submitted line against the allowlist: the command word of each
 * command of each pipeline, parsed by the one parser both back ends share (`shell-syntax.ts`), so
 * a line gets the same verdict on Docker (where bash runs it) and on WASI. Pipes and redirections
 * between allowed commands are allowed; command and process substitution, `${…}` other than
 * `${NAME}`, subshells, here-documents and background jobs are refused outright, and so is a
 * command word that is not written out (`$X`, `~/x`, a glob). The sandbox limits stay the real
 * boundary; this is the friendly first line. A syntax error is not a refusal: the shell reports it.
 */
export function checkLine(line: string, policy: CommandPolicy = DEFAULT_POLICY): PolicyVerdict {
  const parsed = parseShellLine(line)
  if (parsed.forbidden) return { ok: false, command: parsed.forbidden.construct, message: parsed.forbidden.message }
  for (const pipeline of parsed.pipelines) {
    for (const cmd of pipeline.commands) {
      const first = cmd.words[0]
      if (!first) continue // only redirections (`> file`): no command runs
      const word = literalText(first)
      if (word === undefined || (!SITE_COMMANDS.includes(word) && !policy.allow.some((p) => matches(p, word)))) {
        const shown = word ?? first.raw
        return {
          ok: false,
          command: shown,
          message: `'${shown}' is not allowed in this sandbox (allowed: ${policy.allow.join(', ')})`,
        }
      }
    }
  }
  return { ok: true }
}
