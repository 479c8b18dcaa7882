import { describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { nginxBinary, startNginx, writeLocalNginxConf } from './nginx-kit.ts'

/**
 * The deployment files are checked with the real tools: `docker compose config` (or docker-compose
 * v1 from Debian) validates the topology, `nginx -t` the proxy configuration, Bun's YAML parser the
 * workflows. `make test` installs docker-compose and nginx-light; a missing tool fails the test by name.
 */
const ROOT = join(import.meta.dir, '..')

function run(cmd: string[], env: Record<string, string | undefined> = {}, cwd = ROOT) {
  const clean = Object.fromEntries(
    Object.entries({ ...process.env, ...env }).filter((e): e is [string, string] => e[1] !== undefined),
  )
  const p = Bun.spawnSync(cmd, { cwd, env: clean, stdout: 'pipe', stderr: 'pipe' })
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() }
}

/** `docker compose` (v2 plugin) when present, else Debian's docker-compose v1. */
function composeCommand(): string[] {
  if (Bun.which('docker') && run(['docker', 'compose', 'version']).code === 0) return ['docker', 'compose']
  if (Bun.which('docker-compose')) return ['docker-compose']
  throw new Error('neither `docker compose` nor `docker-compose` is installed: apt-get install docker-compose')
}

const SECRETS = {
  JWT_SECRET: 'compose-test-secret-0123456789abcdef0123456789',
  ADMIN_PASSWORD: 'compose-test-password',
  POSTGRES_PASSWORD: 'pg-test-password',
  MINIO_ROOT_PASSWORD: 'minio-test-password',
  RUNNER_TOKEN: 'compose-test-runner-token-0123456789abcdef',
}

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, walked by path in the assertions below
type Yaml = Record<string, any>

describe('docker-compose.yml', () => {
  const compose = () => composeCommand()
  // Compose reads .env from the project directory; make sure a developer's .env cannot mask a guard.
  const isolatedEnv = (extra: Record<string, string | undefined>) => ({
    COMPOSE_PROJECT_NAME: 'shellfolio-config-test',
    JWT_SECRET: undefined,
    ADMIN_PASSWORD: undefined,
    POSTGRES_PASSWORD: undefined,
    MINIO_ROOT_PASSWORD: undefined,
    RUNNER_TOKEN: undefined,
    // `make test` sets it for its own suites; compose's default is what is checked here
    SANDBOX_RUNTIME: undefined,
    ...extra,
  })

  test('validates with the secrets set, and resolves to the production topology', () => {
    const r = run([...compose(), '-f', 'docker-compose.yml', 'config'], isolatedEnv(SECRETS))
    expect(r.err.replace(/.*(WARNING|Found orphan).*\n?/g, '')).toBe('')
    expect(r.code).toBe(0)
    const cfg = Bun.YAML.parse(r.out) as Yaml
    const services = cfg.services as Yaml
    expect(Object.keys(services).sort()).toEqual(
      ['api', 'migrate', 'minio', 'minio-init', 'nginx', 'postgres', 'prometheus', 'redis', 'runner', 'sandbox'].sort(),
    )
    const api = services.api
    expect(api.deploy.replicas).toBe(2)
    expect(api.build.dockerfile).toBe('api/Dockerfile')
    expect(api.environment).toMatchObject({
      APP_ENV: 'production',
      TRUST_PROXY_HOPS: '1',
      JWT_SECRET: SECRETS.JWT_SECRET,
      DATABASE_URL: `postgres://shellfolio:${SECRETS.POSTGRES_PASSWORD}@postgres:5432/shellfolio`,
      REDIS_URL: 'redis://redis:6379',
      S3_ENDPOINT: 'http://minio:9000',
    })
    // The web-facing API holds no Docker access and no privileges; the runner service does.
    expect(JSON.stringify(api.volumes)).not.toContain('docker.sock')
    expect(api.group_add).toBeUndefined()
    expect(api.cap_drop).toEqual(['ALL'])
    expect(api.security_opt).toEqual(['no-new-privileges:true'])
    expect(api.privileged).toBeUndefined()
    expect(api.environment).toMatchObject({ RUNNER_URLS: 'ws://runner:4100', RUNNER_TOKEN: SECRETS.RUNNER_TOKEN })
    expect(api.environment.DOCKER_HOST).toBeUndefined()
    expect(api.depends_on.runner.condition).toBe('service_healthy')
    expect(api.ports).toBeUndefined() // only nginx is published
    expect(api.depends_on.migrate.condition).toBe('service_completed_successfully')
    for (const name of ['api', 'nginx', 'postgres', 'redis', 'minio']) {
      expect({ name, healthcheck: Boolean(services[name].healthcheck?.test) }).toEqual({ name, healthcheck: true })
    }
    expect(JSON.stringify(services.nginx.volumes)).toContain('deploy/nginx.conf')
    // The proxy carries the WAF: built from Debian's ModSecurity packages, with deploy/waf/ mounted.
    expect(services.nginx.build.dockerfile).toBe('deploy/nginx.Dockerfile')
    expect(JSON.stringify(services.nginx.volumes)).toContain('/etc/nginx/waf')
    expect(Object.keys(cfg.volumes).sort()).toEqual(['apidata', 'miniodata', 'pgdata', 'promdata', 'redisdata'])
    expect(services.prometheus.profiles).toEqual(['observability'])
    const runner = services.runner
    expect(runner.profiles).toBeUndefined() // part of the default topology
    expect(runner.command).toEqual(['bun', 'run', 'runner/src/server.ts'])
    expect(JSON.stringify(runner.volumes)).toContain('/var/run/docker.sock')
    expect(runner.environment).toMatchObject({
      RUNNER_TOKEN: SECRETS.RUNNER_TOKEN,
      RUNNER_ADVERTISE_URL: 'ws://runner:4100',
      REDIS_URL: 'redis://redis:6379',
      SANDBOX_RUNTIME: 'auto',
    })
    expect(runner.ports).toBeUndefined() // internal only
    expect(Boolean(runner.healthcheck?.test)).toBe(true)
    expect(services.sandbox.build.dockerfile).toBe('runner/image/Dockerfile')
  }, 60_000)

  test('refuses to render without each required secret, naming it', () => {
    for (const name of Object.keys(SECRETS)) {
      const r = run([...compose(), '-f', 'docker-compose.yml', 'config', '-q'], isolatedEnv({ ...SECRETS, [name]: '' }))
      expect({ name, failed: r.code !== 0 }).toEqual({ name, failed: true })
      expect(r.err).toContain(`set ${name}`)
    }
  }, 60_000)
})

