/**
 * Lighthouse on the built site (a measurement, not a test: nothing is asserted).
 *
 *   make build && bun run scripts/lighthouse.ts
 *
 * Starts the real server on a free loopback port with a throwaway DATA_DIR (embedded database,
 * WASI runner), gives it an owner profile with a photo, a project preview and a post with an image
 * and a table, then runs Lighthouse (npm `lighthouse`, web/'s devDependency, under Node) with
 * Debian's Chromium on the home page, a project page and a post, mobile profile (Lighthouse's
 * default: Moto G Power emulation, simulated slow 4G). Prints the four category scores per page and
 * writes them to bench-results/lighthouse.json (full reports in test-artifacts/lighthouse/).
 * LIGHTHOUSE_RUNS (default 1) runs each page that many times and reports the median.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { deflateSync } from 'node:zlib'

const ROOT = join(import.meta.dir, '..')
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const RUNS = Math.max(1, Number(process.env.LIGHTHOUSE_RUNS ?? '1') || 1)
const ADMIN = { email: 'lighthouse@shellfolio.local', password: 'lighthouse-password-0123' }
const CATEGORIES = ['performance', 'accessibility', 'best-practices', 'seo'] as const
const REPORTS = join(ROOT, 'test-artifacts/lighthouse')

/** A PNG with a gradient: an avatar and a preview image without a real photo in the repository. */
function png(width: number, height: number, rgb: [number, number, number]): Uint8Array {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    return c >>> 0
  })
  const crc = (buf: Uint8Array) => {
    let c = 0xffffffff
    for (const b of buf) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8)
    return (c ^ 0xffffffff) >>> 0
  }
  const chunk = (type: string, data: Uint8Array) => {
    const out = Buffer.alloc(12 + data.length)
    out.writeUInt32BE(data.length, 0)
    out.write(type, 4, 'ascii')
    Buffer.from(data).copy(out, 8)
    out.writeUInt32BE(crc(out.subarray(4, 8 + data.length)), 8 + data.length)
    return out
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header.set([8, 2, 0, 0, 0], 8)
  const stride = 1 + width * 3
  const rows = Buffer.alloc(height * stride)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      rows.set(
        rgb.map((v) => (v + ((x + y) >> 3)) & 0xff),
        y * stride + 1 + x * 3,
      )
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', new Uint8Array()),
  ])
}

async function freePort(): Promise<number> {
  const probe = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response() })
  const port = probe.port!
  await probe.stop(true)
  return port
}

