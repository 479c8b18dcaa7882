/**
 * What the sandbox container must contain, against the real Docker engine. Sessions here use a
 * permissive policy (`allow: ['*']`): the command policy is the friendly first line, these tests
 * check the real boundary behind it. The suite runs under the runtime SANDBOX_RUNTIME names
 * (`make test` runs it with runc and with runsc); where gVisor enforces a limit differently the test
 * says how (docs/threat-model.md), and the visitor meets the same limit either way.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { hostname } from 'node:os'
import { outputLine, type Transcript, track, within } from '../contract.ts'
import { selftestProject } from '../test-fixtures.ts'
import type { OpenOptions } from '../types.ts'
import type { DockerRunner } from './runner.ts'
import { RUNSC_HOST_TASKS_PER_PROCESS, type SandboxRuntime, sandboxProcesses } from './runtime.ts'
import { LABEL_EXPIRES, LABEL_MANAGED, LABEL_OWNER, LABEL_SESSION, reapOrphans } from './sandbox.ts'
import type { DockerSession } from './session.ts'
import { poolReady, requireDockerRunner, testRuntime } from './test-fixtures.ts'

const PROMPT = /\$ $/
/** Per-test timeout: containers start, programs build. */
const T = 60_000
const permissive = selftestProject({ allow: ['*'] })

let runner: DockerRunner
/** The runtime this run's sandboxes use (an explicit SANDBOX_RUNTIME is checked to be the one in use). */
let runtime: SandboxRuntime
const open: DockerSession[] = []

beforeAll(async () => {
  runner = await requireDockerRunner({ poolSize: 2 })
  runtime = runner.runtime as SandboxRuntime
  const requested = testRuntime()
  if (requested !== 'auto' && runtime !== requested)
    throw new Error(`SANDBOX_RUNTIME=${requested} but the runner resolved ${runtime}`)
})
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.kill()))
})
afterAll(async () => {
  await runner?.close()
})

async function start(extra: Partial<OpenOptions> = {}): Promise<{ s: DockerSession; t: Transcript }> {
  const s = (await runner.open({ project: permissive, size: { cols: 100, rows: 30 }, ...extra })) as DockerSession
  open.push(s)
  const t = track(s)
  await t.waitFor(PROMPT, 20_000)
  return { s, t }
}

/** Types a command followed by `; echo "<tag>=$?"` and resolves with its exit status. */
async function status(s: DockerSession, t: Transcript, command: string, timeoutMs = 30_000): Promise<number> {
  const tag = `rc${Math.random().toString(36).slice(2, 8)}`
  s.write(`${command}; echo "${tag}=$?"\r`)
  const m = await t.waitFor(new RegExp(`(?:^|[\\r\\n])${tag}=(\\d+)\\r?\\n`), timeoutMs)
  await t.waitFor(PROMPT)
  return Number(m[1])
}

async function containerGone(id: string): Promise<boolean> {
  try {
    await runner.docker.getContainer(id).inspect()
    return false
  } catch (err) {
    return (err as { statusCode?: number }).statusCode === 404
  }
}