describe('deploy/nginx.conf', () => {
  test('nginx -t accepts it with ModSecurity and the rules in deploy/waf/ (upstream pointed at loopback)', () => {
    const nginx = nginxBinary()
    const dir = mkdtempSync(join(tmpdir(), 'sf-nginx-'))
    try {
      // `api` only resolves inside the compose network; everything else is tested as written.
      const conf = writeLocalNginxConf({ upstreams: ['127.0.0.1:3000'], port: 8080, dir })
      const r = run([nginx, '-t', '-q', '-p', dir, '-c', conf])
      // -q leaves one notice: ModSecurity saying how many rules it loaded (the Core Rule Set: hundreds)
      const loaded =
        /^\S+ \S+ \[notice\] \S+ ModSecurity-nginx v[\d.]+ \(rules loaded inline\/local\/remote: 0\/(\d+)\/0\)\n$/.exec(
          r.err,
        )
      expect({ code: r.code, err: loaded ? 'the rules-loaded notice' : r.err }).toEqual({
        code: 0,
        err: 'the rules-loaded notice',
      })
      expect(Number(loaded?.[1])).toBeGreaterThan(500)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  test('upgrades the terminal WebSockets (session and spectator) and appends the client to X-Forwarded-For', () => {
    const conf = readFileSync(join(import.meta.dir, 'nginx.conf'), 'utf8')
    const at = conf.indexOf('location ~ ^/api/v1/terminal/(ws|watch)$')
    expect(at).toBeGreaterThan(0)
    const ws = conf.slice(at)
    expect(ws).toMatch(/proxy_set_header Upgrade \$http_upgrade;/)
    expect(ws).toMatch(/proxy_set_header Connection \$connection_upgrade;/)
    expect(conf).toContain('proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;')
    expect(conf).toContain('ssl_certificate     /etc/nginx/certs/fullchain.pem;')
  })

  test('the access log names paths without their query string (no ticket or resume token in logs)', async () => {
    const conf = readFileSync(join(import.meta.dir, 'nginx.conf'), 'utf8')
      .split('\n')
      .filter((line) => !line.trim().startsWith('#'))
      .join('\n')
    // Every access_log writes a named format, and each format leaves out the variables that carry
    // the query string ($request is the whole request line, $request_uri and $args its query).
    const logs = [...conf.matchAll(/^\s*access_log\s+([^;]+);/gm)].map((m) => (m[1] as string).trim().split(/\s+/))
    expect(logs.length).toBeGreaterThan(0)
    const formats = new Map(
      [...conf.matchAll(/log_format\s+(\S+)\s+([^;]+);/g)].map((m) => [m[1] as string, m[2] as string]),
    )
    for (const [target, format] of logs) {
      if (target === 'off') continue
      expect({ target, format: format ?? 'combined (the default, which logs $request)' }).toEqual({
        target: target as string,
        format: expect.stringMatching(/^(?!combined$)\S+$/),
      })
      const body = formats.get(format as string) ?? ''
      expect(body).not.toBe('')
      expect(body).not.toMatch(/\$(?:request|request_uri|args|query_string|is_args|arg_\w+|http_referer)\b/)
    }
    // And the real thing: through nginx, a resume token in the query never reaches the access log.
    const upstream = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('ok') })
    try {
      await using proxy = await startNginx([`127.0.0.1:${upstream.port}`])
      const secret = 'Zm9vYmFyYmF6cXV4cXV1eHpvcmtzZWNyZXQtdG9rZW4'
      await fetch(`${proxy.url}/api/v1/terminal/ws?session=9f1c6e0a-3b1d-4c6e-9a55-0d6f0b7d1e2f&resume=${secret}`)
      // why: fetch drops a Referer header it is given; the request is written by hand
      const { port } = new URL(proxy.url)
      await new Promise<void>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => {
          socket.end(
            `GET /healthz?ticket=${secret} HTTP/1.1\r\nHost: 127.0.0.1\r\nReferer: https://x.example/p?t=${secret}\r\nConnection: close\r\n\r\n`,
          )
        })
        socket.on('data', () => {})
        socket.on('close', () => resolve())
        socket.on('error', reject)
      })
      const until = Date.now() + 5_000
      while (!proxy.accessLog().includes('/healthz') && Date.now() < until) await Bun.sleep(50) // why: nginx writes its log asynchronously
      const log = proxy.accessLog()
      expect(log).toContain('"GET /api/v1/terminal/ws HTTP/1.1"')
      expect(log).toContain('"GET /healthz HTTP/1.1"')
      expect(log).toContain('"https://x.example/p"')
      expect(log).not.toContain(secret)
    } finally {
      upstream.stop(true)
    }
  }, 60_000)

  test('the WAF blocks (blocking mode, paranoia level 1) and every exclusion says why', () => {
    const waf = (name: string) => readFileSync(join(import.meta.dir, 'waf', name), 'utf8')
    expect(waf('modsecurity.conf')).toMatch(/^SecRuleEngine On$/m)
    expect(waf('crs-setup.conf')).toMatch(/setvar:tx\.paranoia_level=1\b/)
    for (const name of ['exclusions-before-crs.conf', 'exclusions-after-crs.conf']) {
      const lines = waf(name).split('\n')
      lines.forEach((line, i) => {
        if (!/^Sec/.test(line)) return
        // the line above each exclusion is its reason (a comment), or the exclusion before it continues one
        const above =
          lines
            .slice(0, i)
            .reverse()
            .find((l) => l.trim() !== '' && !/^\s/.test(l)) ?? ''
        expect({ name, line, reasoned: above.startsWith('#') || above.startsWith('Sec') }).toEqual({
          name,
          line,
          reasoned: true,
        })
      })
      expect(lines.some((l) => l.startsWith('#'))).toBe(true)
    }
  })
})

