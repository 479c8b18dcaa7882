/**
 * Files in and out of a live terminal session (docs/api.md, "Terminal files"; docs/runners.md,
 * "Files"): `POST /api/v1/terminal/sessions/:id/files` uploads (multipart, fields `file`, optional
 * `dir` relative to `~`, default the project's folder) and `GET …/files?path=` downloads. Both are
 * authorized by the session's resume token (`X-Resume-Token`, from the `ready` message) and served
 * by the instance that runs the session; the runner does the work inside its workspace and refuses
 * anything that leaves it.
 */
import {
  checkUpload,
  FILE_ERROR_STATUS,
  FILE_LIMITS,
  type FileUpload,
  RunnerError,
  workspacePath,
} from '@shellfolio/runner'
import { Elysia, t } from 'elysia'
import { ok } from '../http/envelope.ts'
import { AppError, BadRequestError, ConflictError, NotFoundError, UnauthorizedError } from '../http/errors.ts'
import type { SessionManager } from './manager.ts'
import type { LiveSession } from './session.ts'
import { sameToken } from './tickets.ts'

export const RESUME_TOKEN_HEADER = 'x-resume-token'
/** Bytes of an upload request beyond its files (multipart boundaries and part headers). */
const MULTIPART_OVERHEAD = 64 * 1024
export const MAX_UPLOAD_REQUEST = FILE_LIMITS.maxUploadBytes + MULTIPART_OVERHEAD

/** A runner's refusal as an API error with the same code (status from `FILE_ERROR_STATUS`). */
function asAppError(err: unknown): never {
  if (err instanceof RunnerError) {
    if (err.code === 'SESSION_GONE') throw new NotFoundError('the session has ended', 'SESSION_NOT_FOUND')
    const status = FILE_ERROR_STATUS[err.code]
    if (status && status < 500) throw new AppError(status, err.code, err.message)
    throw new AppError(502, err.code, `the runner could not do it: ${err.message}`)
  }
  throw err
}

