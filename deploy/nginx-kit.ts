/**
 * Runs the shipped proxy — deploy/nginx.conf with ModSecurity and the rules in deploy/waf/ — on this
 * machine, for tests: upstream pointed at local API processes, a free loopback port, logs and pid in
 * a temporary directory. Everything else is the file as written. Needs Debian's nginx-light,
 * libnginx-mod-http-modsecurity and modsecurity-crs (`make test` installs them); a missing one
 * fails with its name.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const NGINX_CONF = join(import.meta.dir, 'nginx.conf')
export const WAF_DIR = join(import.meta.dir, 'waf')
/** Where deploy/nginx.conf expects deploy/waf/ (docker-compose.yml mounts it there). */
const WAF_MOUNT = '/etc/nginx/waf/'
const MODSECURITY_MODULE = '/usr/lib/nginx/modules/ngx_http_modsecurity_module.so'
const CRS_RULES = '/usr/share/modsecurity-crs/rules'

/** The nginx binary, or an error naming the packages to install. */
export function nginxBinary(): string {
  const nginx = Bun.which('nginx') ?? (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : null)
  const missing = [
    ...(nginx ? [] : ['nginx-light']),
    ...(existsSync(MODSECURITY_MODULE) ? [] : ['libnginx-mod-http-modsecurity']),
    ...(existsSync(CRS_RULES) ? [] : ['modsecurity-crs']),
  ]
  if (missing.length > 0 || !nginx)
    throw new Error(
      `the proxy needs ${missing.join(', ')}: apt-get install ${missing.join(' ')} (make test installs them)`,
    )
  return nginx
}

/**
 * Writes deploy/nginx.conf and deploy/waf/ for a local run into `dir` and returns the config's path:
 * `upstreams` (host:port) instead of compose's `api:3000`, `listen` on the given loopback port, pid,
 * logs and ModSecurity's audit log as files under `dir` (a test's stdio are sockets, which
 * /dev/stdout and /dev/stderr cannot open). Everything else as written.
 */
export function writeLocalNginxConf(options: { upstreams: string[]; port: number; dir: string }): string {
  const waf = join(options.dir, 'waf')
  cpSync(WAF_DIR, waf, { recursive: true })
  const modsecurity = join(waf, 'modsecurity.conf')
  writeFileSync(
    modsecurity,
    readFileSync(modsecurity, 'utf8').replace(
      'SecAuditLog /dev/stdout',
      `SecAuditLog ${join(options.dir, 'audit.log')}`,
    ),
  )
  const conf = readFileSync(NGINX_CONF, 'utf8')
    .replace(/server api:3000[^;]*;/, options.upstreams.map((u) => `server ${u};`).join('\n    '))
    .replace('listen 80;', `listen 127.0.0.1:${options.port};`)
    .replace('listen [::]:80;', '')
    .replaceAll(WAF_MOUNT, `${waf}/`)
    .replaceAll('/dev/stderr', join(options.dir, 'error.log'))
    .replaceAll('/dev/stdout', join(options.dir, 'access.log'))
    .replace('/tmp/nginx.pid', join(options.dir, 'nginx.pid'))
  const path = join(options.dir, 'nginx.conf')
  writeFileSync(path, conf)
  return path
}

export interface LocalNginx {
  url: string
  /** nginx's error log so far: one line per block, naming the deciding rule and the request id. */
  errorLog(): string
  /** ModSecurity's audit log so far (nginx's stdout in production): one JSON line per blocked request. */
  auditLog(): string
  accessLog(): string
  stop(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

/** A free loopback port (bind port 0, read it, release it): nginx cannot be told to pick one. */
function freePort(): number {
  const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = probe.port
  probe.stop(true)
  return port
}

/** Starts deploy/nginx.conf in front of `upstreams` and resolves once it answers. */
export async function startNginx(upstreams: string[], options: { timeoutMs?: number } = {}): Promise<LocalNginx> {
  const nginx = nginxBinary()
  const dir = mkdtempSync(join(tmpdir(), 'sf-nginx-'))
  const port = freePort()
  const conf = writeLocalNginxConf({ upstreams, port, dir })
  const proc = Bun.spawn([nginx, '-p', dir, '-c', conf, '-g', 'daemon off;'], { stdout: 'ignore', stderr: 'pipe' })
  const read = (name: string) => {
    try {
      return readFileSync(join(dir, name), 'utf8')
    } catch {
      return ''
    }
  }
  const url = `http://127.0.0.1:${port}`
  const stop = async () => {
    proc.kill('SIGTERM')
    await proc.exited
    rmSync(dir, { recursive: true, force: true })
  }
  // Wait for the listener: poll the socket until it accepts (bounded), or nginx exits with its error.
  const until = performance.now() + (options.timeoutMs ?? 20_000)
  for (;;) {
    if (proc.exitCode !== null) {
      const err = `${await new Response(proc.stderr).text()} ${read('error.log')}`
      rmSync(dir, { recursive: true, force: true })
      throw new Error(`nginx exited: ${err.trim()}`)
    }
    const up = await fetch(`${url}/healthz`).then(
      () => true,
      () => false,
    )
    if (up) break
    if (performance.now() > until) {
      await stop()
      throw new Error('nginx did not start listening in time')
    }
    await Bun.sleep(50) // why: polling a listener with a deadline
  }
  return {
    url,
    errorLog: () => read('error.log'),
    auditLog: () => read('audit.log'),
    accessLog: () => read('access.log'),
    stop,
    [Symbol.asyncDispose]: stop,
  }
}
