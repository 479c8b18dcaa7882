/**
 * scripts/ensure-docker.sh registers gVisor's runsc with the Docker engine: the daemon.json merge, on
 * scratch files so the machine's engine is left alone (the suites that run under runsc fail by name
 * when the engine does not list it).
 */
import { describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const SCRIPT = join(import.meta.dir, 'ensure-docker.sh')
const RUNSC = { path: '/usr/bin/runsc', runtimeArgs: ['--platform=ptrace', '--network=none'] }

function registerOnly(daemonJson: string) {
  const p = Bun.spawnSync(['bash', SCRIPT, '--register-only'], {
    env: { ...process.env, DOCKER_DAEMON_JSON: daemonJson },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() }
}

describe('scripts/ensure-docker.sh registers runsc', () => {
  test('merges the runsc runtime into daemon.json, keeps every other key, and a second run changes nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sf-daemon-'))
    try {
      const file = join(dir, 'daemon.json')
      writeFileSync(file, JSON.stringify({ 'log-level': 'warn', runtimes: { other: { path: '/opt/other' } } }))
      expect(registerOnly(file).code).toBe(0)
      const first = readFileSync(file, 'utf8')
      expect(JSON.parse(first)).toEqual({
        'log-level': 'warn',
        runtimes: { other: { path: '/opt/other' }, runsc: RUNSC },
      })
      const again = registerOnly(file)
      expect({ code: again.code, out: again.out }).toEqual({ code: 0, out: '' })
      expect(readFileSync(file, 'utf8')).toBe(first)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test("creates daemon.json when there is none, and keeps an operator's own runsc entry as it is", () => {
    const dir = mkdtempSync(join(tmpdir(), 'sf-daemon-'))
    try {
      const fresh = join(dir, 'etc/docker/daemon.json')
      expect(registerOnly(fresh).code).toBe(0)
      expect(JSON.parse(readFileSync(fresh, 'utf8'))).toEqual({ runtimes: { runsc: RUNSC } })
      const own = join(dir, 'own.json')
      const kvm = JSON.stringify({ runtimes: { runsc: { path: '/usr/bin/runsc', runtimeArgs: ['--platform=kvm'] } } })
      writeFileSync(own, kvm)
      expect(registerOnly(own).code).toBe(0)
      expect(readFileSync(own, 'utf8')).toBe(kvm)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('refuses a daemon.json that is not a JSON object, naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sf-daemon-'))
    try {
      const file = join(dir, 'daemon.json')
      writeFileSync(file, '["not", "an", "object"]')
      const r = registerOnly(file)
      expect(r.code).toBe(1)
      expect(r.err).toContain(`${file} is not a JSON object`)
      expect(readFileSync(file, 'utf8')).toBe('["not", "an", "object"]')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
