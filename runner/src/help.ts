/**
 * The project help `help` prints in a session, the same text on every runner (docs/runners.md,
 * "Starting folder and help"): WASI's builtin prints it, and the Docker runner copies it into the
 * sandbox as `~/.shellfolio/help`, which the image's `help` shell function prints. It is built from
 * the project's `project.json` in its folder (title, summary, suggested commands) and the policy the
 * session runs under, so both runners read the same inputs.
 */
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { ProjectSpec } from './types.ts'

/** Suggested commands listed at most, and characters kept of each line read from project.json. */
const MAX_COMMANDS = 20
const MAX_LINE = 160

interface ManifestHelp {
  title?: string
  summary?: string
  commands: string[]
}

const manifests = new Map<string, { mtimeMs: number; help: ManifestHelp }>()

/** One line of owner text: control characters (escape sequences, newlines) become spaces, bounded. */
function clean(text: unknown, max = MAX_LINE): string | undefined {
  if (typeof text !== 'string') return undefined
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  const line = text.replace(/[\x00-\x1f\x7f-\x9f]+/g, ' ').trim()
  if (line === '') return undefined
  return line.length > max ? `${line.slice(0, max - 1)}…` : line
}

/** What project.json in the project's folder says (cached by modification time); empty when absent or invalid. */
function manifestHelp(sourceDir: string): ManifestHelp {
  const path = join(sourceDir, 'project.json')
  let mtimeMs: number
  try {
    mtimeMs = statSync(path).mtimeMs
  } catch {
    return { commands: [] }
  }
  const hit = manifests.get(path)
  if (hit && hit.mtimeMs === mtimeMs) return hit.help
  let help: ManifestHelp = { commands: [] }
  try {
    const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>
    const commands = Array.isArray(json.commands) ? json.commands : []
    help = {
      title: clean(json.title),
      summary: clean(json.summary, 500),
      commands: commands
        .slice(0, MAX_COMMANDS)
        .map((c) => clean(c))
        .filter((c): c is string => c !== undefined),
    }
  } catch {
    // an unreadable project.json gives the generic help
  }
  manifests.set(path, { mtimeMs, help })
  if (manifests.size > 256) manifests.delete(manifests.keys().next().value as string)
  return help
}

/** Wraps `text` at `width` columns after `indent`. */
function wrap(text: string, width: number, indent = ''): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line !== '' && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line)
      line = word
    } else line = line === '' ? word : `${line} ${word}`
  }
  if (line !== '') lines.push(indent + line)
  return lines
}

/**
 * The help text of `project` (lines end with `\n`; a terminal shows them with `\r\n`). Pure of the
 * runner: the same project and policy give the same bytes on Docker and on WASI.
 */
export function projectHelp(project: Pick<ProjectSpec, 'slug' | 'sourceDir' | 'policy'>): string {
  const m = manifestHelp(project.sourceDir)
  const title = m.title ?? project.slug
  const lines = [`\x1b[1m${title}\x1b[0m — you are in ~/projects/${project.slug}, the project's folder.`]
  if (m.summary) lines.push(...wrap(m.summary, 78))
  lines.push('')
  if (m.commands.length > 0) {
    lines.push('Try, in this order:')
    for (const c of m.commands) lines.push(`  ${c}`)
    lines.push('')
  }
  lines.push(
    '  ls [-l] [-a] [path]   list files            cd [dir]      change directory',
    '  cat file...           print files           pwd           print the current directory',
    '  make [target]         build (the Makefile)  ./program     run a program built by make',
    '  echo text             print text            clear         clear the screen (also Ctrl-L)',
    '  history               past commands         stty size     terminal rows and columns',
    '  exit [N]              end the session       help          this text',
    '',
    "Combine with ';', '&&' and '||'; './program < file' reads input from a file.",
    'Keys: arrows, Home/End, Tab completes, Ctrl-C interrupts, Ctrl-D ends input, Ctrl-L clears.',
    ...wrap(`Allowed here: ${project.policy.allow.map((a) => clean(a, 60) ?? '').join(', ')}`, 78),
    '',
  )
  return lines.join('\n')
}