async function startServer() {
  const port = await freePort()
  const dataDir = mkdtempSync(join(tmpdir(), 'shellfolio-lighthouse-'))
  const env: Record<string, string | undefined> = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    APP_ENV: 'production',
    JWT_SECRET: 'lighthouse-secret-that-is-long-enough-0123456789',
    LOG_LEVEL: 'warn',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    RUNNERS: 'wasi',
  }
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'S3_BUCKET', 'RUNNER_URLS', 'PUBLIC_ORIGIN']) delete env[name]
  const proc = Bun.spawn(['bun', 'run', 'api/src/index.ts'], { cwd: ROOT, env, stdout: 'ignore', stderr: 'pipe' })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 90_000
  for (;;) {
    if (proc.exitCode !== null)
      throw new Error(`the server exited (${proc.exitCode}): ${await new Response(proc.stderr).text()}`)
    const ok = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    )
    if (ok) break
    if (Date.now() > deadline) throw new Error('the server did not become ready within 90 s')
    await Bun.sleep(250)
  }
  return {
    url,
    stop: async () => {
      proc.kill('SIGTERM')
      await proc.exited
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** The content a real portfolio has: a profile with a photo and links, a project preview, a post. */
async function seed(url: string): Promise<string> {
  const login = await fetch(`${url}/api/v1/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ADMIN),
  })
  const token = ((await login.json()) as { data: { accessToken: string } }).data.accessToken
  const auth = { authorization: `Bearer ${token}` }
  const call = async (path: string, method: string, body: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
    return ((await res.json()) as { data: Record<string, unknown> }).data
  }
  const upload = async (bytes: Uint8Array, name: string) => {
    const form = new FormData()
    form.append('file', new Blob([bytes], { type: 'image/png' }), name)
    const res = await fetch(`${url}/api/v1/media`, { method: 'POST', headers: auth, body: form })
    return ((await res.json()) as { data: { id: string; url: string } }).data
  }
  // Sized as a real photo and screenshot would be: twice the displayed size for dense screens.
  const avatar = await upload(png(288, 288, [40, 90, 160]), 'avatar.png')
  const preview = await upload(png(1280, 720, [20, 120, 60]), 'preview.png')
  await call('/api/v1/site', 'PUT', {
    name: 'Ada Lovelace',
    headline: 'Systems programmer · C, Unix and the web',
    intro: 'I write small, careful programs in C and show them **running**: open a project and type `make`.',
    avatarId: avatar.id,
    location: 'London',
    links: [
      { label: 'GitHub', url: 'https://github.com/example' },
      { label: 'Email', url: 'mailto:ada@example.com' },
    ],
    siteTitle: 'Ada Lovelace',
    siteDescription: 'Programs in C you can build and run in your browser, and notes on writing them.',
  })
  const projects = ((await (await fetch(`${url}/api/v1/projects`)).json()) as { data: { id: string; slug: string }[] })
    .data
  const minirt = projects.find((p) => p.slug === 'minirt')!
  await call(`/api/v1/projects/${minirt.id}`, 'PATCH', { previewMediaId: preview.id })
  await call('/api/v1/posts', 'POST', {
    slug: 'measuring-the-runners',
    title: 'Measuring the runners',
    summary: 'Docker or WebAssembly: what a session costs.',
    tags: ['benchmarks', 'c'],
    status: 'published',
    markdown: `Two runners, one interface.\n\n![a picture](${preview.url})\n\n| runner | open | echo |\n|---|--:|--:|\n| wasi | 2.3 ms | 0.04 ms |\n| docker | 23 ms | 0.47 ms |\n\n\`\`\`c\nint main(void) { return 0; }\n\`\`\`\n`,
  })
  return 'measuring-the-runners'
}

interface Scores {
  page: string
  runs: Record<(typeof CATEGORIES)[number], number[]>
}

async function lighthouse(url: string, name: string): Promise<Record<(typeof CATEGORIES)[number], number>> {
  const cli = Bun.resolveSync('lighthouse/cli/index.js', join(ROOT, 'web'))
  const out = join(REPORTS, `${name}.json`)
  const proc = Bun.spawn(
    [
      'node',
      cli,
      url,
      `--chrome-path=${CHROMIUM}`,
      '--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage',
      `--only-categories=${CATEGORIES.join(',')}`,
      '--output=json',
      `--output-path=${out}`,
      '--quiet',
    ],
    { cwd: ROOT, stdout: 'inherit', stderr: 'inherit', env: { ...process.env, CHROME_PATH: CHROMIUM } },
  )
  if ((await proc.exited) !== 0) throw new Error(`lighthouse failed on ${url}`)
  const report = (await Bun.file(out).json()) as { categories: Record<string, { score: number | null }> }
  return Object.fromEntries(CATEGORIES.map((c) => [c, Math.round((report.categories[c]?.score ?? 0) * 100)])) as Record<
    (typeof CATEGORIES)[number],
    number
  >
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

mkdirSync(REPORTS, { recursive: true })
mkdirSync(join(ROOT, 'bench-results'), { recursive: true })
const loadStart = loadavg()[0]!
const server = await startServer()
try {
  const post = await seed(server.url)
  const pages = [
    ['home', '/'],
    ['project', '/projects/minirt'],
    ['post', `/blog/${post}`],
  ] as const
  const results: Scores[] = []
  for (const [name, path] of pages) {
    const runs = Object.fromEntries(CATEGORIES.map((c) => [c, [] as number[]])) as Scores['runs']
    for (let i = 0; i < RUNS; i++) {
      // Lighthouse sometimes loses the trace of a load (NO_NAVSTART): such a run is repeated, twice at most.
      let scores: Awaited<ReturnType<typeof lighthouse>> | undefined
      for (let attempt = 1; !scores; attempt++) {
        try {
          scores = await lighthouse(`${server.url}${path}`, `${name}-${i + 1}`)
        } catch (err) {
          if (attempt === 3) throw err
          console.log(`lighthouse: ${(err as Error).message}; trying again`)
        }
      }
      for (const c of CATEGORIES) runs[c].push(scores[c])
    }
    results.push({ page: path, runs })
  }
  const loadEnd = loadavg()[0]!
  console.log(
    `\nLighthouse (mobile profile), median of ${RUNS}; load average ${loadStart.toFixed(2)} → ${loadEnd.toFixed(2)}\n`,
  )
  console.log('| page | performance | accessibility | best practices | SEO |')
  console.log('|---|---|---|---|---|')
  for (const r of results) {
    console.log(`| ${r.page} | ${CATEGORIES.map((c) => median(r.runs[c])).join(' | ')} |`)
  }
  writeFileSync(
    join(ROOT, 'bench-results/lighthouse.json'),
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        cpus: cpus().length,
        loadAverage: { start: loadStart, end: loadEnd },
        runs: RUNS,
        pages: results.map((r) => ({
          page: r.page,
          median: Object.fromEntries(CATEGORIES.map((c) => [c, median(r.runs[c])])),
          runs: r.runs,
        })),
      },
      null,
      2,
    )}\n`,
  )
} finally {
  await server.stop()
}
