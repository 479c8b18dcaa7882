/**
 * A project's files reach a sandbox when its session opens, not through the image (docs/runners.md,
 * "Project files"): the runner tars the project's folder on this host and a `tar -x` run inside the
 * container (an exec, as the sandbox user) unpacks it into `~/projects/<slug>`, with the project's
 * help as `~/.shellfolio/help` (runner/src/help.ts). Copying from inside is what lands in the
 * workspace tmpfs under a read-only root (docs/conventions.md, Docker traps), and it works on a
 * pooled container that has waited with its shell started.
 */
import { statSync } from 'node:fs'
import type { Duplex } from 'node:stream'
import type Docker from 'dockerode'
import { projectHelp } from '../help.ts'
import { type ProjectSpec, RunnerError } from '../types.ts'
import { HOME } from './sandbox.ts'

/** Never sent into a sandbox: precompiled WebAssembly, golden outputs, object files, VCS data. */
const EXCLUDES = ['./prebuilt', './golden', './.git', '*.o']
/** Most project archives kept in memory (each is one project's files, tens of KB to a few MB). */
const CACHED = 32
const SLUG = /^[a-z0-9][a-z0-9_-]*$/i

const archives = new Map<string, { mtimeMs: number; bytes: Promise<Uint8Array> }>()

/**
 * The tar of a project folder with its entries under `projects/<slug>/`, cached by folder, slug and the
 * folder's modification time (an imported version's folder never changes; a wasm-projects/ folder
 * edited in development is tarred again).
 */
export function projectArchive(sourceDir: string, slug: string): Promise<Uint8Array> {
  const key = `${slug}\0${sourceDir}`
  let mtimeMs: number
  try {
    const st = statSync(sourceDir)
    if (!st.isDirectory()) throw new Error('not a directory')
    mtimeMs = st.mtimeMs
  } catch {
    return Promise.reject(new RunnerError('PROJECT_NOT_FOUND', `project directory ${sourceDir} does not exist`))
  }
  const hit = archives.get(key)
  if (hit && hit.mtimeMs === mtimeMs) {
    archives.delete(key)
    archives.set(key, hit)
    return hit.bytes
  }
  const bytes = (async () => {
    const proc = Bun.spawn(
      [
        'tar',
        '-C',
        sourceDir,
        '--numeric-owner',
        '--owner=1000',
        '--group=1000',
        ...EXCLUDES.map((e) => `--exclude=${e}`),
        // why: entries land in ~/projects/<slug> with a single `tar -x` in the sandbox (no shell, no mkdir)
        `--transform=s,^\\.,projects/${slug},`,
        '-cf',
        '-',
        '.',
      ],
      { stdout: 'pipe', stderr: 'pipe' },
    )
    const [out, err, code] = await Promise.all([
      new Response(proc.stdout).arrayBuffer(),
      new Response(proc.stderr).text(),
      proc.exited,
    ])
    if (code !== 0) throw new RunnerError('PROJECT_NOT_FOUND', `could not read ${sourceDir}: ${err.trim()}`)
    return new Uint8Array(out)
  })()
  bytes.catch(() => archives.delete(key))
  archives.set(key, { mtimeMs, bytes })
  while (archives.size > CACHED) archives.delete(archives.keys().next().value as string)
  return bytes
}

/** A ustar archive member: one regular file owned by the sandbox user (no trailing end blocks). */
export function tarMember(name: string, body: Uint8Array, mode = 0o644): Uint8Array {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar member name too long: ${name}`)
  const header = Buffer.alloc(512)
  const field = (at: number, length: number, value: string) => header.write(value, at, length, 'latin1')
  const octal = (at: number, length: number, n: number) =>
    field(at, length, `${n.toString(8).padStart(length - 1, '0')}\0`)
  field(0, 100, name)
  octal(100, 8, mode)
  octal(108, 8, 1000)
  octal(116, 8, 1000)
  octal(124, 12, body.length)
  octal(136, 12, Math.floor(Date.now() / 1000))
  field(148, 8, '        ')
  field(156, 1, '0')
  field(257, 8, 'ustar\u000000')
  field(265, 32, 'coder')
  field(297, 32, 'coder')
  let sum = 0
  for (const byte of header) sum += byte
  field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `)
  const padded = Buffer.alloc(Math.ceil(body.length / 512) * 512)
  padded.set(body)
  return Buffer.concat([header, padded])
}

/**
 * What a session's sandbox gets: the project's help (`.shellfolio/help`, which the image's `help`
 * prints) followed by the project's files (`projects/<slug>/…`), one tar for one exec.
 */
export async function sessionArchive(project: ProjectSpec): Promise<Uint8Array> {
  if (!SLUG.test(project.slug)) throw new RunnerError('INVALID_PROJECT', `invalid project slug '${project.slug}'`)
  const files = await projectArchive(project.sourceDir, project.slug)
  const help = tarMember('.shellfolio/help', Buffer.from(projectHelp(project), 'utf8'))
  return Buffer.concat([help, files])
}

/**
 * Unpacks the project into `~/projects/<slug>` (and its help into `~/.shellfolio/help`) of a
 * running sandbox; throws when tar fails.
 */
export async function copyProjectIn(
  container: Docker.Container,
  project: ProjectSpec,
  timeoutMs = 30_000,
): Promise<void> {
  const bytes = await sessionArchive(project)
  const exec = await container.exec({
    // why: -m (no stored mtimes) so make sees the sources as new; -o so the files belong to coder;
    // ~/projects exists (the entry script made it)
    Cmd: ['tar', '-x', '-m', '-o', '-C', HOME, '-f', '-'],
    User: '1000:1000',
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
  })
  const stream = (await exec.start({ hijack: true, stdin: true })) as unknown as Duplex
  let output = ''
  stream.on('data', (chunk: Buffer) => {
    if (output.length < 4096) output += chunk.toString('utf8')
  })
  stream.on('error', () => {})
  const ended = new Promise<void>((resolve) => {
    stream.once('end', resolve)
    stream.once('close', resolve)
  })
  stream.write(Buffer.from(bytes))
  stream.end()
  let timer: ReturnType<typeof setTimeout> | undefined
  await Promise.race([ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))])
  clearTimeout(timer)
  // why: the stream can end a moment before the engine records the exit code
  for (let attempt = 0; ; attempt++) {
    const info = await exec.inspect()
    if (!info.Running) {
      if (info.ExitCode === 0) return
      // the multiplexed stream's frame headers are binary; keep the readable part of tar's message
      const message = output.replace(/[^\x20-\x7e\n]/g, '').trim()
      throw new RunnerError('SANDBOX_START_FAILED', `could not copy the project into the sandbox: ${message}`)
    }
    if (attempt >= 50) throw new RunnerError('SANDBOX_START_FAILED', 'copying the project into the sandbox timed out')
    await Bun.sleep(20) // why: polling the engine for the exec's exit; it has no event to await
  }
}
