/** Where the session's workspace sits in the shell, and the user the shell and `ls -l` name. */
export const HOME = '/home/coder'
export const USER = 'coder'

/** `~/projects/minirt` style path. */
export function tildePath(path: string): string {
  if (path === HOME) return '~'
  if (path.startsWith(`${HOME}/`)) return `~${path.slice(HOME.length)}`
  return path
}
