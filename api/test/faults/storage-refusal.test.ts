import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { TerminalClient } from '../scale/instances.ts'
import { nextIp } from './load.ts'
import { type ApiProcess, freePort, type S3Server, signIn, startApi, startS3Server } from './services.ts'

/**
 * The S3 bucket refusing writes while it still answers reads (docs/faults.md, "S3 or the media
 * folder"): a bucket policy that denies PutObject (403 AccessDenied) and a bucket over its quota
 * (MinIO's 400 XMinioAdminBucketQuotaExceeded). s3rver cannot refuse, so a loopback proxy in front
 * of it answers PutObject with S3's own error document while refusing; everything else reaches
 * s3rver. Expected: uploads 503 STORAGE_UNAVAILABLE naming S3's reason, with Retry-After, never a
 * 500; stored media still served; nothing half-done (no row without its object, no refused upload
 * stored); a session that ends meanwhile gets its recording stored once writes work again; each
 * refusal spell is one outage (one log line, one Problems count), and uploads work within seconds
 * of the bucket taking writes again.
 */

const admin = { email: 'bucket@example.com', password: 'bucket-refusal-password-1' }
let s3: S3Server
let proxy: ReturnType<typeof Bun.serve>
let refusing: null | { status: number; code: string; message: string } = null
let api: ApiProcess
let token = ''
const accepted: { id: string; text: string }[] = []
const report: string[] = []
let n = 0
/** Media rows and objects there before the test's uploads (a seed may store some). */
let before: { rows: Set<string>; objects: number }

const DENIED = { status: 403, code: 'AccessDenied', message: 'Access Denied' }
const QUOTA = { status: 400, code: 'XMinioAdminBucketQuotaExceeded', message: 'Bucket quota exceeded' }

