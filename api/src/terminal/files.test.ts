/**
 * Files in and out of a live session over HTTP (docs/api.md, "Terminal files"), against the real
 * back ends, in the API process and behind a runner service. The Docker cases fail loudly when the
 * engine or the sandbox image is missing.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { FILE_LIMITS, type Runner } from '@shellfolio/runner'
import { DockerRunner, type DockerSession } from '@shellfolio/runner/docker'
import { type Backend, openBackend, testConfig } from '../../test/harness.ts'
import { connect, PLACEMENTS, startServer, type TerminalServer } from '../../test/terminal-kit.ts'
import { RESUME_TOKEN_HEADER } from './files.ts'
import { importWasi } from './runners.ts'

const CALC_MAKEFILE = readFileSync(join(import.meta.dir, '../../../wasm-projects/calc/Makefile'))

let backend: Backend
beforeAll(async () => {
  backend = await openBackend('embedded')
})
afterAll(() => backend.close())

async function runnerOf(kind: 'wasi' | 'docker'): Promise<Runner> {
  if (kind === 'wasi') return (await importWasi()).createWasiRunner()
  const docker = new DockerRunner({ poolSize: 0, runtime: testConfig().sandboxRuntime })
  const reason = await docker.unavailableReason()
  // Loud on purpose: a missing engine or image is a broken test setup, never a skip.
  if (reason) throw new Error(`the Docker runner is not available: ${reason}`)
  return docker
}

type Envelope = { data: unknown; error: { code: string; message: string } | null }

/** Opens a calc session through the WebSocket; returns what the file routes need. */
async function openSession(server: TerminalServer, runner: 'wasi' | 'docker') {
  const { client, sessionId } = await connect(server, { project: 'calc', runner }, { autoAck: true })
  const ready = await client.control('ready', 30_000)
  await client.output(/\$ $/, 30_000)
  const token = ready.resumeToken as string
  const files = `${server.url}/api/v1/terminal/sessions/${sessionId}/files`
  const upload = (form: FormData, headers: Record<string, string> = { [RESUME_TOKEN_HEADER]: token }) =>
    fetch(files, { method: 'POST', body: form, headers })
  const download = (path: string, headers: Record<string, string> = { [RESUME_TOKEN_HEADER]: token }) =>
    fetch(`${files}?path=${encodeURIComponent(path)}`, { headers })
  return { client, sessionId, token, files, upload, download }
}

const form = (files: { name: string; data: Uint8Array | string }[], dir?: string) => {
  const f = new FormData()
  if (dir !== undefined) f.append('dir', dir)
  for (const file of files) f.append('file', new Blob([file.data as Uint8Array<ArrayBuffer> | string]), file.name)
  return f
}

const errorOf = async (res: Response) => {
  const body = (await res.json()) as Envelope
  return { status: res.status, code: body.error?.code }
}

const CASES = (['wasi', 'docker'] as const).flatMap((kind) => PLACEMENTS.map((p) => [kind, p] as const))

