import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { RUNNER_KINDS, type RunnerKind } from '@shellfolio/runner'
import { parseSandboxRuntime, type SandboxRuntimeSetting } from '@shellfolio/runner/docker/runtime'

/**
 * The one place that reads the environment (docs/configuration.md). Parsed once, validated, frozen.
 * A bad value throws a ConfigError naming every bad variable and what is expected.
 */

export type AppEnv = 'development' | 'test' | 'production'

export interface S3Config {
  bucket: string
  endpoint: string | undefined
  region: string
  accessKeyId: string | undefined
  secretAccessKey: string | undefined
  forcePathStyle: boolean
}

export interface Config {
  port: number
  host: string
  appEnv: AppEnv
  dataDir: string
  databaseUrl: string | undefined
  redisUrl: string | undefined
  /** Prefix for every Redis key and channel (lets test runs and tenants share one Redis). */
  redisPrefix: string
  jwtSecret: string
  adminEmail: string
  adminPassword: string | undefined
  s3: S3Config | undefined
  runners: RunnerKind[]
  dockerHost: string | undefined
  sandboxImage: string | undefined
  /** OCI runtime of Docker sandboxes (SANDBOX_RUNTIME): auto (runsc when the engine lists it), runsc or runc. */
  sandboxRuntime: SandboxRuntimeSetting
  runnerUrls: string[]
  runnerToken: string | undefined
  trustProxyHops: number
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  /** OTLP/HTTP collector base URL (OTEL_EXPORTER_OTLP_ENDPOINT); spans are exported only when set. */
  otelEndpoint: string | undefined
  /** `service.name` of exported spans (OTEL_SERVICE_NAME, default shellfolio-api). */
  otelServiceName: string
  /** Bearer token GET /metrics requires when set (METRICS_TOKEN, at least 16 characters). */
  metricsToken: string | undefined
  /** ALERT_WEBHOOK_URL: each new group of problems is POSTed there as JSON, at most hourly (docs/faults.md). */
  alertWebhookUrl: string | undefined
  corsOrigins: string[]
  /**
   * Origins that may frame `/embed/:slug` (EMBED_ORIGINS): its CSP `frame-ancestors`; every other
   * page stays unframable. Empty: no site may embed a terminal.
   */
  embedOrigins: string[]
  /** Largest accepted request body for JSON routes, in bytes. */
  bodyLimit: number
  /** Largest accepted media upload, in bytes. */
  uploadLimit: number
  /** Largest project archive POST /api/v1/projects/import accepts (PROJECT_UPLOAD_LIMIT, docs/projects.md). */
  projectUploadLimit: number
  /** How long a project's check build may run per runner before it is stopped and failed. */
  projectBuildTimeoutMs: number
  publicOrigin: string | undefined
  webDist: string
  terminal: TerminalConfig
}