/** Content-Disposition for a download: an ASCII fallback and the UTF-8 name (RFC 6266). */
function disposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_')
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`
}

/** The file routes; `manager` finds the session on this instance. */
export function terminalFiles(manager: SessionManager) {
  /** Sessions with a file operation under way (one at a time per session). */
  const busy = new Set<string>()

  /** The live session `id` on this instance, if `token` is its resume token. */
  const authorize = async (id: string, token: string | null): Promise<LiveSession> => {
    const session = manager.get(id)
    if (!session || session.ended) {
      const record = await manager.registry.get(id).catch(() => null)
      if (record && record.status !== 'pending' && record.instance !== manager.instanceId) {
        throw new ConflictError(
          'the session runs on another server instance; reconnect the terminal first',
          'SESSION_ELSEWHERE',
        )
      }
      throw new NotFoundError('no live session with this id', 'SESSION_NOT_FOUND')
    }
    if (!token) throw new UnauthorizedError('the session resume token is required (X-Resume-Token)', 'TOKEN_REQUIRED')
    if (!sameToken(session.resumeToken, token)) {
      throw new AppError(403, 'TOKEN_INVALID', 'this is not the resume token of this session')
    }
    return session
  }

  const exclusive = async <T>(id: string, work: () => Promise<T>): Promise<T> => {
    if (busy.has(id)) {
      throw new AppError(
        429,
        'FILES_BUSY',
        'another file transfer of this session is under way; try again when it ends',
        {
          retryAfterSeconds: 1,
        },
        { 'Retry-After': '1' },
      )
    }
    busy.add(id)
    try {
      return await work()
    } catch (err) {
      return asAppError(err)
    } finally {
      busy.delete(id)
    }
  }

  const params = t.Object({ id: t.String({ format: 'uuid' }) })

  return new Elysia({ name: 'module.terminal.files' })
    .post(
      '/api/v1/terminal/sessions/:id/files',
      async ({ params, request, set }) => {
        const session = await authorize(params.id, request.headers.get(RESUME_TOKEN_HEADER))
        const length = Number(request.headers.get('content-length') ?? Number.NaN)
        if (!Number.isFinite(length)) throw new AppError(411, 'LENGTH_REQUIRED', 'an upload needs a Content-Length')
        if (length > MAX_UPLOAD_REQUEST) {
          throw new AppError(
            413,
            'UPLOAD_TOO_LARGE',
            `an upload is at most ${FILE_LIMITS.maxFiles} files, ${FILE_LIMITS.maxFileBytes / 1048576} MiB each and ${FILE_LIMITS.maxUploadBytes / 1048576} MiB in all`,
            {
              maxFiles: FILE_LIMITS.maxFiles,
              maxFileBytes: FILE_LIMITS.maxFileBytes,
              maxUploadBytes: FILE_LIMITS.maxUploadBytes,
            },
          )
        }
        if (!(request.headers.get('content-type') ?? '').startsWith('multipart/form-data')) {
          throw new BadRequestError(
            'send the files as multipart/form-data (fields `file`)',
            undefined,
            'UPLOAD_INVALID',
          )
        }
        let form: FormData
        try {
          form = (await request.formData()) as unknown as FormData
        } catch {
          throw new BadRequestError('the multipart body could not be read', undefined, 'UPLOAD_INVALID')
        }
        const dirField = form.get('dir')
        const dir = typeof dirField === 'string' ? dirField : `projects/${session.record.project}`
        const files: FileUpload[] = []
        for (const entry of form.getAll('file')) {
          if (typeof entry === 'string') continue
          if (files.length >= FILE_LIMITS.maxFiles) {
            throw new AppError(413, 'TOO_MANY_FILES', `at most ${FILE_LIMITS.maxFiles} files at once`)
          }
          files.push({ name: entry.name, data: new Uint8Array(await entry.arrayBuffer()) })
        }
        if (files.length === 0)
          throw new BadRequestError('no file in the upload (field `file`)', undefined, 'UPLOAD_INVALID')
        try {
          // Refused here already, so a refused upload never travels to the runner.
          checkUpload(files)
          workspacePath(dir)
        } catch (err) {
          asAppError(err)
        }
        const result = await exclusive(params.id, () => session.runner.putFiles(dir, files))
        set.status = 201
        set.headers['cache-control'] = 'no-store'
        return ok(result)
      },
      {
        params,
        // why: the body is read here, bounded by Content-Length first, not parsed ahead by Elysia
        parse: 'none',
        detail: {
          summary: "Upload files into a live session's workspace (multipart `file` fields, optional `dir`)",
          description:
            'Authorized by the session resume token (X-Resume-Token). At most 10 files, 8 MiB each, 32 MiB in all; never outside the workspace. See docs/api.md.',
          tags: ['terminal'],
        },
      },
    )
    .get(
      '/api/v1/terminal/sessions/:id/files',
      async ({ params, query, request }) => {
        const session = await authorize(params.id, request.headers.get(RESUME_TOKEN_HEADER))
        const path = query.path ?? ''
        try {
          workspacePath(path)
        } catch (err) {
          asAppError(err)
        }
        const file = await exclusive(params.id, () => session.runner.getFile(path))
        return new Response(file.data as Uint8Array<ArrayBuffer>, {
          headers: {
            'content-type': 'application/octet-stream',
            'content-disposition': disposition(file.name),
            'cache-control': 'no-store',
            'x-content-type-options': 'nosniff',
          },
        })
      },
      {
        params,
        query: t.Object({ path: t.Optional(t.String({ maxLength: FILE_LIMITS.maxPathChars })) }),
        detail: {
          summary: "Download a file of a live session's workspace (?path= relative to ~)",
          description: 'Authorized by the session resume token (X-Resume-Token); at most 8 MiB. See docs/api.md.',
          tags: ['terminal'],
        },
      },
    )
}