describe('docker sandbox containment', () => {
  test(
    'the C program builds and runs in the workspace',
    async () => {
      const { s, t } = await start()
      s.write('make && ./flood 100\r')
      await t.waitFor(/<<flood 100>>\r?\n/, 30_000)
      await t.waitFor(/<<flood end>>\r?\n/)
      expect(await status(s, t, 'pwd | grep -qx /home/coder/projects/selftest')).toBe(0)
    },
    T,
  )

  test(
    'the container is created with every limit and label',
    async () => {
      const { s } = await start()
      const info = await runner.docker.getContainer(s.containerId).inspect()
      const h = info.HostConfig
      expect({
        memory: h.Memory,
        memorySwap: h.MemorySwap,
        nanoCpus: h.NanoCpus,
        pids: h.PidsLimit,
        network: h.NetworkMode,
        readonlyRoot: h.ReadonlyRootfs,
        capDrop: h.CapDrop,
        securityOpt: h.SecurityOpt,
        init: h.Init,
        log: h.LogConfig?.Type,
        ulimits: h.Ulimits,
        tmpfs: h.Tmpfs,
        user: info.Config.User,
        tty: info.Config.Tty,
        openStdin: info.Config.OpenStdin,
        runtime: h.Runtime,
      }).toEqual({
        memory: 512 * 1024 * 1024,
        memorySwap: 512 * 1024 * 1024,
        nanoCpus: 2e9,
        // runsc: the 100-process limit is RLIMIT_NPROC inside gVisor (below); the engine's pids
        // limit counts gVisor's own host tasks and only backs the sandbox as a whole
        pids: runtime === 'runsc' ? 100 * RUNSC_HOST_TASKS_PER_PROCESS : 100,
        network: 'none',
        readonlyRoot: true,
        capDrop: ['ALL'],
        securityOpt: ['no-new-privileges'],
        init: true,
        log: 'none',
        ulimits: [
          { Name: 'nofile', Soft: 1024, Hard: 1024 },
          { Name: 'fsize', Soft: 64 * 1024 * 1024, Hard: 64 * 1024 * 1024 },
          ...(runtime === 'runsc' ? [{ Name: 'nproc', Soft: 100, Hard: 100 }] : []),
        ],
        tmpfs: {
          '/tmp': `rw,nosuid,nodev,noexec,size=${64 * 1024 * 1024},mode=1777`,
          '/home/coder': `rw,nosuid,nodev,exec,size=${128 * 1024 * 1024},uid=1000,gid=1000,mode=0755`,
        },
        user: '1000:1000',
        tty: true,
        openStdin: true,
        runtime,
      })
      const labels = info.Config.Labels
      expect(labels[LABEL_MANAGED]).toBe('1')
      expect(labels[LABEL_OWNER]).toBe(runner.instanceId)
      expect(labels[LABEL_SESSION]).toBe(s.id)
      expect(Number(labels[LABEL_EXPIRES])).toBeGreaterThan(Date.now())
      expect(Number.isNaN(Date.parse(labels['shellfolio.created'] ?? ''))).toBe(false)
    },
    T,
  )

  test(
    'the sandbox runs on the kernel its runtime promises: gVisor under runsc, none readable under runc',
    async () => {
      const { s, t } = await start()
      s.write('dmesg | head -n 1\r')
      // runsc: gVisor's own kernel log; runc: the host kernel's log is closed to the sandbox user
      await t.waitFor(runtime === 'runsc' ? /Starting gVisor/ : /dmesg: .*Operation not permitted/)
      await t.waitFor(PROMPT)
    },
    T,
  )

  test(
    "the everyday file commands work: ls -l, ls with colours, stat, du (gVisor needs the image's statx shim)",
    async () => {
      const { s, t } = await start()
      expect(
        await status(s, t, 'cd ~/projects && ls -l selftest > /tmp/ls.txt && grep -q " Makefile$" /tmp/ls.txt'),
      ).toBe(0)
      expect(await status(s, t, 'ls --color=always -d selftest | grep -q selftest')).toBe(0)
      expect(await status(s, t, 'stat -c %s selftest/Makefile | grep -qx "[0-9][0-9]*"')).toBe(0)
      expect(await status(s, t, 'du -s selftest > /dev/null')).toBe(0)
      expect(t.text).not.toContain('Invalid argument')
    },
    T,
  )

  test(
    'a fork bomb hits the process limit and the session stays in control',
    async () => {
      const { s, t } = await start()
      // runsc: gVisor counts the sandbox's processes against RLIMIT_NPROC (runc: the engine's pids limit)
      if (runtime === 'runsc') expect(await status(s, t, 'ulimit -u | grep -qx 100')).toBe(0)
      // through a script: the command policy refuses `{ }` and `&` on a typed line even when it allows every command
      s.write("echo ':(){ :|:& };:' > bomb.sh && bash bomb.sh\r")
      await t.waitFor(/fork: (retry: )?Resource temporarily unavailable|Cannot fork/, 30_000)
      if (runtime === 'runc') {
        const stats = await runner.docker.getContainer(s.containerId).stats({ stream: false })
        expect(stats.pids_stats?.current ?? 0).toBeLessThanOrEqual(100)
      }
      await s.kill()
      const end = await within(s.exited, 20_000, 'the end of the fork-bombed session')
      // runsc: a bomb that outlasts the kill can also end the sandbox by the engine's backstop first
      if (runtime === 'runsc' && end.reason === 'exit') expect(end.code).not.toBe(0)
      else expect(end).toEqual({ code: null, reason: 'killed' })
      expect(await containerGone(s.containerId)).toBe(true)
    },
    T,
  )

  test('a memory bomb is stopped at the memory limit (runc: the program, the shell survives; runsc: the sandbox, with a message)', async () => {
    const { s, t } = await start()
    const info = await runner.docker.getContainer(s.containerId).inspect()
    expect(info.HostConfig.Memory).toBe(512 * 1024 * 1024)
    expect(info.HostConfig.MemorySwap).toBe(512 * 1024 * 1024)
    // why: tail keeps a newline-free input whole in memory, so it grows until the OOM killer acts
    const bomb = 'head -c 900m /dev/zero | tail > /dev/null'
    if (runtime === 'runc') {
      expect(await status(s, t, bomb)).toBe(137)
      expect(await status(s, t, 'true')).toBe(0)
      return
    }
    // gVisor's memory is one host process group in the cgroup: the host's OOM killer stops the
    // whole sandbox, and the visitor is told why.
    s.write(`${bomb}\r`)
    expect(await within(s.exited, 80_000, 'the end of the sandbox over its memory limit')).toEqual({
      code: 137,
      reason: 'exit',
      message: 'the sandbox went over its memory limit and was stopped',
    })
    expect(await containerGone(s.containerId)).toBe(true)
  }, 90_000)

  test(
    'the workspace tmpfs is sized and a file larger than fsize is refused',
    async () => {
      const { s, t } = await start()
      s.write('df -k ~ /tmp | tail -n 2\r')
      // why: the filesystem column says tmpfs under runc and none under gVisor; the sizes agree
      await t.waitFor(/\S+\s+131072\s.*\/home\/coder\r?\n/)
      await t.waitFor(/\S+\s+65536\s.*\/tmp\r?\n/)
      await t.waitFor(PROMPT)
      // one file above the 64 MB fsize limit: SIGXFSZ (128 + 25)
      expect(await status(s, t, 'head -c 100m /dev/zero > big')).toBe(153)
      // several files under the limit fill the 128 MB tmpfs
      const fill = 'rm -f big && head -c 60m /dev/zero > f1 && head -c 60m /dev/zero > f2 && head -c 60m /dev/zero > f3'
      expect(await status(s, t, fill)).toBe(1)
      expect(t.text).toContain('No space left on device')
      expect(await status(s, t, 'rm -f f1 f2 f3 && echo ok > small')).toBe(0)
    },
    T,
  )

  // What reaches the listener while paused, and that resume delivers the rest, is the contract's
  // 'pause bounds output' case; here: the backpressure reaches the program inside the container.
  test(
    'an output flood with a paused consumer blocks the producer instead of growing memory',
    async () => {
      const { s, t } = await start()
      s.write('yes shellfolio-flood\r')
      await t.waitFor(/shellfolio-flood\r?\nshellfolio-flood/)
      const rssBefore = process.memoryUsage().rss
      s.pause()
      expect(s.paused).toBe(true)
      // The producer must end up blocked writing to its TTY: backpressure reached the container.
      const container = runner.docker.getContainer(s.containerId)
      let sleeping = 0
      const deadline = Date.now() + 20_000
      while (sleeping < 5) {
        if (Date.now() > deadline) throw new Error('`yes` never blocked while the session was paused')
        const yes = (await sandboxProcesses(container, runtime)).find((p) => p.comm === 'yes')
        sleeping = yes?.stat.startsWith('S') ? sleeping + 1 : 0
        await Bun.sleep(100) // why: polling interval of a predicate with a deadline, not a timing assumption
      }
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024)
      s.resume()
      const resumedFrom = t.bytes
      t.cursor = t.text.length
      await t.waitFor(/shellfolio-flood\r?\n/)
      expect(t.bytes).toBeGreaterThan(resumedFrom)
      s.write('\x03')
      await t.waitFor(PROMPT, 10_000)
    },
    T,
  )

  test(
    'there is no network',
    async () => {
      const { s, t } = await start()
      expect(await status(s, t, 'exec 3<>/dev/tcp/1.1.1.1/80')).not.toBe(0)
      expect(await status(s, t, 'getent hosts deb.debian.org')).not.toBe(0)
      // the interfaces, one per line of /proc/net/dev: only the loopback
      s.write("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | paste -sd,\r")
      await t.waitFor(outputLine('lo'))
    },
    T,
  )

  test(
    'the root filesystem is read-only outside the workspace',
    async () => {
      const { s, t } = await start()
      // why /var/tmp: world-writable, so only the read-only mount refuses (gVisor checks the
      // directory's permissions first, so a root-owned directory answers "Permission denied")
      expect(await status(s, t, 'touch /var/tmp/x')).toBe(1)
      expect(t.text).toContain('Read-only file system')
      expect(await status(s, t, 'touch /usr/local/bin/x 2>/dev/null')).toBe(1)
      expect(await status(s, t, 'touch /etc/x /opt/shellfolio/x 2>/dev/null')).toBe(1)
      expect(await status(s, t, 'touch ~/ok /tmp/ok')).toBe(0)
    },
    T,
  )

  test(
    'no privilege escalation: no capabilities, no-new-privileges, no setuid helpers',
    async () => {
      const { s, t } = await start()
      s.write('id -u; grep -E "^CapEff" /proc/self/status\r')
      await t.waitFor(outputLine('1000'))
      await t.waitFor(/CapEff:\s+0000000000000000/)
      await t.waitFor(PROMPT)
      // why a program: gVisor's /proc/<pid>/status has no NoNewPrivs line; prctl answers in both
      const nnp = String.raw`printf '#include <stdio.h>\n#include <sys/prctl.h>\nint main(void){printf("nnp=%%d\\n",prctl(PR_GET_NO_NEW_PRIVS,0,0,0,0));return 0;}\n' > nnp.c && gcc -o nnp nnp.c && ./nnp`
      s.write(`${nnp}\r`)
      await t.waitFor(outputLine('nnp=1'), 30_000)
      await t.waitFor(PROMPT)
      expect(await status(s, t, 'sudo true')).toBe(127)
      expect(await status(s, t, 'su -c true root < /dev/null')).not.toBe(0)
      expect(await status(s, t, 'find / -xdev -perm /6000 -type f 2>/dev/null | grep -q .')).toBe(1)
    },
    T,
  )

  test(
    'the environment holds no secrets from the server',
    async () => {
      process.env.SHELLFOLIO_FAKE_SECRET = 'sekrit-4d1b7e'
      try {
        const { s, t } = await start()
        s.write('env | sort; echo env-done\r')
        const from = t.cursor
        await t.waitFor(outputLine('env-done'))
        const listing = t.text.slice(from, t.cursor)
        expect(listing).not.toContain('sekrit-4d1b7e')
        expect(listing).not.toContain('SHELLFOLIO_FAKE_SECRET')
        const keys = [...listing.matchAll(/(?:^|[\r\n])([A-Za-z_][A-Za-z0-9_]*)=/g)].map((m) => m[1])
        const allowed = ['COLUMNS', 'HOME', 'HOSTNAME', 'LANG', 'LINES', 'OLDPWD', 'PATH', 'PWD', 'SHLVL', 'TERM', '_']
        expect(keys.filter((k) => !allowed.includes(k as string))).toEqual([])
      } finally {
        delete process.env.SHELLFOLIO_FAKE_SECRET
      }
    },
    T,
  )

  test(
    'a session past its time limit ends with reason timeout and its container is removed',
    async () => {
      const { s, t } = await start({ timeLimitMs: 3_000 })
      s.write('make spin && ./spin\r')
      await t.waitFor(outputLine('spinning'), 30_000)
      const info = await within(s.exited, 20_000, 'the end of a session past its limit')
      expect(info.reason).toBe('timeout')
      expect(await containerGone(s.containerId)).toBe(true)
    },
    T,
  )

  test(
    'Ctrl-C interrupts a running program; Ctrl-P reaches the program (detach keys moved)',
    async () => {
      const { s, t } = await start()
      s.write('make spin && ./spin\r')
      await t.waitFor(outputLine('spinning'), 30_000)
      s.write('\x03')
      await t.waitFor(PROMPT, 10_000)
      // why: wait until cat runs; type-ahead sent while readline owns the TTY keeps \r untranslated
      s.write('echo cat-ready; cat -v\r')
      await t.waitFor(outputLine('cat-ready'))
      s.write('a\x10b\r')
      await t.waitFor(outputLine('a^Pb'))
      s.write('\x04')
      await t.waitFor(PROMPT)
    },
    T,
  )

  test(
    'each container serves one session and ends with it',
    async () => {
      const sessions = await Promise.all([start(), start(), start()])
      const ids = sessions.map(({ s }) => s.containerId)
      expect(new Set(ids).size).toBe(3)
      await Promise.all(sessions.map(({ s }) => s.kill()))
      for (const id of ids) expect(await containerGone(id)).toBe(true)
    },
    T,
  )
})