/** Limits of browser terminal sessions (api/src/terminal). Durations in ms. */
export interface TerminalConfig {
  /** Live sessions per client IP (TERMINAL_MAX_PER_IP, default 3). */
  maxPerIp: number
  /** Live sessions on the whole deployment (TERMINAL_MAX_SESSIONS, default 50). */
  maxSessions: number
  /** Session ends after this long without input (TERMINAL_IDLE_MS, default 10 min). */
  idleMs: number
  /** Hard limit of a session (TERMINAL_TIME_LIMIT_MS, default 30 min). */
  timeLimitMs: number
  /** How long a session outlives its socket, waiting for a resume (TERMINAL_GRACE_MS, default 60 s). */
  graceMs: number
  /** Lifetime of a WebSocket ticket (TERMINAL_TICKET_TTL_MS, default 30 s). */
  ticketTtlMs: number
  /** Largest stored recording (TERMINAL_RECORDING_LIMIT, default 5 MB). */
  recordingLimit: number
  /** Pre-started Docker containers (DOCKER_POOL_SIZE, default 2). */
  dockerPoolSize: number
  /** CPU time one program of the WASI runner may use before it is stopped (WASI_PROGRAM_CPU_MS, default 30 s). */
  wasiProgramCpuMs: number
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

type Env = Record<string, string | undefined>

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
const ROOT = resolve(import.meta.dir, '../..')

/** Reads and validates the configuration; never reads `process.env` elsewhere. */
export function loadConfig(env: Env = process.env): Readonly<Config> {
  const problems: string[] = []
  const str = (name: string): string | undefined => {
    const v = env[name]
    return v === undefined || v.trim() === '' ? undefined : v.trim()
  }
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = str(name)
    if (raw === undefined) return fallback
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected a whole number from ${min} to ${max}`)
      return fallback
    }
    return Number(raw)
  }
  const url = (name: string, protocols: string[]): string | undefined => {
    const raw = str(name)
    if (raw === undefined) return undefined
    try {
      const u = new URL(raw)
      if (!protocols.includes(u.protocol)) throw new Error('protocol')
      return raw
    } catch {
      problems.push(`${name}: expected a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`)
      return undefined
    }
  }

  const appEnvRaw = str('APP_ENV') ?? (str('NODE_ENV') === 'production' ? 'production' : 'development')
  let appEnv: AppEnv = 'development'
  if (appEnvRaw === 'development' || appEnvRaw === 'test' || appEnvRaw === 'production') appEnv = appEnvRaw
  else problems.push(`APP_ENV=${JSON.stringify(appEnvRaw)}: expected development, test or production`)

  const port = int('PORT', 3000, 0, 65535)
  const host = str('HOST') ?? '127.0.0.1'
  const dataDir = resolve(str('DATA_DIR') ?? join(ROOT, 'data'))
  const databaseUrl = url('DATABASE_URL', ['postgres:', 'postgresql:'])
  const redisUrl = url('REDIS_URL', ['redis:', 'rediss:'])

  const jwtSecret = str('JWT_SECRET')
  if (jwtSecret !== undefined && Buffer.byteLength(jwtSecret) < 32) {
    problems.push('JWT_SECRET: expected at least 32 bytes (generate one with `openssl rand -base64 48`)')
  }
  if (jwtSecret === undefined && appEnv === 'production') {
    problems.push('JWT_SECRET: required when APP_ENV=production (at least 32 bytes)')
  }

  const adminEmail = str('ADMIN_EMAIL') ?? 'admin@shellfolio.local'
  if (!/^[^\s@]+@[^\s@]+$/.test(adminEmail)) problems.push('ADMIN_EMAIL: expected an email address')
  const adminPassword = str('ADMIN_PASSWORD')
  if (adminPassword !== undefined && adminPassword.length < 12) {
    problems.push('ADMIN_PASSWORD: expected at least 12 characters')
  }

  let s3: S3Config | undefined
  const bucket = str('S3_BUCKET')
  if (bucket !== undefined) {
    s3 = {
      bucket,
      endpoint: url('S3_ENDPOINT', ['http:', 'https:']),
      region: str('S3_REGION') ?? 'us-east-1',
      accessKeyId: str('S3_ACCESS_KEY_ID'),
      secretAccessKey: str('S3_SECRET_ACCESS_KEY'),
      forcePathStyle: (str('S3_FORCE_PATH_STYLE') ?? 'true') !== 'false',
    }
    if ((s3.accessKeyId === undefined) !== (s3.secretAccessKey === undefined)) {
      problems.push('S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY: set both or neither')
    }
  } else if (str('S3_ENDPOINT') !== undefined) {
    problems.push('S3_BUCKET: required when S3_ENDPOINT is set')
  }

  const runnersRaw = (str('RUNNERS') ?? 'wasi,docker').split(',').map((r) => r.trim())
  const runners: RunnerKind[] = []
  for (const r of runnersRaw) {
    if ((RUNNER_KINDS as readonly string[]).includes(r)) runners.push(r as RunnerKind)
    else problems.push(`RUNNERS: unknown runner ${JSON.stringify(r)}; expected a list of wasi, docker`)
  }

  const runnerUrls = (str('RUNNER_URLS') ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean)
  for (const u of runnerUrls) {
    if (!/^wss?:\/\/[^\s]+$/.test(u)) problems.push(`RUNNER_URLS: ${JSON.stringify(u)} is not a ws:// or wss:// URL`)
  }
  const runnerToken = str('RUNNER_TOKEN')
  if (runnerUrls.length > 0 && (runnerToken === undefined || runnerToken.length < 32)) {
    problems.push('RUNNER_TOKEN: required (at least 32 characters) when RUNNER_URLS is set')
  }

  const sandboxRuntime = parseSandboxRuntime(str('SANDBOX_RUNTIME'))
  if (!sandboxRuntime)
    problems.push(`SANDBOX_RUNTIME=${JSON.stringify(str('SANDBOX_RUNTIME'))}: expected auto, runsc or runc`)

  const logLevelRaw = str('LOG_LEVEL') ?? (appEnv === 'test' ? 'silent' : 'info')
  let logLevel: Config['logLevel'] = 'info'
  if ((LOG_LEVELS as readonly string[]).includes(logLevelRaw)) logLevel = logLevelRaw as Config['logLevel']
  else problems.push(`LOG_LEVEL=${JSON.stringify(logLevelRaw)}: expected one of ${LOG_LEVELS.join(', ')}`)

  const corsOrigins = (str('CORS_ORIGINS') ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean)
  for (const o of corsOrigins) {
    if (!/^https?:\/\/[^/\s]+$/.test(o)) problems.push(`CORS_ORIGINS: ${JSON.stringify(o)} is not an origin`)
  }