/** Forwards to s3rver with the Host the request was signed for; refuses PutObject while `refusing`. */
function startProxy(port: number) {
  return Bun.serve({
    hostname: '127.0.0.1',
    port,
    async fetch(req) {
      const url = new URL(req.url)
      if (refusing && req.method === 'PUT' && !url.searchParams.has('uploadId')) {
        await req.arrayBuffer()
        const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${refusing.code}</Code><Message>${refusing.message}</Message><RequestId>fault</RequestId></Error>`
        return new Response(body, { status: refusing.status, headers: { 'content-type': 'application/xml' } })
      }
      const headers = new Headers(req.headers)
      const res = await fetch(`${s3.endpoint}${url.pathname}${url.search}`, {
        method: req.method,
        headers,
        body: req.method === 'GET' || req.method === 'HEAD' ? undefined : await req.arrayBuffer(),
        decompress: false,
      } as RequestInit)
      const out = new Headers(res.headers)
      out.delete('content-encoding')
      out.delete('transfer-encoding')
      out.delete('content-length')
      return new Response(req.method === 'HEAD' ? null : await res.arrayBuffer(), { status: res.status, headers: out })
    },
  })
}

async function mediaRows(): Promise<string[]> {
  const res = await api.fetch('/api/v1/media', { token, ip: nextIp() })
  expect(res.status).toBe(200)
  return ((await res.json()) as { data: { id: string }[] }).data.map((r) => r.id)
}

const mediaObjects = () => s3.objects().filter((o) => o.startsWith('media/')).length

async function upload(): Promise<{ status: number; code?: string; message?: string; retryAfter: string | null }> {
  const text = `a note for a refusing bucket ${++n} ${randomBytes(4).toString('hex')}\n`
  const form = new FormData()
  form.set('file', new File([text], 'note.txt', { type: 'text/plain' }))
  const res = await api.fetch('/api/v1/media', { method: 'POST', token, ip: nextIp(), body: form })
  const body = (await res.json()) as { data?: { id: string }; error?: { code: string; message: string } }
  if (res.status === 201 && body.data) accepted.push({ id: body.data.id, text })
  return {
    status: res.status,
    code: body.error?.code,
    message: body.error?.message,
    retryAfter: res.headers.get('retry-after'),
  }
}

async function openSession(): Promise<{ client: TerminalClient; sessionId: string }> {
  const ip = nextIp()
  const res = await api.fetch('/api/v1/terminal/sessions', {
    method: 'POST',
    ip,
    json: { project: 'calc', runner: 'wasi' },
  })
  if (res.status !== 201) throw new Error(`session request failed: ${res.status} ${await res.text()}`)
  const { data } = (await res.json()) as { data: { ticket: string; sessionId: string } }
  const client = await TerminalClient.open(
    `${api.url.replace(/^http/, 'ws')}/api/v1/terminal/ws?ticket=${encodeURIComponent(data.ticket)}`,
    { ip },
  )
  return { client, sessionId: data.sessionId }
}

/** One refusal spell: uploads refused with the code and S3's reason; then writes work again. */
async function spell(refusal: typeof DENIED): Promise<{ refused: number; recoverMs: number }> {
  refusing = refusal
  const answers = []
  for (let i = 0; i < 6; i++) {
    answers.push(await upload())
    await Bun.sleep(150)
  }
  // Stored media are still served while writes are refused.
  const stored = accepted[0]!
  const read = await api.fetch(`/api/v1/media/${stored.id}`, { ip: nextIp() })
  expect(read.status).toBe(200)
  expect(await read.text()).toBe(stored.text)
  // A post does not need storage.
  const post = await api.fetch('/api/v1/posts', {
    method: 'POST',
    token,
    ip: nextIp(),
    json: { slug: `bucket-${++n}`, title: 'While refusing', markdown: 'x', status: 'published' },
  })
  expect(post.status).toBe(201)
  refusing = null
  const back = Date.now()
  let after = await upload()
  while (after.status !== 201 && Date.now() - back < 30_000) {
    await Bun.sleep(100)
    after = await upload()
  }
  const recoverMs = Date.now() - back
  expect(after.status).toBe(201)
  // The outage monitor's write probe notices too (one recovery line per spell).
  const recoveries = () => api.logs().split('"msg":"storage recovered"').length - 1
  const spells = api.logs().split('"msg":"storage unavailable:').length - 1
  while (recoveries() < spells && Date.now() - back < 30_000) await Bun.sleep(100)
  expect(recoveries()).toBe(spells)
  expect(answers.filter((a) => a.status >= 500 && a.status !== 503)).toEqual([])
  for (const a of answers) {
    expect(a).toMatchObject({ status: 503, code: 'STORAGE_UNAVAILABLE', retryAfter: '5' })
    expect(a.message).toContain(`(${refusal.code})`)
  }
  report.push(
    `${refusal.status} ${refusal.code}: ${answers.length} uploads refused with 503 STORAGE_UNAVAILABLE; uploads work ${recoverMs} ms after the bucket takes writes again`,
  )
  return { refused: answers.length, recoverMs }
}

beforeAll(async () => {
  s3 = await startS3Server()
  const port = await freePort()
  proxy = startProxy(port)
  api = await startApi({
    APP_ENV: 'test',
    LOG_LEVEL: 'warn',
    ADMIN_EMAIL: admin.email,
    ADMIN_PASSWORD: admin.password,
    JWT_SECRET: randomBytes(48).toString('base64url'),
    TRUST_PROXY_HOPS: '1',
    RUNNERS: 'wasi',
    TERMINAL_MAX_PER_IP: '1000',
    S3_BUCKET: s3.bucket,
    S3_ENDPOINT: `http://127.0.0.1:${port}`,
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
  })
  token = await signIn(api, admin, nextIp())
  before = { rows: new Set(await mediaRows()), objects: mediaObjects() }
  expect((await upload()).status).toBe(201)
}, 120_000)

afterAll(async () => {
  process.stderr.write(`\n── S3 bucket refusing writes ──\n${report.map((l) => `  ${l}`).join('\n')}\n\n`)
  await api?.stop()
  proxy?.stop(true)
  await s3?.[Symbol.asyncDispose]()
}, 60_000)

describe('the S3 bucket refusing writes', () => {
  test('AccessDenied, then a quota: 503 STORAGE_UNAVAILABLE naming the reason, one outage each, then uploads work', async () => {
    // A session that ends while the bucket refuses: its recording is stored once writes work again.
    const session = await openSession()
    session.client.type('echo recorded\r')
    await session.client.sees('\nrecorded', 30_000)
    refusing = DENIED
    session.client.type('exit\r')
    await session.client.message('exit', 30_000)
    await spell(DENIED)
    await spell(QUOTA)

    const key = `recordings/${session.sessionId}.cast`
    const deadline = Date.now() + 30_000
    const stored = () => s3.objects().some((o) => o === `${key}._S3rver_object`)
    while (!stored() && Date.now() < deadline) await Bun.sleep(200)
    expect(stored()).toBe(true)
    const recording = await api.fetch(`/api/v1/terminal/sessions/${session.sessionId}/recording`, {
      token,
      ip: nextIp(),
    })
    expect(recording.status).toBe(200)
    expect(await recording.text()).toContain('recorded')
    report.push('recording of the session that ended while refused: stored once writes worked again')
  }, 120_000)

  test('nothing half-done: every accepted upload has its row and object, no refused one is listed', async () => {
    const rows = (await mediaRows()).filter((id) => !before.rows.has(id))
    expect(rows.sort()).toEqual(accepted.map((a) => a.id).sort())
    for (const a of accepted) {
      const got = await api.fetch(`/api/v1/media/${a.id}`, { ip: nextIp() })
      expect(got.status).toBe(200)
      expect(await got.text()).toBe(a.text)
    }
    const objects = mediaObjects() - before.objects
    report.push(
      `uploads: ${accepted.length} accepted, ${rows.length} new rows, ${objects} new media objects; lost: nothing`,
    )
    expect(objects).toBe(accepted.length)
  }, 60_000)

  test('each refusal spell is one outage: one log line each way, one Problems group counting both', async () => {
    const log = api.logs()
    expect(log.split('"msg":"storage unavailable:').length - 1).toBe(2)
    expect(log.split('"msg":"storage recovered"').length - 1).toBe(2)
    const metrics = await (await api.fetch('/metrics')).text()
    expect(metrics).toContain('shellfolio_dependency_outages_total{dependency="storage"} 2')
    const res = await api.fetch('/api/v1/problems', { token, ip: nextIp() })
    const { data } = (await res.json()) as { data: { code: string; route: string; count: number; message: string }[] }
    const group = data.filter((p) => p.route === 'dependency:storage')
    report.push(`problems: ${JSON.stringify(data.map((p) => [p.code, p.route, p.count]))}`)
    expect(group.map((p) => [p.code, p.count])).toEqual([['STORAGE_UNAVAILABLE', 2]])
    expect(data.filter((p) => p.code === 'INTERNAL')).toEqual([])
  }, 60_000)
})
