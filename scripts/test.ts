/**
 * `make test`: installs and starts what the suites need (idempotent), runs every suite, and ends
 * with exactly one line `N passed, N failed` summed over all suites. A suite that cannot run counts
 * as failed and says why; the exit code is non-zero on any failure.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const ROOT = join(import.meta.dir, '..')
const ARTIFACTS = join(ROOT, 'test-artifacts')
const args = new Set(process.argv.slice(2))
/** `bun run test --only api,runner` runs a subset (setup steps for others are skipped). */
const onlyArg = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length)
const only = onlyArg ? new Set(onlyArg.split(',')) : undefined

interface Result {
  name: string
  passed: number
  failed: number
  skipped: number
  problem?: string
  /** Names of the failed tests (from the JUnit report), printed in the summary. */
  failures?: string[]
  /** What was left out on purpose (SuiteOptions.filtered), printed in the summary. */
  note?: string
}
const results: Result[] = []

/** How many tests of a JUnit report were skipped because their full names do not match `pattern`. */
function filteredOut(xml: string, pattern: RegExp): number {
  let n = 0
  for (const part of xml.split('<testcase').slice(1)) {
    const body = part.split('</testcase>')[0] ?? ''
    if (!/<skipped\b/.test(body)) continue
    const tag = body.slice(0, body.indexOf('>') + 1)
    const full = ['classname', 'name'].map((a) => tag.match(new RegExp(`\\b${a}="([^"]*)"`))?.[1] ?? '').join(' ')
    if (!pattern.test(full)) n++
  }
  return n
}

/** The failed tests of a JUnit report, as `file > describe > name`. */
function failedTests(xml: string): string[] {
  const attr = (tag: string, name: string) =>
    (tag.match(new RegExp(`\\b${name}="([^"]*)"`))?.[1] ?? '')
      .replace(/&#10;/g, '\n')
      .replace(/&quot;/g, '"')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&apos;/g, "'")
      .replace(/&amp;/g, '&')
  const out: string[] = []
  for (const part of xml.split('<testcase').slice(1)) {
    const body = part.split('</testcase>')[0] ?? ''
    if (!/<(failure|error)\b/.test(body)) continue
    const tag = body.slice(0, body.indexOf('>') + 1)
    const where = [attr(tag, 'file'), attr(tag, 'classname')].filter(Boolean)
    // why the message and the line: CI may keep only the end of the log, and a timing failure
    // that does not recur is diagnosed from these alone
    const failure = body.match(/<(?:failure|error)\b[^>]*>/)?.[0] ?? ''
    const at = (body.match(/\bat [^&<]*?:\d+:\d+/)?.[0] ?? '').slice(0, 200)
    const message = attr(failure, 'message').replace(/\s+/g, ' ').trim().slice(0, 300)
    out.push(
      [...new Set(where), attr(tag, 'name')].join(' > ') + (message ? `\n      ${message}${at ? ` (${at})` : ''}` : ''),
    )
  }
  return out
}
const env: Record<string, string> = { ...(process.env as Record<string, string>), APP_ENV: 'test', FORCE_COLOR: '0' }

