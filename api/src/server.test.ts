import { afterEach, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const ENTRY = join(import.meta.dir, 'index.ts')
const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function start(env: Record<string, string>) {
  const dataDir = mkdtempSync(join(tmpdir(), 'shellfolio-server-'))
  dirs.push(dataDir)
  return Bun.spawn(['bun', 'run', ENTRY], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      DATA_DIR: dataDir,
      PORT: '0',
      RUNNERS: 'wasi',
      ...env,
    },
    stdout: 'pipe',
    stderr: 'pipe',
  })
}

/** Reads a stream until `pattern` appears (or the deadline passes); returns everything read. */
async function readUntil(stream: ReadableStream<Uint8Array>, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  const reader = stream.getReader()
  const decoder = new TextDecoder()
  let text = ''
  const deadline = Date.now() + timeoutMs
  try {
    while (!pattern.test(text)) {
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; got:\n${text}`)), deadline - Date.now()),
      )
      const { value, done } = await Promise.race([reader.read(), timeout])
      if (done) break
      text += decoder.decode(value, { stream: true })
    }
  } finally {
    reader.releaseLock()
  }
  return text
}

describe('the server process', () => {
  test('a bad configuration stops the start with a message naming the variable', async () => {
    const proc = start({ APP_ENV: 'production', JWT_SECRET: 'too-short' })
    const code = await proc.exited
    const stderr = await new Response(proc.stderr).text()
    expect(code).toBe(78)
    expect(stderr).toContain('JWT_SECRET: expected at least 32 bytes')
    expect(stderr).not.toContain('too-short')
  })

  test('starts on a free port, prints the admin password once, serves /healthz, and stops cleanly on SIGTERM', async () => {
    const proc = start({ ADMIN_EMAIL: 'owner@example.com', LOG_LEVEL: 'info' })
    // (the embedded database's first open took 28 s once beside a busy suite)
    const stderr = await readUntil(proc.stderr, /running at (http:\/\/\S+)/, 90_000)
    expect(stderr).toMatch(/Password \(shown once, store it now\): \S{20,}/)
    const url = stderr.match(/running at (http:\/\/\S+)/)![1]!
    const res = await fetch(`${url}/healthz`, { headers: { 'x-request-id': 'from-test' } })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-request-id')).toBe('from-test')
    // The access line is written after the response is sent: wait for it before stopping.
    const before = await readUntil(proc.stdout, /"path":"\/healthz"/)
    proc.kill('SIGTERM')
    expect(await proc.exited).toBe(0)
    const stdout = before + (await readUntil(proc.stdout, /"msg":"stopped"/))
    const lines = stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines.find((l) => l.path === '/healthz')).toMatchObject({
      requestId: 'from-test',
      status: 200,
      method: 'GET',
    })
    expect(lines.at(-1)?.msg).toBe('stopped')
    // The password is printed once to the operator, never logged.
    const password = stderr.match(/store it now\): (\S+)/)![1]!
    expect(stdout).not.toContain(password)
  }, 150_000)
})
