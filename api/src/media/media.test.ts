import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { adminHeaders, contentDeps } from '../../test/content.ts'
import { BACKENDS, type Backend, openBackend, req } from '../../test/harness.ts'
import { testS3Storage } from '../../test/s3.ts'
import { type AppDeps, createApp } from '../app.ts'

type Json = { data: Record<string, unknown> | null; meta: unknown; error: Record<string, unknown> | null }

const PNG = new Uint8Array([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
  0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0a, 0x49,
  0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00,
  0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
])
const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0xff, 0xd9])
const GIF = new TextEncoder().encode('GIF89a\x01\x00\x01\x00\x00\x00\x00;')
const WEBP = new Uint8Array([...new TextEncoder().encode('RIFF'), 4, 0, 0, 0, ...new TextEncoder().encode('WEBPVP8 ')])
const PDF = new TextEncoder().encode('%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n')
const EXE = new Uint8Array([0x4d, 0x5a, 0x90, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0xff, 0xff])
const ELF = new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00, 0x00])

/** A multipart request with an exact Content-Length, as a browser sends it. */
function upload(
  path: string,
  bytes: Uint8Array,
  name: string,
  type: string,
  headers: Record<string, string>,
  field = 'file',
): Request {
  const boundary = `----shellfolio${randomBytes(8).toString('hex')}`
  const head = new TextEncoder().encode(
    `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${name}"\r\nContent-Type: ${type}\r\n\r\n`,
  )
  const tail = new TextEncoder().encode(`\r\n--${boundary}--\r\n`)
  const body = new Uint8Array(head.length + bytes.length + tail.length)
  body.set(head)
  body.set(bytes, head.length)
  body.set(tail, head.length + bytes.length)
  return new Request(`http://localhost${path}`, {
    method: 'POST',
    headers: {
      ...headers,
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'content-length': String(body.length),
    },
    body,
  })
}