const started = performance.now()
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)}s`
const say = (line: string) => console.log(`[test ${elapsed()}] ${line}`)

async function run(
  cmd: string[],
  opts: { cwd?: string; quiet?: boolean; env?: Record<string, string> } = {},
): Promise<{ code: number; out: string }> {
  const proc = Bun.spawn(cmd, {
    cwd: opts.cwd ?? ROOT,
    env: { ...env, ...opts.env },
    stdout: opts.quiet ? 'pipe' : 'inherit',
    stderr: opts.quiet ? 'pipe' : 'inherit',
    stdin: 'ignore',
  })
  // why both at once: a child that fills one pipe while the other is being drained would block
  const out = opts.quiet
    ? (await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()])).join('')
    : ''
  return { code: await proc.exited, out }
}

/** A setup step that fails is recorded as a failed check and the run goes on. */
async function step(name: string, fn: () => Promise<void>): Promise<boolean> {
  say(`setup: ${name}…`)
  try {
    await fn()
    say(`setup: ${name} ✓`)
    return true
  } catch (err) {
    const problem = err instanceof Error ? err.message : String(err)
    say(`setup: ${name} ✗ ${problem}`)
    results.push({ name: `setup: ${name}`, passed: 0, failed: 1, skipped: 0, problem })
    return false
  }
}

const wants = (suite: string) => !only || only.has(suite)

async function ensureServices() {
  // PostgreSQL and Redis are provided by the machine; start them if they stopped.
  const pgUp = async () =>
    (await run(['pg_isready', '-h', '127.0.0.1', '-p', '5432', '-q'], { quiet: true })).code === 0
  if (!(await pgUp())) {
    const versions = existsSync('/etc/postgresql')
      ? (await run(['ls', '/etc/postgresql'], { quiet: true })).out.trim()
      : ''
    if (versions)
      await run(['pg_ctlcluster', '--skip-systemctl-redirect', versions.split('\n')[0]!, 'main', 'start'], {
        quiet: true,
      })
    if (!(await pgUp())) throw new Error('PostgreSQL is not answering on 127.0.0.1:5432 and could not be started')
  }
  const redisUp = async () =>
    (await run(['redis-cli', '-h', '127.0.0.1', 'ping'], { quiet: true })).out.includes('PONG')
  if (!(await redisUp())) {
    await run(
      [
        'redis-server',
        '--daemonize',
        'yes',
        '--bind',
        '127.0.0.1',
        '--port',
        '6379',
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { quiet: true },
    )
    if (!(await redisUp())) throw new Error('Redis is not answering on 127.0.0.1:6379 and could not be started')
  }
}

/** One database per test run so runs never see each other's data (suites make their own inside it too). */
async function createRunDatabase(): Promise<() => Promise<void>> {
  const base = process.env.TEST_PG_ADMIN_URL ?? 'postgres://root@127.0.0.1:5432/postgres'
  const name = `shellfolio_run_${Date.now().toString(36)}`
  const psql = (sql: string) => run(['psql', base, '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], { quiet: true })
  const created = await psql(`create database ${name}`)
  if (created.code !== 0) throw new Error(`could not create the test database: ${created.out.trim()}`)
  const url = new URL(base)
  url.pathname = `/${name}`
  env.TEST_DATABASE_URL = url.toString()
  env.TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
  return async () => {
    await psql(`drop database if exists ${name} with (force)`)
  }
}

async function ensureDocker() {
  const script = join(ROOT, 'scripts/ensure-docker.sh')
  if (!existsSync(script)) throw new Error('scripts/ensure-docker.sh is missing')
  const { code } = await run(['bash', script])
  if (code !== 0) throw new Error(`scripts/ensure-docker.sh exited with ${code}`)
  // the sandbox (c) image, and the toolchain images the import suites and e2e run (docs/projects.md)
  const build = await run(['bun', 'run', 'runner/image/build.ts', '--runtime', 'c,python,go'])
  if (build.code !== 0) throw new Error(`the sandbox image build failed (exit ${build.code})`)
  env.DOCKER_AVAILABLE = '1'
}

async function ensureChromium() {
  if (existsSync('/usr/bin/chromium')) return
  if (process.getuid?.() !== 0)
    throw new Error('Chromium is missing and installing it needs root: apt-get install chromium')
  const update = await run(['apt-get', 'update', '-qq'], { quiet: true })
  if (update.code !== 0) throw new Error(`apt-get update failed: ${update.out.slice(-300)}`)
  const install = await run(['apt-get', 'install', '-y', '-qq', 'chromium'], { quiet: true })
  if (install.code !== 0) throw new Error(`apt-get install chromium failed: ${install.out.slice(-300)}`)
}

// ── ops suite (production issue: deploy/, scripts/backup.sh, scale-out) ──────────────────────────
/**
 * docker-compose (v1, Debian) and nginx-light validate docker-compose.yml and deploy/nginx.conf;
 * ModSecurity's nginx module and the OWASP Core Rule Set are the WAF deploy/nginx.conf loads (the
 * ops suite, the scale-out test and the e2e suite run requests through it).
 */
async function ensureOpsTools() {
  const composeV2 = Bun.which('docker') && (await run(['docker', 'compose', 'version'], { quiet: true })).code === 0
  const missing = [
    ...(composeV2 || Bun.which('docker-compose') ? [] : ['docker-compose']),
    ...(Bun.which('nginx') || existsSync('/usr/sbin/nginx') ? [] : ['nginx-light']),
    ...(existsSync('/usr/lib/nginx/modules/ngx_http_modsecurity_module.so') ? [] : ['libnginx-mod-http-modsecurity']),
    ...(existsSync('/usr/share/modsecurity-crs/rules') ? [] : ['modsecurity-crs']),
  ]
  if (missing.length === 0) return
  if (process.getuid?.() !== 0)
    throw new Error(`${missing.join(', ')} missing; install with apt-get install ${missing.join(' ')}`)
  const update = await run(['apt-get', 'update', '-qq'], { quiet: true })
  if (update.code !== 0) throw new Error(`apt-get update failed: ${update.out.slice(-300)}`)
  const install = await run(['apt-get', 'install', '-y', '-qq', ...missing], { quiet: true })
  if (install.code !== 0) throw new Error(`apt-get install ${missing.join(' ')} failed: ${install.out.slice(-300)}`)
}
// ── end ops suite ────────────────────────────────────────────────────────────────────────────────

/**
 * A real S3-protocol server for the media contract suite: s3rver (npm, runs under Bun) on a
 * loopback port with a temporary directory, stopped and removed at the end of the run.
 */
async function startS3(): Promise<() => Promise<void>> {
  const dir = mkdtempSync(join(tmpdir(), 'shellfolio-s3-'))
  const { default: S3rver } = (await import(Bun.resolveSync('s3rver', join(ROOT, 'api')))) as {
    default: new (options: object) => { run(): Promise<{ port: number }>; close(): Promise<void> }
  }
  const bucket = 'shellfolio-test'
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: dir,
    configureBuckets: [{ name: bucket }],
  })
  const { port } = await server.run()
  env.TEST_S3_ENDPOINT = `http://127.0.0.1:${port}`
  env.TEST_S3_BUCKET = bucket
  env.TEST_S3_REGION = 'us-east-1'
  // s3rver's fixed development credentials.
  env.TEST_S3_ACCESS_KEY_ID = 'S3RVER'
  env.TEST_S3_SECRET_ACCESS_KEY = 'S3RVER'
  return async () => {
    await server.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

interface SuiteOptions {
  /** The `--only` name that selects it (default: its own name). */
  only?: string
  /**
   * Only the tests whose full names match run (`bun test -t`); those filtered out are counted
   * apart from the skipped ones and named by `filtered.what` in the summary.
   */
  filtered?: { pattern: string; what: string }
  /** Environment on top of the run's (e.g. SANDBOX_RUNTIME). */
  env?: Record<string, string>
  /** Collect the output and print it when the suite ends (a suite running beside another). */
  quiet?: boolean
  /** More `bun test` arguments (e.g. `--path-ignore-patterns`). */
  args?: string[]
}

/** Runs one bun test suite and reads its counts from the JUnit report. */
async function bunSuite(name: string, paths: string[], options: SuiteOptions = {}) {
  if (!wants(options.only ?? name)) return
  const report = join(ARTIFACTS, `junit-${name.replace(/[^a-z0-9-]+/gi, '-')}.xml`)
  rmSync(report, { force: true })
  const envText = Object.entries(options.env ?? {})
    .map(([k, v]) => `${k}=${v} `)
    .join('')
  say(
    `suite ${name}: ${envText}bun test ${[...paths, ...(options.args ?? [])].join(' ')}${options.quiet ? ' (output when it ends)' : ''}`,
  )
  const { code, out } = await run(
    [
      'bun',
      'test',
      ...paths,
      ...(options.args ?? []),
      ...(options.filtered ? ['-t', options.filtered.pattern] : []),
      '--timeout=30000',
      '--reporter=junit',
      `--reporter-outfile=${report}`,
    ],
    { quiet: options.quiet, env: options.env },
  )
  if (options.quiet) {
    say(`suite ${name} output:`)
    process.stdout.write(out)
  }
  if (!existsSync(report)) {
    results.push({ name, passed: 0, failed: 1, skipped: 0, problem: `bun test exited ${code} without a report` })
    return
  }
  const xml = readFileSync(report, 'utf8')
  const head = xml.match(/<testsuites[^>]*>/)?.[0] ?? ''
  const num = (attr: string) => Number(head.match(new RegExp(`\\b${attr}="(\\d+)"`))?.[1] ?? '0')
  const tests = num('tests')
  const failed = num('failures') + num('errors')
  const notRun = options.filtered ? filteredOut(xml, new RegExp(options.filtered.pattern)) : 0
  const skipped = num('skipped') - notRun
  const result: Result = {
    name,
    passed: tests - failed - skipped - notRun,
    failed,
    skipped,
    failures: failedTests(xml),
    ...(notRun ? { note: `${notRun} ${options.filtered?.what}` } : {}),
  }
  if (tests === 0) Object.assign(result, { failed: 1, problem: 'no tests ran' })
  else if (code !== 0 && failed === 0) Object.assign(result, { failed: 1, problem: `bun test exited ${code}` })
  results.push(result)
}

async function check(name: string, cmd: string[]) {
  if (!wants(name)) return
  say(`check ${name}: ${cmd.join(' ')}`)
  const { code, out } = await run(cmd, { quiet: true })
  if (code === 0) results.push({ name, passed: 1, failed: 0, skipped: 0 })
  else {
    process.stdout.write(out)
    results.push({ name, passed: 0, failed: 1, skipped: 0, problem: `exit ${code}` })
  }
}

async function main() {
  mkdirSync(ARTIFACTS, { recursive: true })
  let dropDatabase: (() => Promise<void>) | undefined
  await step('PostgreSQL and Redis', async () => {
    await ensureServices()
    dropDatabase = await createRunDatabase()
  })
  // Every suite runs its Docker sessions under runc; the suites that exercise the sandbox itself run
  // again under gVisor's runsc (and e2e runs under it): an explicit runtime, so a missing runsc fails
  // those runs by name instead of falling back (docs/threat-model.md).
  env.SANDBOX_RUNTIME = 'runc'
  if (wants('runner') || wants('e2e')) await step('Docker engine (with runsc) and sandbox image', ensureDocker)
  if (wants('e2e')) await step('Chromium', ensureChromium)
  // ops suite: the api suite's scale-out test needs Docker even when run alone (--only=api).
  if (wants('api') && !(wants('runner') || wants('e2e')))
    await step('Docker engine (with runsc) and sandbox image', ensureDocker)
  if (wants('ops') || wants('e2e') || wants('api')) await step('docker-compose, nginx and ModSecurity', ensureOpsTools)
  let stopS3: (() => Promise<void>) | undefined
  if (wants('api')) {
    await step('S3 test server (s3rver)', async () => {
      stopS3 = await startS3()
    })
  }

  // lint and the three typechecks read files only: side by side
  await Promise.all([
    check('lint', ['bun', 'x', 'biome', 'check', '.']),
    ...['api', 'runner', 'web'].map((ws) => check(`typecheck ${ws}`, ['bun', 'x', 'tsc', '--noEmit', '-p', ws])),
  ])

  // The runner suite first, alone: its WASI cases demote CPU hogs to SCHED_IDLE and time compiles
  // in CPU seconds, which a machine kept busy by other suites would starve (docs/operations.md, "Tests").
  await bunSuite('runner', ['./runner'])
  // Then two lanes side by side: each suite spends most of its time waiting on its own servers,
  // sandboxes and browser. Every suite keeps its own databases, Redis prefixes, ports and
  // containers; the api suite prints as it goes, the other lane when each suite ends.
  // The runsc runs (selected with --only=runner / --only=api) are the suites that exercise the
  // sandbox itself, again under gVisor's runsc.
  const runsc = { SANDBOX_RUNTIME: 'runsc' }
  // Their cases that run WASI sessions only (no Docker in their names) are the same under either
  // runtime: they run once, in the runc suites.
  const dockerCases = {
    pattern: '^(?!(?=.*\\b[Ww][Aa][Ss][Ii]\\b)(?!.*\\b[Dd][Oo][Cc][Kk][Ee][Rr]\\b))',
    what: 'WASI-only cases not repeated (no sandbox runtime in them)',
  }
  // The Docker engine fault test stops the machine's dockerd: beside the other lane it ended that
  // lane's Docker sessions (a fresh-clone run, containment 6 on runsc). It runs alone, last.
  const engineRestart = './api/test/faults/docker-engine.test.ts'
  await Promise.all([
    (async () => {
      await bunSuite('api', ['./api'], { args: [`--path-ignore-patterns=${engineRestart.slice(2)}`] })
      if (existsSync(join(ROOT, 'wasm-projects'))) await bunSuite('wasm-projects', ['./wasm-projects'], { quiet: true })
      await bunSuite('ops', ['./deploy', './scripts'], { quiet: true }) // ops suite: compose, nginx + WAF, workflows, backups
    })(),
    (async () => {
      await bunSuite(
        'runner on runsc',
        ['./runner/src/docker', './runner/src/remote', './runner/src/projects.test.ts'],
        { only: 'runner', env: runsc, quiet: true, filtered: dockerCases },
      )
      await bunSuite(
        'api on runsc',
        [
          './api/src/terminal/runners.test.ts',
          './api/test/scale/runner-services.test.ts',
          './api/test/scale/scale-out.test.ts',
          './api/test/containment/input.test.ts', // item 6's Docker floods, both placements
          './api/src/health',
        ],
        { only: 'api', env: runsc, quiet: true, filtered: dockerCases },
      )
      // The browser suite goes through nginx + ModSecurity (E2E_WAF) to an API whose Docker sessions
      // run under runsc: the production path.
      if (existsSync(join(ROOT, 'web/e2e')))
        await bunSuite('e2e', ['./web/e2e'], { env: { ...runsc, E2E_WAF: '1' }, quiet: true })
    })(),
  ])
  await bunSuite('api: Docker engine restart', [engineRestart], { only: 'api' })

  if (dropDatabase) await dropDatabase().catch(() => {})
  if (stopS3) await stopS3().catch(() => {})

  console.log('')
  for (const r of results) {
    const mark = r.failed > 0 ? '✗' : '✓'
    console.log(
      `${mark} ${r.name}: ${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ''}${r.note ? ` (${r.note})` : ''}${r.problem ? ` (${r.problem})` : ''}`,
    )
    // why: CI may keep only the end of the log; the names of what failed must be in it
    for (const f of (r.failures ?? []).slice(0, 20)) console.log(`    ✗ ${f}`)
  }
  const passed = results.reduce((n, r) => n + r.passed, 0)
  const failed = results.reduce((n, r) => n + r.failed, 0)
  const skipped = results.reduce((n, r) => n + r.skipped, 0)
  console.log(`took ${elapsed()}`)
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
  process.exit(failed > 0 || args.has('--fail') ? 1 : 0)
}

await main()
