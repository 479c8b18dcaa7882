/**
 * Files in and out of a WASI session's workspace (docs/runners.md, "Files"): run in the session
 * host, on its MemFs, within the workspace quota (64 MiB, docs/budgets.md). The in-memory
 * workspace has no symlinks, so a checked path (files.ts) under `~` cannot leave it.
 */
import {
  checkUpload,
  downloadSequence,
  FILE_LIMITS,
  type FileDownload,
  type FileUpload,
  type PutFilesResult,
  workspacePath,
} from '../files.ts'
import { RunnerError } from '../types.ts'
import type { BuiltinContext } from './builtins.ts'
import { HOME } from './home.ts'
import { FsError, type MemFs } from './memfs.ts'
import type { FromSessionHost, ToSessionHost } from './session-protocol.ts'

const absolute = (relative: string) => (relative === '' ? HOME : `${HOME}/${relative}`)

/** Writes an upload into `~/<dir>`; all of it or, when the quota refuses a file, none of it. */
export function putFiles(fs: MemFs, dir: string, files: FileUpload[]): PutFilesResult {
  checkUpload(files)
  const rel = workspacePath(dir)
  const at = absolute(rel)
  const node = fs.stat(at)
  if (!node) throw new RunnerError('NOT_A_DIRECTORY', `~/${rel} does not exist`)
  if (node.kind !== 'dir') throw new RunnerError('NOT_A_DIRECTORY', `~/${rel} is not a folder`)
  for (const f of files) {
    if (fs.stat(`${at}/${f.name}`)?.kind === 'dir') {
      throw new RunnerError('NOT_A_FILE', `~/${rel ? `${rel}/` : ''}${f.name} is a folder`)
    }
  }
  // Quota first, for the whole upload, so a refused upload leaves nothing half written.
  const replaced = files.reduce((n, f) => {
    const old = fs.stat(`${at}/${f.name}`)
    return n + (old?.kind === 'file' ? old.data.length : 0)
  }, 0)
  const added = files.reduce((n, f) => n + f.data.length, 0)
  if (fs.used - replaced + added > fs.quota) {
    throw new RunnerError(
      'WORKSPACE_FULL',
      `the workspace has ${Math.max(0, fs.quota - fs.used)} bytes left (of ${fs.quota}); the upload needs ${added - replaced}`,
    )
  }
  try {
    for (const f of files) fs.writeFile(`${at}/${f.name}`, f.data)
  } catch (e) {
    if (e instanceof FsError && e.reason === 'ENOSPC') throw new RunnerError('WORKSPACE_FULL', 'the workspace is full')
    throw e
  }
  return { dir: rel, files: files.map((f) => ({ name: f.name, bytes: f.data.length })) }
}

/** The bytes of `~/<path>`. */
export function getFile(fs: MemFs, path: string): FileDownload {
  const rel = workspacePath(path)
  const node = fs.stat(absolute(rel))
  if (!node) throw new RunnerError('FILE_NOT_FOUND', `~/${rel} does not exist`)
  if (node.kind !== 'file') throw new RunnerError('NOT_A_FILE', `~/${rel} is not a file`)
  if (node.data.length > FILE_LIMITS.maxDownloadBytes) {
    throw new RunnerError('FILE_TOO_LARGE', `~/${rel} is larger than ${FILE_LIMITS.maxDownloadBytes / 1048576} MiB`)
  }
  return { name: rel.slice(rel.lastIndexOf('/') + 1), data: node.data }
}

/**
 * The `download FILE` builtin: checks that FILE (relative to the shell's `cwd`) is a file in the
 * workspace and returns what to print: the OSC sequence the web terminal turns into a download
 * and a line saying so, or an error line (and the exit status).
 */
export function downloadCommand(fs: MemFs, cwd: string, args: string[]): { out: string; err: string; code: number } {
  if (args.length !== 1) return { out: '', err: 'usage: download FILE\n', code: 2 }
  const arg = args[0] as string
  const abs = fs.resolve(cwd, arg)
  if (abs !== HOME && !abs.startsWith(`${HOME}/`)) {
    return { out: '', err: `download: ${arg}: not in your workspace (~)\n`, code: 1 }
  }
  const node = fs.stat(abs)
  if (!node) return { out: '', err: `download: ${arg}: No such file or directory\n`, code: 1 }
  if (node.kind !== 'file') return { out: '', err: `download: ${arg}: not a file\n`, code: 1 }
  if (node.data.length > FILE_LIMITS.maxDownloadBytes) {
    return { out: '', err: `download: ${arg}: larger than ${FILE_LIMITS.maxDownloadBytes / 1048576} MiB\n`, code: 1 }
  }
  const rel = abs.slice(HOME.length + 1)
  return { out: `${downloadSequence(rel)}download: sending ~/${rel} to your browser\n`, err: '', code: 0 }
}

/** `download FILE` as a shell builtin (registered in builtins.ts). */
export function downloadBuiltin(args: string[], ctx: BuiltinContext): number {
  const { out, err, code } = downloadCommand(ctx.fs, ctx.cwd, args)
  if (out) ctx.print(out)
  if (err) ctx.print(err)
  return code
}

/** Runs a `files-put` / `file-get` message of the session protocol in the session host. */
export function fileOp(
  fs: MemFs,
  message: Extract<ToSessionHost, { type: 'files-put' | 'file-get' }>,
): Extract<FromSessionHost, { type: 'files-done' }> {
  try {
    const result = message.type === 'files-put' ? putFiles(fs, message.dir, message.files) : getFile(fs, message.path)
    return { type: 'files-done', id: message.id, result }
  } catch (e) {
    const known = e instanceof RunnerError
    return {
      type: 'files-done',
      id: message.id,
      error: { code: known ? e.code : 'FILES_FAILED', message: known ? e.message : String(e) },
    }
  }
}