describe('.github/workflows', () => {
  const load = (name: string) => Bun.YAML.parse(readFileSync(join(ROOT, '.github/workflows', name), 'utf8')) as Yaml
  const steps = (job: Yaml) => (job.steps as Yaml[]).map((s) => JSON.stringify(s))

  test('ci.yml: push and pull_request, pinned Bun, lint, typecheck, suites with services, path filters, images', () => {
    const ci = load('ci.yml')
    expect(Object.keys(ci.on).sort()).toEqual(['pull_request', 'push'])
    expect(ci.env.BUN_VERSION).toBe('1.4.5')
    const jobs = ci.jobs as Yaml
    expect(steps(jobs.changes).join()).toContain('dorny/paths-filter@v3')
    expect(steps(jobs.lint).join()).toContain('biome ci')
    expect(steps(jobs.lint).join()).toContain('bun run typecheck')
    for (const name of ['lint', 'test-api', 'test-runner', 'test-e2e', 'test-ops']) {
      const setup = (jobs[name].steps as Yaml[]).find((s) => String(s.uses).startsWith('oven-sh/setup-bun'))
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression, not a JS template
      expect({ name, bun: setup?.with?.['bun-version'] }).toEqual({ name, bun: '${{ env.BUN_VERSION }}' })
    }
    expect(Object.keys(jobs['test-api'].services).sort()).toEqual(['postgres', 'redis'])
    expect(jobs['test-api'].if).toContain("needs.changes.outputs.api == 'true'")
    expect(steps(jobs['test-e2e']).join()).toContain('chromium')
    expect(steps(jobs['test-e2e']).join()).toContain('--only=e2e')
    const images = steps(jobs.images).join()
    expect(images).toContain('api/Dockerfile')
    expect(images).toContain('runner/image/Dockerfile')
    expect(jobs['ci-ok'].needs).toEqual(['lint', 'test-api', 'test-runner', 'test-e2e', 'test-ops'])
  })

  test('deploy.yml: migrations before the replicas roll, [deploy-all], and a rollback by image tag', () => {
    const deploy = load('deploy.yml')
    expect(deploy.on.workflow_run.workflows).toEqual(['ci'])
    expect(deploy.on.workflow_dispatch.inputs.image_tag.required).toBe(true)
    const names = (deploy.jobs.deploy.steps as Yaml[]).map((s) => s.name)
    const migrate = names.indexOf('migrate')
    const roll = names.indexOf('roll the api replicas')
    expect(migrate).toBeGreaterThan(-1)
    expect(roll).toBeGreaterThan(migrate)
    expect(JSON.stringify(deploy.jobs.deploy)).toContain('[deploy-all]')
    expect(deploy.jobs.rollback.if).toContain("inputs.action == 'rollback'")
    expect(JSON.stringify(deploy.jobs.rollback.steps)).toContain('deploy/roll.sh api')
    expect(JSON.stringify(deploy.jobs.rollback.steps)).not.toContain('migrate')
  })

  test('deploy/roll.sh and scripts/backup.sh are valid shell', () => {
    for (const [shell, file] of [
      ['sh', 'deploy/roll.sh'],
      ['bash', 'scripts/backup.sh'],
    ] as const) {
      const r = run([shell, '-n', file])
      expect({ file, code: r.code, err: r.err }).toEqual({ file, code: 0, err: '' })
    }
  })
})