  const embedOrigins = [
    ...new Set(
      (str('EMBED_ORIGINS') ?? '')
        .split(',')
        .map((o) => o.trim().replace(/\/$/, ''))
        .filter(Boolean),
    ),
  ]
  for (const o of embedOrigins) {
    // why: each origin goes into a CSP header as is; a space or `;` there would add directives.
    if (!/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/.test(o)) {
      problems.push(`EMBED_ORIGINS: ${JSON.stringify(o.slice(0, 100))} is not an origin (http(s)://host[:port])`)
    }
  }
  if (embedOrigins.length > 50) problems.push('EMBED_ORIGINS: at most 50 origins')

  const publicOrigin = url('PUBLIC_ORIGIN', ['http:', 'https:'])
  const otelEndpoint = url('OTEL_EXPORTER_OTLP_ENDPOINT', ['http:', 'https:'])
  const metricsToken = str('METRICS_TOKEN')
  const alertWebhookUrl = url('ALERT_WEBHOOK_URL', ['http:', 'https:'])
  if (metricsToken !== undefined && metricsToken.length < 16) {
    problems.push('METRICS_TOKEN: expected at least 16 characters')
  }

  const config: Config = {
    port,
    host,
    appEnv,
    dataDir,
    databaseUrl,
    redisUrl,
    redisPrefix: str('REDIS_PREFIX') ?? 'shellfolio:',
    jwtSecret: jwtSecret ?? '',
    adminEmail,
    adminPassword,
    s3,
    runners,
    dockerHost: str('DOCKER_HOST'),
    sandboxImage: str('SANDBOX_IMAGE'),
    sandboxRuntime: sandboxRuntime ?? 'auto',
    runnerUrls,
    runnerToken,
    trustProxyHops: int('TRUST_PROXY_HOPS', 0, 0, 10),
    logLevel,
    otelEndpoint: otelEndpoint?.replace(/\/$/, ''),
    otelServiceName: str('OTEL_SERVICE_NAME') ?? 'shellfolio-api',
    metricsToken,
    alertWebhookUrl,
    corsOrigins,
    embedOrigins,
    bodyLimit: int('BODY_LIMIT', 1024 * 1024, 1024, 64 * 1024 * 1024),
    uploadLimit: int('UPLOAD_LIMIT', 10 * 1024 * 1024, 1024, 512 * 1024 * 1024),
    projectUploadLimit: int('PROJECT_UPLOAD_LIMIT', 50 * 1024 * 1024, 1024, 512 * 1024 * 1024),
    projectBuildTimeoutMs: int('PROJECT_BUILD_TIMEOUT_MS', 5 * 60_000, 1_000, 3_600_000),
    publicOrigin: publicOrigin?.replace(/\/$/, ''),
    webDist: resolve(str('WEB_DIST') ?? join(ROOT, 'web/dist')),
    terminal: {
      maxPerIp: int('TERMINAL_MAX_PER_IP', 3, 1, 1000),
      maxSessions: int('TERMINAL_MAX_SESSIONS', 50, 1, 100_000),
      idleMs: int('TERMINAL_IDLE_MS', 10 * 60_000, 50, 24 * 3_600_000),
      timeLimitMs: int('TERMINAL_TIME_LIMIT_MS', 30 * 60_000, 50, 24 * 3_600_000),
      graceMs: int('TERMINAL_GRACE_MS', 60_000, 10, 3_600_000),
      ticketTtlMs: int('TERMINAL_TICKET_TTL_MS', 30_000, 50, 600_000),
      recordingLimit: int('TERMINAL_RECORDING_LIMIT', 5 * 1024 * 1024, 4096, 1024 * 1024 * 1024),
      dockerPoolSize: int('DOCKER_POOL_SIZE', 2, 0, 64),
      wasiProgramCpuMs: int('WASI_PROGRAM_CPU_MS', 30_000, 1_000, 3_600_000),
    },
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return Object.freeze(config)
}

/**
 * In development the JWT secret is generated once and kept in DATA_DIR so tokens survive restarts.
 * Returns a config with the secret filled in.
 */
export function withDevSecret(config: Readonly<Config>): Readonly<Config> {
  if (config.jwtSecret) return config
  mkdirSync(config.dataDir, { recursive: true })
  const file = join(config.dataDir, 'jwt-secret')
  let secret: string
  if (existsSync(file)) secret = readFileSync(file, 'utf8').trim()
  else {
    secret = randomBytes(48).toString('base64url')
    writeFileSync(file, `${secret}\n`, { mode: 0o600 })
  }
  return Object.freeze({ ...config, jwtSecret: secret })
}

export const REPO_ROOT = ROOT
