/** Where the session's workspace sits in the shell, and the user the shell and `ls -l` name. */
export const HOME = '/home/coder'
export const USER = 'coder'
/** Where the session's home directory appears inside a program's sandbox. */
export const GUEST_HOME = '/workspace'

/** `~/projects/minirt` style path. */
export function tildePath(path: string): string {
  if (path === HOME) return '~'
  if (path.startsWith(`${HOME}/`)) return `~${path.slice(HOME.length)}`
  return path
}

/**
 * Where a session starts: the project's own folder when it is there, so the first suggested command
 * works as typed (docs/runners.md, "Starting folder and help"); else the home folder.
 */
export function startDir(slug: string, isDir: (path: string) => boolean): string {
  const dir = `${HOME}/projects/${slug}`
  return isDir(dir) ? dir : HOME
}