describe('deploy/prometheus.yml', () => {
  test('scrapes every api replica on :3000/metrics through Docker DNS', () => {
    const prom = Bun.YAML.parse(readFileSync(join(import.meta.dir, 'prometheus.yml'), 'utf8')) as Yaml
    expect(prom.scrape_configs).toEqual([
      {
        job_name: 'shellfolio-api',
        metrics_path: '/metrics',
        dns_sd_configs: [{ names: ['api'], type: 'A', port: 3000, refresh_interval: '15s' }],
      },
    ])
  })
})

describe('api/Dockerfile', () => {
  test('multi-stage on the pinned Bun, frozen lockfile, web build, non-root, health check', () => {
    const df = readFileSync(join(ROOT, 'api/Dockerfile'), 'utf8')
    expect(df).toContain('ARG BUN_VERSION=1.4.5')
    expect(df.match(/^FROM oven\/bun:\$\{BUN_VERSION\}/gm)?.length).toBe(3)
    expect(df).toContain('bun install --frozen-lockfile')
    expect(df).toContain('RUN bun run build')
    expect(df).toContain('USER bun')
    expect(df).toMatch(/HEALTHCHECK .*\n.*\/healthz/)
    // Building needs an image registry (oven/bun); this machine has none, so only the text is checked.
  })
})

describe('deploy/migrate.ts (the deploy step before replicas take traffic)', () => {
  test('applies the migrations to an empty database, idempotently', async () => {
    const { createScratchDatabase } = await import('../api/test/harness.ts')
    const scratch = await createScratchDatabase()
    try {
      for (let i = 0; i < 2; i++) {
        const r = run(['bun', 'run', 'deploy/migrate.ts'], { DATABASE_URL: scratch.url, APP_ENV: 'test' })
        expect({ code: r.code, out: r.out.replace(/\(\d+ ms\)/, '(N ms)').trim() }).toEqual({
          code: 0,
          out: 'migrate: database is up to date (N ms)',
        })
      }
      const tables = run([
        'psql',
        scratch.url,
        '-qAtX',
        '-c',
        "select count(*) from pg_tables where schemaname = 'public'",
      ])
      expect(Number(tables.out.trim())).toBeGreaterThanOrEqual(8)
    } finally {
      await scratch.drop()
    }
  }, 60_000)

  test('refuses to run without DATABASE_URL', () => {
    const r = run(['bun', 'run', 'deploy/migrate.ts'], { DATABASE_URL: undefined, APP_ENV: 'test' })
    expect(r.code).toBe(78)
    expect(r.err).toContain('DATABASE_URL is not set')
  })
})
