/**
 * The runner-service side of files in and out (docs/terminal-protocol.md, "The internal protocol"):
 * `/v1/files` takes only a `files` grant, a `files` grant opens nothing, and each grant is bound to
 * one session, one operation and one path. The contract's file cases run behind a service in
 * remote.test.ts; this file checks the hop's own refusals.
 */
import { afterAll, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { selftestProject } from '../test-fixtures.ts'
import { createWasiRunner } from '../wasi/index.ts'
import { FILES_PATH, MAX_UPLOAD_BODY } from './files.ts'
import { signGrant } from './grant.ts'
import { SESSIONS_PATH } from './protocol.ts'
import { createRemotePool } from './runner.ts'
import { createRunnerServer } from './server.ts'

const TOKEN = `remote-files-test-${randomBytes(12).toString('hex')}`
const svc = createRunnerServer({ runners: [createWasiRunner()], token: TOKEN, port: 0 })
const pool = createRemotePool({ urls: [svc.url], token: TOKEN })
afterAll(async () => {
  await pool.close()
  await svc.close()
})
const http = svc.url.replace('ws', 'http')
const grant = (body: Parameters<typeof signGrant>[1]) => ({
  authorization: `Grant ${signGrant(TOKEN, body, svc.boot)}`,
})

test('/v1/files takes only a files grant, for a live session, and only in its direction', async () => {
  await pool.refresh()
  const session = await pool.runner('wasi').open({ project: selftestProject(), size: { cols: 80, rows: 24 } })
  try {
    const makefile = `projects/${selftestProject().slug}/Makefile`
    // A files grant opens no session; an open grant reads no file.
    const asSession = await fetch(`${http}${SESSIONS_PATH}`, {
      headers: grant({ typ: 'files', op: 'get', session: session.id, path: makefile }),
    })
    expect(asSession.status).toBe(403)
    const openGrant = {
      typ: 'open',
      kind: 'wasi',
      options: { project: selftestProject(), size: { cols: 80, rows: 24 } },
    } as const
    expect((await fetch(`${http}${FILES_PATH}`, { headers: grant(openGrant) })).status).toBe(403)
    expect((await fetch(`${http}${FILES_PATH}`)).status).toBe(401)
    // The grant's path is the one read, and a grant is used once.
    const headers = grant({ typ: 'files', op: 'get', session: session.id, path: makefile })
    const ok = await fetch(`${http}${FILES_PATH}?path=../../etc/passwd`, { headers })
    expect(ok.status).toBe(200)
    expect(await ok.text()).toContain('flood')
    expect((await fetch(`${http}${FILES_PATH}`, { headers })).status).toBe(401)
    // A download grant does not upload.
    const form = new FormData()
    form.append('file', new Blob(['x']), 'x.txt')
    const put = await fetch(`${http}${FILES_PATH}`, {
      method: 'POST',
      body: form,
      headers: grant({ typ: 'files', op: 'get', session: session.id, path: makefile }),
    })
    expect(put.status).toBe(400)
    // An upload body over the bound is refused from its length.
    const big = new FormData()
    big.append('file', new Blob([new Uint8Array(MAX_UPLOAD_BODY)]), 'big.bin')
    const tooBig = await fetch(`${http}${FILES_PATH}`, {
      method: 'POST',
      body: big,
      headers: grant({ typ: 'files', op: 'put', session: session.id, dir: '' }),
    })
    expect(tooBig.status).toBe(413)
    // An unknown session.
    const gone = await fetch(`${http}${FILES_PATH}`, {
      headers: grant({ typ: 'files', op: 'get', session: `${svc.boot}:nope`, path: makefile }),
    })
    expect(gone.status).toBe(404)
    expect(((await gone.json()) as { error: { code: string } }).error.code).toBe('SESSION_GONE')
  } finally {
    await session.kill()
  }
}, 60_000)
