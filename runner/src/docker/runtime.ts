import type Docker from 'dockerode'

/**
 * Which OCI runtime sandbox containers run under (SANDBOX_RUNTIME). `runsc` is gVisor: a user-space
 * kernel between the visitor's programs and the host's, so a kernel bug reachable from a visitor's
 * program is no longer a host compromise (docs/threat-model.md). `auto` takes runsc when the engine
 * lists it, else runc.
 */
export type SandboxRuntimeSetting = 'auto' | 'runsc' | 'runc'
/** The runtime a runner actually uses once the engine has answered. */
export type SandboxRuntime = 'runsc' | 'runc'

export const SANDBOX_RUNTIME_SETTINGS: readonly SandboxRuntimeSetting[] = ['auto', 'runsc', 'runc']

/** How to get runsc onto an execution host; part of every "runsc is missing" message. */
export const RUNSC_SETUP =
  'install gVisor (apt-get install runsc) and register it with the Docker engine: "runtimes": {"runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--platform=ptrace", "--network=none"]}} in /etc/docker/daemon.json, then reload dockerd (kill -HUP); scripts/ensure-docker.sh does both'

/** Parses SANDBOX_RUNTIME; unset or empty is `auto`, anything unknown is null. */
export function parseSandboxRuntime(raw: string | undefined): SandboxRuntimeSetting | null {
  const value = raw?.trim() || 'auto'
  return (SANDBOX_RUNTIME_SETTINGS as readonly string[]).includes(value) ? (value as SandboxRuntimeSetting) : null
}

export type RuntimeChoice = { runtime: SandboxRuntime } | { problem: string }

/**
 * The runtime for a setting, given the runtimes the engine lists (`docker info` → Runtimes). An
 * explicit `runsc` is never downgraded: without it the answer is a problem naming what is missing.
 */
export function chooseRuntime(setting: SandboxRuntimeSetting, listed: readonly string[]): RuntimeChoice {
  if (setting === 'runc') return { runtime: 'runc' }
  if (listed.includes('runsc')) return { runtime: 'runsc' }
  if (setting === 'auto') return { runtime: 'runc' }
  const names = listed.length > 0 ? listed.join(', ') : 'none'
  return {
    problem: `SANDBOX_RUNTIME=runsc but the Docker engine lists no runsc runtime (it lists: ${names}); ${RUNSC_SETUP}`,
  }
}

/** The runtime names the engine offers (`docker info` → Runtimes). */
export async function engineRuntimes(docker: Docker): Promise<string[]> {
  const info = (await docker.info()) as { Runtimes?: Record<string, unknown> }
  return Object.keys(info.Runtimes ?? {}).sort()
}

/**
 * Under gVisor's ptrace platform every process of the sandbox costs several host tasks (stub
 * processes and threads): about 8 per idle process here, and a fork bomb held to 100 processes
 * inside still grows the host count past 2 000 within a minute. So under runsc the process limit a
 * visitor meets is RLIMIT_NPROC, which gVisor enforces inside its own kernel (one kernel per sandbox,
 * so unlike runc it is not shared with every other uid-1000 process of the host), and the engine's
 * pids limit is only a backstop for the sandbox as a whole: when it is hit the sandbox ends.
 */
export const RUNSC_HOST_TASKS_PER_PROCESS = 20

export interface SandboxProcess {
  pid: number
  stat: string
  comm: string
}

/**
 * The processes running in a sandbox container. Under runc that is the engine's `top`. Under runsc
 * the engine's `top` is wrong: it asks the runtime for the sandbox's pids, which are gVisor's own
 * numbering (1, 2, 3…), and matches them against the host's process table, so it lists unrelated
 * host processes. There, `ps` runs inside the sandbox instead (and is left out of its own answer).
 */
export async function sandboxProcesses(
  container: Docker.Container,
  runtime: SandboxRuntime,
): Promise<SandboxProcess[]> {
  if (runtime === 'runc') {
    const top = (await container.top({ ps_args: '-o pid,stat,comm' })) as { Processes?: string[][] }
    return (top.Processes ?? []).map(([pid, stat, comm]) => ({ pid: Number(pid), stat: stat ?? '', comm: comm ?? '' }))
  }
  const exec = await container.exec({
    Cmd: ['ps', '-e', '-o', 'pid=,stat=,comm='],
    User: '1000:1000',
    AttachStdout: true,
    AttachStderr: true,
    Tty: true,
  })
  const stream = await exec.start({ hijack: true, stdin: false, Tty: true })
  const chunks: Buffer[] = []
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk)
  const { ExitCode } = await exec.inspect()
  const text = Buffer.concat(chunks).toString('utf8')
  if (ExitCode !== 0) throw new Error(`ps in the sandbox exited ${ExitCode}: ${text.trim().slice(0, 200)}`)
  const self = new Set<number>()
  const list: SandboxProcess[] = []
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(\d+)\s+(\S+)\s+(.+?)\s*$/.exec(line)
    if (!m) continue
    const entry = { pid: Number(m[1]), stat: m[2] as string, comm: m[3] as string }
    if (entry.comm === 'ps') self.add(entry.pid)
    list.push(entry)
  }
  return list.filter((p) => !self.has(p.pid))
}
