/**
 * Files in and out over the runner-service hop (docs/terminal-protocol.md, "The internal protocol"):
 * `POST /v1/files` (multipart, an upload) and `GET /v1/files` (a download), each with a `files`
 * grant naming the session and the folder or file, so neither the session nor the path can be
 * changed on the way. Bodies are bounded on both sides by `FILE_LIMITS`.
 */
import {
  checkUpload,
  FILE_ERROR_STATUS,
  FILE_LIMITS,
  type FileDownload,
  type FileUpload,
  type PutFilesResult,
} from '../files.ts'
import { RunnerError, type RunnerSession } from '../types.ts'
import type { Grant, GrantBody } from './grant.ts'

export const FILES_PATH = '/v1/files'

/** What a `files` grant allows: one upload into `dir`, or one download of `path`, of one session. */
export type FilesGrant =
  | { typ: 'files'; op: 'put'; session: string; dir: string }
  | { typ: 'files'; op: 'get'; session: string; path: string }

/** Bytes of an upload body beyond the files themselves (multipart boundaries and headers). */
const MULTIPART_OVERHEAD = 64 * 1024
export const MAX_UPLOAD_BODY = FILE_LIMITS.maxUploadBytes + MULTIPART_OVERHEAD

const failure = (err: unknown): Response => {
  const known = err instanceof RunnerError
  const code = known ? err.code : 'FILES_FAILED'
  const status = FILE_ERROR_STATUS[code] ?? (code === 'SESSION_GONE' ? 404 : 500)
  return Response.json(
    { error: { code, message: known ? err.message : 'the file operation failed' } },
    { status: status === 500 && known ? 502 : status },
  )
}

/** The runner service's side: serves one verified `files` grant on the session it names. */
export async function serveFiles(
  req: Request,
  grant: Extract<Grant, { typ: 'files' }>,
  session: RunnerSession | undefined,
): Promise<Response> {
  if (!session) return failure(new RunnerError('SESSION_GONE', 'the session has ended on its runner service'))
  try {
    if (grant.op === 'get') {
      if (req.method !== 'GET') return failure(new RunnerError('PATH_INVALID', 'a download grant needs GET'))
      const file = await session.getFile(grant.path)
      return new Response(file.data as Uint8Array<ArrayBuffer>, {
        headers: { 'content-type': 'application/octet-stream', 'x-file-name': encodeURIComponent(file.name) },
      })
    }
    if (req.method !== 'POST') return failure(new RunnerError('PATH_INVALID', 'an upload grant needs POST'))
    const length = Number(req.headers.get('content-length') ?? Number.NaN)
    if (!(length <= MAX_UPLOAD_BODY)) {
      return failure(new RunnerError('FILE_TOO_LARGE', `an upload body is at most ${MAX_UPLOAD_BODY} bytes`))
    }
    const form = await req.formData()
    const files: FileUpload[] = []
    for (const entry of form.getAll('file')) {
      if (typeof entry === 'string') continue
      files.push({ name: entry.name, data: new Uint8Array(await entry.arrayBuffer()) })
    }
    checkUpload(files)
    return Response.json(await session.putFiles(grant.dir, files))
  } catch (err) {
    return failure(err)
  }
}

/** The API's side: file operations on the sessions of one runner service. */
export interface RemoteFileHop {
  putFiles(session: string, dir: string, files: FileUpload[]): Promise<PutFilesResult>
  getFile(session: string, path: string): Promise<FileDownload>
}

/**
 * `httpUrl` is the service's HTTP base URL; `grant` signs a grant body for the service's current
 * boot (`Authorization: Grant …`).
 */
export function remoteFileHop(httpUrl: string, grant: (body: GrantBody) => string, timeoutMs = 60_000): RemoteFileHop {
  const refused = async (res: Response): Promise<never> => {
    let body: { error?: { code?: string; message?: string } } = {}
    try {
      body = (await res.json()) as typeof body
    } catch {
      // not JSON: the status says enough
    }
    throw new RunnerError(
      body.error?.code ?? 'FILES_FAILED',
      body.error?.message ?? `the runner service answered ${res.status} to a file operation`,
    )
  }
  const call = async (init: RequestInit, body: GrantBody): Promise<Response> => {
    try {
      return await fetch(`${httpUrl}${FILES_PATH}`, {
        ...init,
        headers: { ...(init.headers as Record<string, string>), authorization: `Grant ${grant(body)}` },
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch {
      throw new RunnerError('RUNNER_UNREACHABLE', 'the runner service could not be reached for the file operation')
    }
  }
  return {
    async putFiles(session, dir, files) {
      checkUpload(files)
      const form = new FormData()
      for (const f of files) form.append('file', new Blob([f.data as Uint8Array<ArrayBuffer>]), f.name)
      const res = await call({ method: 'POST', body: form }, { typ: 'files', op: 'put', session, dir })
      if (!res.ok) return refused(res)
      return (await res.json()) as PutFilesResult
    },
    async getFile(session, path) {
      const res = await call({ method: 'GET' }, { typ: 'files', op: 'get', session, path })
      if (!res.ok) return refused(res)
      const length = Number(res.headers.get('content-length') ?? 0)
      if (length > FILE_LIMITS.maxDownloadBytes) {
        await res.body?.cancel()
        throw new RunnerError('FILE_TOO_LARGE', `the file is larger than ${FILE_LIMITS.maxDownloadBytes / 1048576} MiB`)
      }
      const data = new Uint8Array(await res.arrayBuffer())
      if (data.length > FILE_LIMITS.maxDownloadBytes) {
        throw new RunnerError('FILE_TOO_LARGE', `the file is larger than ${FILE_LIMITS.maxDownloadBytes / 1048576} MiB`)
      }
      return { name: decodeURIComponent(res.headers.get('x-file-name') ?? '') || 'download', data }
    },
  }
}
