import { describe, expect, test } from 'bun:test'
import { ConfigError, loadConfig } from './config.ts'

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env)
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  return []
}

describe('config', () => {
  test('defaults serve on 127.0.0.1:3000 with the embedded adapters', () => {
    const c = loadConfig({})
    expect(c.port).toBe(3000)
    expect(c.host).toBe('127.0.0.1')
    expect(c.appEnv).toBe('development')
    expect(c.databaseUrl).toBeUndefined()
    expect(c.redisUrl).toBeUndefined()
    expect(c.s3).toBeUndefined()
    expect(c.runners).toEqual(['wasi', 'docker'])
    expect(Object.isFrozen(c)).toBe(true)
  })

  test('PORT and HOST are respected', () => {
    const c = loadConfig({ PORT: '8081', HOST: '0.0.0.0' })
    expect([c.port, c.host]).toEqual([8081, '0.0.0.0'])
  })

  test('a short JWT_SECRET in production names the variable and what is expected', () => {
    const problems = problemsOf({ APP_ENV: 'production', JWT_SECRET: 'short' })
    expect(problems).toHaveLength(1)
    expect(problems[0]).toContain('JWT_SECRET')
    expect(problems[0]).toContain('at least 32 bytes')
  })

  test('production requires a JWT_SECRET', () => {
    expect(problemsOf({ APP_ENV: 'production' }).join()).toContain('JWT_SECRET: required')
  })

  test('every bad variable is reported at once', () => {
    const problems = problemsOf({
      PORT: '70000',
      APP_ENV: 'staging',
      DATABASE_URL: 'mysql://x',
      REDIS_URL: 'nope',
      RUNNERS: 'wasi,kubernetes',
      LOG_LEVEL: 'loud',
      TRUST_PROXY_HOPS: '-1',
    })
    const names = problems.map((p) => p.split(/[=:]/)[0])
    expect(names.sort()).toEqual([
      'APP_ENV',
      'DATABASE_URL',
      'LOG_LEVEL',
      'PORT',
      'REDIS_URL',
      'RUNNERS',
      'TRUST_PROXY_HOPS',
    ])
  })

  test('SANDBOX_RUNTIME is auto unless set to runsc or runc; anything else is refused by name', () => {
    expect(loadConfig({}).sandboxRuntime).toBe('auto')
    expect(loadConfig({ SANDBOX_RUNTIME: 'runsc' }).sandboxRuntime).toBe('runsc')
    expect(loadConfig({ SANDBOX_RUNTIME: 'runc' }).sandboxRuntime).toBe('runc')
    expect(problemsOf({ SANDBOX_RUNTIME: 'gvisor' })).toEqual([
      'SANDBOX_RUNTIME="gvisor": expected auto, runsc or runc',
    ])
  })

  test('PORT must be a whole number, not 1e3 or 3000abc', () => {
    expect(problemsOf({ PORT: '1e3' })[0]).toContain('PORT')
    expect(problemsOf({ PORT: '3000abc' })[0]).toContain('PORT')
  })

  test('S3 settings must come in pairs', () => {
    expect(problemsOf({ S3_ENDPOINT: 'http://127.0.0.1:9000' })[0]).toContain('S3_BUCKET')
    expect(problemsOf({ S3_BUCKET: 'b', S3_ACCESS_KEY_ID: 'k' })[0]).toContain('S3_SECRET_ACCESS_KEY')
    const c = loadConfig({ S3_BUCKET: 'media', S3_ENDPOINT: 'http://127.0.0.1:9000' })
    expect(c.s3).toEqual({
      bucket: 'media',
      endpoint: 'http://127.0.0.1:9000',
      region: 'us-east-1',
      accessKeyId: undefined,
      secretAccessKey: undefined,
      forcePathStyle: true,
    })
  })

  test('the error message never contains the secret it rejects', () => {
    const secret = 'hunter2-secret'
    expect(problemsOf({ APP_ENV: 'production', JWT_SECRET: secret }).join()).not.toContain(secret)
  })
})
