/**
 * Files in and out of a Docker session's workspace (docs/runners.md, "Files"). Like the project
 * files (project-files.ts), everything goes through an exec inside the container as the sandbox
 * user (1000:1000): the engine's archive API does not see the workspace tmpfs, and an exec can
 * only touch what the visitor's own shell can. Each exec resolves the path with `realpath` inside
 * the container and refuses one that lands outside `~` (a symlink pointing out), writes an upload
 * to a temporary file and renames it over the name (so a symlink of that name is replaced, never
 * followed), and reads at most `FILE_LIMITS.maxDownloadBytes`.
 */
import type { Duplex } from 'node:stream'
import type Docker from 'dockerode'
import {
  checkUpload,
  FILE_LIMITS,
  type FileDownload,
  type FileUpload,
  type PutFilesResult,
  workspacePath,
} from '../files.ts'
import { RunnerError } from '../types.ts'
import { HOME } from './sandbox.ts'

/** Exit statuses of the scripts below, and what they mean to the visitor. */
const PUT_SCRIPT = `
d=$(realpath -e -- "${HOME}/$1" 2>/dev/null) || exit 10
case "$d" in ${HOME}|${HOME}/*) ;; *) exit 11 ;; esac
[ -d "$d" ] || exit 10
if [ -d "$d/$2" ] && [ ! -L "$d/$2" ]; then exit 14; fi
t=$(mktemp -p "$d" .upload.XXXXXX 2>/dev/null) || exit 13
if ! cat > "$t" 2>/dev/null; then rm -f -- "$t"; exit 13; fi
chmod 644 -- "$t"
mv -fT -- "$t" "$d/$2" || { rm -f -- "$t"; exit 15; }
`
const GET_SCRIPT = `
f=$(realpath -e -- "${HOME}/$1" 2>/dev/null) || exit 20
case "$f" in ${HOME}/*) ;; *) exit 21 ;; esac
[ -f "$f" ] || exit 22
[ "$(stat -c %s -- "$f")" -le ${FILE_LIMITS.maxDownloadBytes} ] || exit 23
exec cat -- "$f"
`

interface ExecResult {
  code: number | null
  stdout: Uint8Array
  /** stdout went past the cap and was cut. */
  overflow: boolean
}

/**
 * Runs `sh -c script` in the container as the sandbox user with `args`, feeding `stdin`; keeps at
 * most `maxOut` bytes of stdout (stderr is dropped: the exit status says what failed).
 */
async function execIn(
  container: Docker.Container,
  script: string,
  args: string[],
  stdin: Uint8Array | null,
  maxOut: number,
  timeoutMs = 30_000,
): Promise<ExecResult> {
  const exec = await container.exec({
    Cmd: ['sh', '-c', script, 'sh', ...args],
    User: '1000:1000',
    WorkingDir: HOME,
    AttachStdin: stdin !== null,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
  })
  const stream = (await exec.start({ hijack: true, stdin: stdin !== null })) as unknown as Duplex
  // The stream is multiplexed: 8-byte headers (stream type, 3 zero bytes, big-endian length).
  const out: Buffer[] = []
  let outBytes = 0
  let overflow = false
  let pending: Buffer = Buffer.alloc(0)
  stream.on('data', (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk
    while (pending.length >= 8) {
      const size = pending.readUInt32BE(4)
      if (pending.length < 8 + size) break
      if (pending[0] === 1) {
        const payload = pending.subarray(8, 8 + size)
        if (outBytes + payload.length > maxOut) {
          overflow = true
          stream.destroy()
          return
        }
        out.push(Buffer.from(payload))
        outBytes += payload.length
      }
      pending = pending.subarray(8 + size)
    }
  })
  stream.on('error', () => {})
  const ended = new Promise<void>((resolve) => {
    stream.once('end', resolve)
    stream.once('close', resolve)
  })
  if (stdin !== null) {
    stream.write(Buffer.from(stdin.buffer, stdin.byteOffset, stdin.byteLength))
    stream.end()
  }
  let timer: ReturnType<typeof setTimeout> | undefined
  const timedOut = await Promise.race([
    ended.then(() => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
  ])
  clearTimeout(timer)
  if (timedOut) {
    stream.destroy()
    throw new RunnerError('FILES_FAILED', 'the sandbox did not answer the file operation in time')
  }
  const stdout = new Uint8Array(Buffer.concat(out))
  if (overflow) return { code: null, stdout, overflow }
  // why: the stream can end a moment before the engine records the exit code
  for (let attempt = 0; ; attempt++) {
    const info = await exec.inspect()
    if (!info.Running) return { code: info.ExitCode ?? null, stdout, overflow }
    if (attempt >= 50) throw new RunnerError('FILES_FAILED', 'the file operation in the sandbox did not finish')
    await Bun.sleep(20) // why: polling the engine for the exec's exit; it has no event to await
  }
}

/** Writes an upload into `~/<dir>` of the container, one file at a time. */
export async function putFiles(container: Docker.Container, dir: string, files: FileUpload[]): Promise<PutFilesResult> {
  checkUpload(files)
  const rel = workspacePath(dir)
  const shown = `~${rel ? `/${rel}` : ''}`
  for (const f of files) {
    const { code } = await execIn(container, PUT_SCRIPT, [rel, f.name], f.data, 0)
    if (code === 0) continue
    if (code === 10) throw new RunnerError('NOT_A_DIRECTORY', `${shown} is not a folder of your workspace`)
    if (code === 11) throw new RunnerError('PATH_OUTSIDE_WORKSPACE', `${shown} leads outside your workspace`)
    if (code === 13) throw new RunnerError('WORKSPACE_FULL', `the workspace has no room left for '${f.name}'`)
    if (code === 14) throw new RunnerError('NOT_A_FILE', `${shown}/${f.name} is a folder`)
    throw new RunnerError('FILES_FAILED', `'${f.name}' could not be written (status ${code})`)
  }
  return { dir: rel, files: files.map((f) => ({ name: f.name, bytes: f.data.length })) }
}

/** The bytes of `~/<path>` in the container. */
export async function getFile(container: Docker.Container, path: string): Promise<FileDownload> {
  const rel = workspacePath(path)
  if (rel === '') throw new RunnerError('NOT_A_FILE', '~ is a folder, not a file')
  const shown = `~/${rel}`
  const { code, stdout, overflow } = await execIn(container, GET_SCRIPT, [rel], null, FILE_LIMITS.maxDownloadBytes)
  if (overflow || code === 23) {
    throw new RunnerError('FILE_TOO_LARGE', `${shown} is larger than ${FILE_LIMITS.maxDownloadBytes / 1048576} MiB`)
  }
  if (code === 20) throw new RunnerError('FILE_NOT_FOUND', `${shown} does not exist`)
  if (code === 21) throw new RunnerError('PATH_OUTSIDE_WORKSPACE', `${shown} leads outside your workspace`)
  if (code === 22) throw new RunnerError('NOT_A_FILE', `${shown} is not a file`)
  if (code !== 0) throw new RunnerError('FILES_FAILED', `${shown} could not be read (status ${code})`)
  return { name: rel.slice(rel.lastIndexOf('/') + 1), data: stdout }
}