describe('docker runner lifecycle', () => {
  test(
    'removes containers of a dead owner and expired ones, keeps live ones',
    async () => {
      const base = {
        Image: runner.image,
        Cmd: ['true'],
        HostConfig: { NetworkMode: 'none', LogConfig: { Type: 'none', Config: {} } },
      }
      const labels = (owner: string, expires: number) => ({
        [LABEL_MANAGED]: '1',
        [LABEL_OWNER]: owner,
        [LABEL_SESSION]: crypto.randomUUID(),
        [LABEL_EXPIRES]: String(expires),
      })
      const later = Date.now() + 3_600_000
      // pid 999999 is above this kernel's pid_max: that owner is certainly gone
      const dead = await runner.docker.createContainer({
        ...base,
        Labels: labels(`${hostname()}/999999/1/dead`, later),
      })
      const expired = await runner.docker.createContainer({
        ...base,
        Labels: labels('other-host/1/1/x', Date.now() - 1),
      })
      const live = await runner.docker.createContainer({ ...base, Labels: labels('other-host/1/1/y', later) })
      try {
        const removed = await reapOrphans(runner.docker, { instanceId: runner.instanceId })
        expect(removed).toContain(dead.id)
        expect(removed).toContain(expired.id)
        expect(removed).not.toContain(live.id)
        expect(await containerGone(dead.id)).toBe(true)
        expect(await containerGone(expired.id)).toBe(true)
        expect(await containerGone(live.id)).toBe(false)
      } finally {
        await live.remove({ force: true })
      }
    },
    T,
  )

  test(
    'a pooled container that died while waiting is not handed to a session',
    async () => {
      const other = await requireDockerRunner({ poolSize: 1 })
      try {
        await poolReady(other.pool, 1)
        const [pooled] = await runner.docker.listContainers({
          filters: { label: [`${LABEL_OWNER}=${other.instanceId}`] },
        })
        expect(pooled).toBeDefined()
        await runner.docker.getContainer(pooled?.Id as string).kill()
        const s = (await other.open({ project: permissive, size: { cols: 80, rows: 24 } })) as DockerSession
        expect(s.containerId).not.toBe(pooled?.Id)
        const t = track(s)
        await t.waitFor(PROMPT, 20_000)
        s.write('echo alive\r')
        await t.waitFor(outputLine('alive'))
      } finally {
        await other.close()
      }
    },
    T,
  )

  test(
    'closing the runner leaves no containers of its own behind',
    async () => {
      const other = await requireDockerRunner({ poolSize: 2 })
      const s = await other.open({ project: permissive, size: { cols: 80, rows: 24 } })
      await track(s).waitFor(PROMPT, 20_000)
      await other.close()
      const left = await runner.docker.listContainers({
        all: true,
        filters: { label: [`${LABEL_OWNER}=${other.instanceId}`] },
      })
      expect(left).toEqual([])
    },
    T,
  )
})
