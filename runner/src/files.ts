/**
 * Files in and out of a session's workspace (docs/runners.md, "Files"; limits in docs/budgets.md):
 * the limits and the path rules every back end applies before touching its workspace. A workspace
 * path is always relative to the session's home (`~`): no leading `/`, no `.` or `..` segment, no
 * control character. The back end then resolves it inside its own workspace and refuses anything
 * that lands outside (a symlink on Docker), so these checks are the first line, not the only one.
 */
import { RunnerError } from './types.ts'

export const FILE_LIMITS = {
  /** Files in one upload. */
  maxFiles: 10,
  /** Bytes of one uploaded file. */
  maxFileBytes: 8 * 1024 * 1024,
  /** Bytes of all the files of one upload together. */
  maxUploadBytes: 32 * 1024 * 1024,
  /** Bytes of one downloaded file. */
  maxDownloadBytes: 8 * 1024 * 1024,
  /** Characters of a workspace path (a folder or a file). */
  maxPathChars: 1024,
  /** Bytes of a file name (one path segment), as on Linux. */
  maxNameBytes: 255,
} as const

/** One file of an upload: a plain name (no folder part) and its bytes. */
export interface FileUpload {
  name: string
  data: Uint8Array
}

export interface PutFilesResult {
  /** The folder the files landed in, relative to `~` (`''` is `~` itself). */
  dir: string
  files: { name: string; bytes: number }[]
}

export interface FileDownload {
  /** The file's name (its last path segment). */
  name: string
  data: Uint8Array
}

/**
 * The stable codes a file operation fails with (a `RunnerError`), and the HTTP status the API
 * answers with (docs/api.md).
 */
export const FILE_ERROR_STATUS: Record<string, number> = {
  PATH_INVALID: 400,
  PATH_OUTSIDE_WORKSPACE: 400,
  NOT_A_DIRECTORY: 400,
  NOT_A_FILE: 400,
  FILE_NAME_INVALID: 400,
  FILE_NOT_FOUND: 404,
  TOO_MANY_FILES: 413,
  UPLOAD_TOO_LARGE: 413,
  FILE_TOO_LARGE: 413,
  WORKSPACE_FULL: 413,
  FILES_FAILED: 500,
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters in paths is the point
const CONTROL = /[\x00-\x1f\x7f]/

/**
 * Checks a workspace path (relative to `~`; `''` or `.` is `~`) and returns it normalized
 * (`a/b`, no trailing slash); throws `PATH_INVALID` or `PATH_OUTSIDE_WORKSPACE`.
 */
export function workspacePath(path: string): string {
  if (typeof path !== 'string' || path.length > FILE_LIMITS.maxPathChars || CONTROL.test(path)) {
    throw new RunnerError('PATH_INVALID', `a path is at most ${FILE_LIMITS.maxPathChars} printable characters`)
  }
  const trimmed = path.startsWith('~/') ? path.slice(2) : path === '~' ? '' : path
  if (trimmed.startsWith('/')) {
    throw new RunnerError('PATH_OUTSIDE_WORKSPACE', 'paths are relative to your home folder (~), not absolute')
  }
  const parts = trimmed.split('/').filter((p) => p !== '' && p !== '.')
  if (parts.includes('..')) throw new RunnerError('PATH_OUTSIDE_WORKSPACE', "'..' may not leave the workspace")
  for (const p of parts) {
    if (new TextEncoder().encode(p).length > FILE_LIMITS.maxNameBytes) {
      throw new RunnerError('PATH_INVALID', `a path segment is at most ${FILE_LIMITS.maxNameBytes} bytes`)
    }
  }
  return parts.join('/')
}

/** Checks the name of an uploaded file: one plain segment (no `/`, not `.` or `..`), printable. */
export function fileName(name: string): string {
  if (
    typeof name !== 'string' ||
    name === '' ||
    name === '.' ||
    name === '..' ||
    name.includes('/') ||
    name.includes('\\') ||
    CONTROL.test(name) ||
    new TextEncoder().encode(name).length > FILE_LIMITS.maxNameBytes
  ) {
    throw new RunnerError(
      'FILE_NAME_INVALID',
      `'${String(name).replace(CONTROL, '?').slice(0, 80)}' is not a usable file name (one plain name, at most ${FILE_LIMITS.maxNameBytes} bytes)`,
    )
  }
  return name
}

/** Checks an upload against the count and size limits and its names; throws the first problem. */
export function checkUpload(files: FileUpload[]): void {
  if (files.length === 0) throw new RunnerError('FILE_NAME_INVALID', 'no file to upload')
  if (files.length > FILE_LIMITS.maxFiles) {
    throw new RunnerError('TOO_MANY_FILES', `at most ${FILE_LIMITS.maxFiles} files at once`)
  }
  const total = files.reduce((n, f) => n + f.data.length, 0)
  if (total > FILE_LIMITS.maxUploadBytes) {
    throw new RunnerError('UPLOAD_TOO_LARGE', `an upload is at most ${FILE_LIMITS.maxUploadBytes / 1048576} MiB in all`)
  }
  const seen = new Set<string>()
  for (const f of files) {
    fileName(f.name)
    if (seen.has(f.name)) throw new RunnerError('FILE_NAME_INVALID', `'${f.name}' appears twice in the upload`)
    seen.add(f.name)
    if (f.data.length > FILE_LIMITS.maxFileBytes) {
      throw new RunnerError('FILE_TOO_LARGE', `'${f.name}' is larger than ${FILE_LIMITS.maxFileBytes / 1048576} MiB`)
    }
  }
}

/**
 * The OSC sequence `download FILE` prints (docs/terminal-protocol.md, "Files"): `ESC ] 6974 ;
 * download ; <base64 of the path relative to ~> BEL`. The web terminal fetches that path through
 * the API; the path is only ever a workspace path there.
 */
export const DOWNLOAD_OSC = 6974

export function downloadSequence(relativePath: string): string {
  return `\x1b]${DOWNLOAD_OSC};download;${Buffer.from(relativePath, 'utf8').toString('base64')}\x07`
}