describe.each(BACKENDS)('media on %s', (kind) => {
  let backend: Backend
  let deps: AppDeps
  let app: ReturnType<typeof createApp>
  let admin: { authorization: string }

  beforeAll(async () => {
    backend = await openBackend(kind)
    deps = contentDeps(backend, { UPLOAD_LIMIT: '65536' })
    app = createApp(deps)
    admin = await adminHeaders(deps)
  }, 60_000)
  afterAll(() => backend.close())

  const send = async (bytes: Uint8Array, name: string, type: string, headers: Record<string, string> = admin) =>
    app.handle(await upload('/api/v1/media', bytes, name, type, headers))

  test('an admin uploads a PNG and anyone downloads it with safe, immutable caching headers', async () => {
    const res = await send(PNG, 'pixel.png', 'image/png')
    const body = (await res.json()) as Json
    expect(res.status).toBe(201)
    expect(body).toEqual({
      data: {
        id: expect.any(String),
        url: `/api/v1/media/${body.data?.id}`,
        contentType: 'image/png',
        size: PNG.length,
      },
      meta: null,
      error: null,
    })
    const got = await app.handle(req(String(body.data?.url)))
    expect(got.status).toBe(200)
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(PNG)
    expect(got.headers.get('content-type')).toBe('image/png')
    expect(got.headers.get('x-content-type-options')).toBe('nosniff')
    expect(got.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(got.headers.get('content-disposition')).toBe(`inline; filename="${body.data?.id}.png"`)
    expect(got.headers.get('content-security-policy')).toContain('sandbox')
    const etag = got.headers.get('etag')!
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/)
    const again = await app.handle(req(String(body.data?.url), { headers: { 'if-none-match': etag } }))
    expect(again.status).toBe(304)
    expect(await again.text()).toBe('')
  })

  test('each accepted type is recognised from its bytes', async () => {
    const cases: [Uint8Array, string, string][] = [
      [JPEG, 'a.jpeg', 'image/jpeg'],
      [GIF, 'a.gif', 'image/gif'],
      [WEBP, 'a.webp', 'image/webp'],
      [PDF, 'a.pdf', 'application/pdf'],
      [new TextEncoder().encode('hello\nworld\t✓\n'), 'notes', 'text/plain; charset=utf-8'],
    ]
    for (const [bytes, name, expected] of cases) {
      const res = await send(bytes, name, 'application/octet-stream')
      const body = (await res.json()) as Json
      expect({ name, status: res.status, type: body.data?.contentType }).toEqual({ name, status: 201, type: expected })
      const got = await app.handle(req(String(body.data?.url)))
      expect(got.headers.get('content-type')).toBe(expected)
      if (expected === 'application/pdf') expect(got.headers.get('content-disposition')).toStartWith('attachment;')
    }
  })

  test('a PNG renamed .txt and declared text/plain is stored and served as a PNG', async () => {
    const res = await send(PNG, 'innocent.txt', 'text/plain')
    const body = (await res.json()) as Json
    expect(res.status).toBe(201)
    expect(body.data?.contentType).toBe('image/png')
    const got = await app.handle(req(String(body.data?.url)))
    expect(got.headers.get('content-type')).toBe('image/png')
    expect(got.headers.get('content-disposition')).not.toContain('innocent')
  })

  test('executables and markup claiming to be images are refused with a clear 415', async () => {
    const refused: [Uint8Array, string, RegExp][] = [
      [EXE, 'photo.png', /Windows executable/],
      [ELF, 'photo.png', /ELF executable/],
      [new TextEncoder().encode('<!DOCTYPE html><script>alert(1)</script>'), 'photo.png', /markup/],
      [new TextEncoder().encode('  <html><body onload=alert(1)>'), 'photo.png', /markup/],
      [new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'), 'logo.svg', /markup/],
      [new TextEncoder().encode('<?xml version="1.0"?><x/>'), 'a.png', /markup/],
      [new Uint8Array(randomBytes(64).map((b) => b | 0x80)), 'noise.png', /unrecognised/],
    ]
    for (const [bytes, name, message] of refused) {
      const res = await send(bytes, name, 'image/png')
      const body = (await res.json()) as Json
      expect({ name, status: res.status, code: body.error?.code, data: body.data }).toEqual({
        name,
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
        data: null,
      })
      expect(String(body.error?.message)).toMatch(message)
      expect(String(body.error?.message)).toContain('accepted are PNG, JPEG, GIF, WebP, PDF or plain UTF-8 text')
    }
  })

  test('an oversized upload is a 413, an empty one a 400, a missing field a 400', async () => {
    const big = new Uint8Array(70_000)
    big.set(PNG)
    const res = await send(big, 'big.png', 'image/png')
    const body = (await res.json()) as Json
    expect({ status: res.status, code: body.error?.code }).toEqual({ status: 413, code: 'PAYLOAD_TOO_LARGE' })
    // Under the request limit but over the file limit (the multipart overhead is small): still refused.
    const small = createApp(contentDeps(backend, { UPLOAD_LIMIT: '1024' }))
    const justOver = new Uint8Array(1025)
    justOver.set(PNG)
    const form = new FormData()
    form.append('file', new File([justOver], 'x.png'))
    const direct = await small.handle(
      new Request('http://localhost/api/v1/media', { method: 'POST', headers: admin, body: form }),
    )
    expect(direct.status).toBe(413)
    expect(((await direct.json()) as Json).error?.code).toBe('PAYLOAD_TOO_LARGE')

    const empty = await send(new Uint8Array(), 'empty.png', 'image/png')
    expect({ status: empty.status, code: ((await empty.json()) as Json).error?.code }).toEqual({
      status: 400,
      code: 'EMPTY_FILE',
    })
    const wrongField = await app.handle(await upload('/api/v1/media', PNG, 'a.png', 'image/png', admin, 'image'))
    expect({ status: wrongField.status, code: ((await wrongField.json()) as Json).error?.code }).toEqual({
      status: 400,
      code: 'VALIDATION_FAILED',
    })
  })

  test('uploading needs an admin token; listing and deleting too; deleted media is no longer served', async () => {
    const anon = await send(PNG, 'a.png', 'image/png', {})
    expect(anon.status).toBe(401)
    expect(((await anon.json()) as Json).error?.code).toBeString()
    expect((await app.handle(req('/api/v1/media'))).status).toBe(401)

    const created = ((await (await send(PNG, 'a.png', 'image/png')).json()) as Json).data!
    const list = (await (await app.handle(req('/api/v1/media', { headers: admin }))).json()) as Json
    expect(
      (list.data as unknown as { id: string; originalName: string }[]).find((m) => m.id === created.id),
    ).toMatchObject({ originalName: 'a.png', contentType: 'image/png' })
    expect((await app.handle(req(`/api/v1/media/${created.id}`, { method: 'DELETE' }))).status).toBe(401)
    const del = await app.handle(req(`/api/v1/media/${created.id}`, { method: 'DELETE', headers: admin }))
    expect(await del.json()).toEqual({ data: { id: created.id, deleted: true }, meta: null, error: null })
    const gone = await app.handle(req(`/api/v1/media/${created.id}`))
    expect(gone.status).toBe(404)
    expect(((await gone.json()) as Json).error?.code).toBe('MEDIA_NOT_FOUND')
  })

  test('unknown or malformed ids are envelopes, never a file', async () => {
    const unknown = await app.handle(req('/api/v1/media/00000000-0000-4000-8000-000000000000'))
    expect(unknown.status).toBe(404)
    expect(((await unknown.json()) as Json).error?.code).toBe('MEDIA_NOT_FOUND')
    const malformed = await app.handle(req('/api/v1/media/..%2F..%2Fetc%2Fpasswd'))
    expect(malformed.status).toBe(400)
    expect(((await malformed.json()) as Json).error?.code).toBe('VALIDATION_FAILED')
  })

  test('the same upload and download work with the S3 adapter', async () => {
    const s3App = createApp({ ...contentDeps(backend), mediaStorage: testS3Storage(`http-${kind}-${Date.now()}/`) })
    const res = await s3App.handle(await upload('/api/v1/media', PNG, 'disguised.txt', 'text/plain', admin))
    const body = (await res.json()) as Json
    expect({ status: res.status, type: body.data?.contentType }).toEqual({ status: 201, type: 'image/png' })
    const got = await s3App.handle(req(String(body.data?.url)))
    expect(got.headers.get('content-type')).toBe('image/png')
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(PNG)
  })

  test('the media routes are in the OpenAPI document', async () => {
    const spec = (await (await app.handle(req('/api/openapi.json'))).json()) as {
      paths: Record<string, Record<string, { requestBody?: { content?: Record<string, unknown> } }>>
    }
    expect(spec.paths['/api/v1/media']?.post?.requestBody?.content).toHaveProperty('multipart/form-data')
    const download = spec.paths['/api/v1/media/{id}']?.get as { responses?: Record<string, { content?: object }> }
    expect(download.responses?.['200']?.content).toHaveProperty('image/png')
    expect(download.responses?.['404']?.content).toHaveProperty('application/json')
    expect(spec.paths['/api/v1/media/{id}']?.delete).toBeDefined()
  })
})