describe.each(CASES)('terminal files over HTTP (%s runner, runners %s)', (kind, placement) => {
  test('upload into the project folder, see it in the shell, download it back; download FILE announces it', async () => {
    await using server = await startServer(backend, { runners: [await runnerOf(kind)], placement })
    const s = await openSession(server, kind)
    using c = s.client
    const text = `from-the-browser-${kind}-${placement}\n`
    const res = await s.upload(form([{ name: 'scene.rt', data: text }]))
    expect(res.status).toBe(201)
    expect(((await res.json()) as Envelope).data).toEqual({
      dir: 'projects/calc',
      files: [{ name: 'scene.rt', bytes: text.length }],
    })
    c.type('cd && cat projects/calc/scene.rt\r')
    await c.output(new RegExp(`\\n${text.trim()}\\r?\\n`), 30_000)
    const got = await s.download('projects/calc/scene.rt')
    expect(got.status).toBe(200)
    expect(got.headers.get('content-disposition')).toBe(`attachment; filename="scene.rt"; filename*=UTF-8''scene.rt`)
    expect(await got.text()).toBe(text)
    const makefile = await s.download('projects/calc/Makefile')
    expect(new Uint8Array(await makefile.arrayBuffer())).toEqual(new Uint8Array(CALC_MAKEFILE))
    // The shell's `download` prints the sequence the web terminal turns into this same GET.
    c.type('cd projects/calc && download Makefile\r')
    const b64 = Buffer.from('projects/calc/Makefile').toString('base64')
    await c.output(`\x1b]6974;download;${b64}\x07`, 30_000)
  }, 90_000)

  test('limits, paths out of the workspace, tokens and unknown sessions are refused with codes', async () => {
    await using server = await startServer(backend, { runners: [await runnerOf(kind)], placement })
    const s = await openSession(server, kind)
    using _c = s.client
    const one = [{ name: 'x.txt', data: 'x' }]
    expect(await errorOf(await s.upload(form(one), {}))).toEqual({ status: 401, code: 'TOKEN_REQUIRED' })
    expect(await errorOf(await s.upload(form(one), { [RESUME_TOKEN_HEADER]: `${s.token}x` }))).toEqual({
      status: 403,
      code: 'TOKEN_INVALID',
    })
    expect(await errorOf(await s.download('projects/calc/Makefile', { [RESUME_TOKEN_HEADER]: 'nope' }))).toEqual({
      status: 403,
      code: 'TOKEN_INVALID',
    })
    const unknown = `${server.url}/api/v1/terminal/sessions/${crypto.randomUUID()}/files`
    const gone = await fetch(unknown, { method: 'POST', body: form(one), headers: { [RESUME_TOKEN_HEADER]: s.token } })
    expect(await errorOf(gone)).toEqual({ status: 404, code: 'SESSION_NOT_FOUND' })
    const outside = { status: 400, code: 'PATH_OUTSIDE_WORKSPACE' }
    expect(await errorOf(await s.upload(form(one, '../')))).toEqual(outside)
    expect(await errorOf(await s.upload(form(one, '/tmp')))).toEqual(outside)
    expect(await errorOf(await s.upload(form(one, 'projects/../../..')))).toEqual(outside)
    expect(await errorOf(await s.download('../../etc/passwd'))).toEqual(outside)
    expect(await errorOf(await s.download('/etc/passwd'))).toEqual(outside)
    expect(await errorOf(await s.upload(form([{ name: '../escape.txt', data: 'x' }])))).toEqual({
      status: 400,
      code: 'FILE_NAME_INVALID',
    })
    expect(await errorOf(await s.download('projects/calc/no-such-file'))).toEqual({
      status: 404,
      code: 'FILE_NOT_FOUND',
    })
    expect(await errorOf(await s.download('projects/calc'))).toEqual({ status: 400, code: 'NOT_A_FILE' })
    const many = Array.from({ length: FILE_LIMITS.maxFiles + 1 }, (_, i) => ({ name: `f${i}.txt`, data: 'x' }))
    expect(await errorOf(await s.upload(form(many)))).toEqual({ status: 413, code: 'TOO_MANY_FILES' })
    const big = [{ name: 'big.bin', data: new Uint8Array(FILE_LIMITS.maxFileBytes + 1) }]
    expect(await errorOf(await s.upload(form(big)))).toEqual({ status: 413, code: 'FILE_TOO_LARGE' })
    const huge = Array.from({ length: 5 }, (_, i) => ({
      name: `h${i}.bin`,
      data: new Uint8Array(FILE_LIMITS.maxFileBytes),
    }))
    const over = [...huge.slice(0, 4), { name: 'tip.bin', data: new Uint8Array(1024) }]
    expect(await errorOf(await s.upload(form(over)))).toEqual({ status: 413, code: 'UPLOAD_TOO_LARGE' })
    // Over the request bound: refused from its Content-Length before it is read.
    expect(await errorOf(await s.upload(form(huge)))).toEqual({ status: 413, code: 'PAYLOAD_TOO_LARGE' })
    const empty = await fetch(s.files, {
      method: 'POST',
      body: '{"file":"x"}',
      headers: { [RESUME_TOKEN_HEADER]: s.token, 'content-type': 'application/json' },
    })
    expect(await errorOf(empty)).toEqual({ status: 400, code: 'UPLOAD_INVALID' })
    // Nothing of the refused uploads landed.
    expect((await s.download('projects/calc/f0.txt')).status).toBe(404)
    expect((await s.download('escape.txt')).status).toBe(404)
  }, 90_000)
})

describe('terminal files: a symlink pointing out of a Docker workspace', () => {
  test('download through it and upload into it are refused; an upload replaces the link, not its target', async () => {
    await using server = await startServer(backend, { runners: [await runnerOf('docker')] })
    const s = await openSession(server, 'docker')
    using _c = s.client
    const session = server.manager.get(s.sessionId)?.runner as DockerSession
    // The visitor could make these with a compiled program: make them as the sandbox user.
    const ln = Bun.spawn(
      [
        'docker',
        'exec',
        '-u',
        '1000:1000',
        session.containerId,
        'sh',
        '-c',
        'ln -s /etc/passwd ~/pw && ln -s /etc ~/etc-link && ln -s /tmp ~/tmp-link',
      ],
      { stdout: 'ignore', stderr: 'pipe' },
    )
    expect({ code: await ln.exited, stderr: await new Response(ln.stderr).text() }).toEqual({ code: 0, stderr: '' })
    const outside = { status: 400, code: 'PATH_OUTSIDE_WORKSPACE' }
    expect(await errorOf(await s.download('pw'))).toEqual(outside)
    expect(await errorOf(await s.download('etc-link/passwd'))).toEqual(outside)
    expect(await errorOf(await s.upload(form([{ name: 'x.txt', data: 'x' }], 'tmp-link')))).toEqual(outside)
    const replaced = await s.upload(form([{ name: 'pw', data: 'mine\n' }], ''))
    expect(replaced.status).toBe(201)
    expect(await (await s.download('pw')).text()).toBe('mine\n')
  }, 90_000)
})
