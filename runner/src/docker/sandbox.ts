import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import type Docker from 'dockerode'
import { RUNSC_HOST_TASKS_PER_PROCESS, type SandboxRuntime } from './runtime.ts'

/** Resource limits of one sandbox container (docs/runners.md). */
export interface SandboxLimits {
  memoryBytes: number
  nanoCpus: number
  pids: number
  /** Workspace tmpfs at /home/coder (counts against the memory limit). */
  workspaceBytes: number
  tmpBytes: number
  nofile: number
  /** Largest file a process may write (RLIMIT_FSIZE, bytes). */
  fileSizeBytes: number
}

export const DEFAULT_LIMITS: SandboxLimits = {
  memoryBytes: 512 * 1024 * 1024,
  nanoCpus: 2e9,
  pids: 100,
  workspaceBytes: 128 * 1024 * 1024,
  tmpBytes: 64 * 1024 * 1024,
  nofile: 1024,
  fileSizeBytes: 64 * 1024 * 1024,
}

export const LABEL_MANAGED = 'shellfolio.managed'
export const LABEL_OWNER = 'shellfolio.owner'
export const LABEL_SESSION = 'shellfolio.session'
export const LABEL_CREATED = 'shellfolio.created'
/** Epoch ms after which any reaper may remove the container, whoever owns it. */
export const LABEL_EXPIRES = 'shellfolio.expires'

/**
 * The attach detach sequence. The daemon holds back input that matches a prefix of the detach keys
 * (default Ctrl-P Ctrl-Q, so Ctrl-P vanished), even over the API: use a sequence nobody types.
 */
export const DETACH_KEYS = 'ctrl-^,ctrl-@,ctrl-^,ctrl-@,ctrl-^'

export const HOME = '/home/coder'
export const ENTRY = ['/opt/shellfolio/entry.sh', '--handshake']

/** Process start time (clock ticks since boot) from /proc, or '0' where /proc is unavailable. */
function processStartTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // why: the command name (field 2) may contain spaces; fields after the last ')' are fixed
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[19] ?? null
  } catch {
    return null
  }
}

/**
 * This runner instance's id, stored in each container's owner label: `host/pid/start/random`. A
 * reaper on the same host can tell from it whether the owner process is still alive.
 */
export function newInstanceId(): string {
  const rand = crypto.randomUUID().slice(0, 8)
  return `${hostname()}/${process.pid}/${processStartTicks(process.pid) ?? '0'}/${rand}`
}

/** True unless the id names a process on this host that is gone (or was replaced by another). */
export function ownerMayBeAlive(owner: string): boolean {
  const [host, pid, start] = owner.split('/')
  if (!host || !pid || !start) return false
  if (host !== hostname()) return true
  const ticks = processStartTicks(Number(pid))
  return ticks !== null && (start === '0' || ticks === start)
}

export interface CreateSpec {
  image: string
  sessionId: string
  ownerId: string
  expiresAt: number
  limits: SandboxLimits
  size: { cols: number; rows: number }
  /** The OCI runtime (runner/src/docker/runtime.ts); both get the same limits, enforced where each can. */
  runtime: SandboxRuntime
}

/**
 * The create options of a sandbox container: TTY, stdin open, every limit of docs/runners.md. The
 * process limit is the one thing set differently per runtime (see RUNSC_HOST_TASKS_PER_PROCESS):
 * runc counts the container's host pids; under runsc gVisor's kernel counts the sandbox's processes
 * (RLIMIT_NPROC) and the host pids limit is a backstop for the sandbox as a whole.
 */
export function containerOptions(spec: CreateSpec): Docker.ContainerCreateOptions {
  const l = spec.limits
  const gvisor = spec.runtime === 'runsc'
  return {
    Image: spec.image,
    Cmd: ENTRY,
    User: '1000:1000',
    WorkingDir: HOME,
    Hostname: 'shellfolio',
    Tty: true,
    OpenStdin: true,
    StdinOnce: false,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    NetworkDisabled: true,
    StopTimeout: 1,
    // Only these: the server's environment (secrets included) never reaches the sandbox.
    Env: [
      'TERM=xterm-256color',
      `COLUMNS=${spec.size.cols}`,
      `LINES=${spec.size.rows}`,
      'LANG=C.UTF-8',
      `HOME=${HOME}`,
    ],
    Labels: {
      [LABEL_MANAGED]: '1',
      [LABEL_OWNER]: spec.ownerId,
      [LABEL_SESSION]: spec.sessionId,
      [LABEL_CREATED]: new Date().toISOString(),
      [LABEL_EXPIRES]: String(spec.expiresAt),
    },
    HostConfig: {
      Memory: l.memoryBytes,
      MemorySwap: l.memoryBytes,
      NanoCpus: l.nanoCpus,
      PidsLimit: gvisor ? l.pids * RUNSC_HOST_TASKS_PER_PROCESS : l.pids,
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      Tmpfs: {
        '/tmp': `rw,nosuid,nodev,noexec,size=${l.tmpBytes},mode=1777`,
        // why: exec so programs built in the workspace run; uid/gid so coder owns the tmpfs root
        [HOME]: `rw,nosuid,nodev,exec,size=${l.workspaceBytes},uid=1000,gid=1000,mode=0755`,
      },
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Init: true,
      IpcMode: 'private',
      Ulimits: [
        { Name: 'nofile', Soft: l.nofile, Hard: l.nofile },
        { Name: 'fsize', Soft: l.fileSizeBytes, Hard: l.fileSizeBytes },
        // why not under runc: there RLIMIT_NPROC counts every uid-1000 process of the host kernel,
        // every other sandbox's included; gVisor has one kernel per sandbox
        ...(gvisor ? [{ Name: 'nproc', Soft: l.pids, Hard: l.pids }] : []),
      ],
      LogConfig: { Type: 'none', Config: {} },
      AutoRemove: false,
      Runtime: spec.runtime,
    },
  }
}

/** True for the engine's "no such container" / "already in progress" answers on cleanup. */
function isGone(err: unknown): boolean {
  const code = (err as { statusCode?: number })?.statusCode
  return code === 404 || code === 409
}

/** Kills and removes a container, ignoring "already gone". */
export async function destroyContainer(container: Docker.Container): Promise<void> {
  try {
    await container.remove({ force: true, v: true })
  } catch (err) {
    if (!isGone(err)) throw err
  }
}

/**
 * Labels cannot change after create, so a runner that takes over a session (re-attach after its
 * owner crashed) records itself in the container's name: `shellfolio-<session>-by-<owner>`.
 */
export function adoptedName(sessionId: string, instanceId: string): string {
  const [host = '', pid = '0', start = '0', rand = '0'] = instanceId.split('/')
  return `shellfolio-${sessionId}-by-${host.replace(/[^a-zA-Z0-9.-]/g, '-')}_${pid}_${start}_${rand}`
}

/** The owner a container's name records (see `adoptedName`), or null when it was never adopted. */
export function adoptedOwner(names: string[] | undefined): string | null {
  for (const name of names ?? []) {
    const m = /^\/?shellfolio-[0-9a-f-]+-by-(.+)_(\d+)_(\d+)_([0-9a-f]+)$/.exec(name)
    if (m) return `${m[1]}/${m[2]}/${m[3]}/${m[4]}`
  }
  return null
}

export interface ReapOptions {
  /** This runner's own id: its containers are left to it. */
  instanceId?: string
  now?: number
  /**
   * How long an orphan (owner gone) is kept before removal, so another instance can still re-attach
   * its session; `orphanSince` remembers when each was first seen orphaned. Default 0: at once.
   */
  orphanGraceMs?: number
  orphanSince?: Map<string, number>
}

/**
 * Removes sandbox containers nobody will clean up: those whose owner process is gone, and those past
 * their expiry label whoever owns them. Returns the removed container ids.
 */
export async function reapOrphans(docker: Docker, opts: ReapOptions = {}): Promise<string[]> {
  const now = opts.now ?? Date.now()
  const list = await docker.listContainers({ all: true, filters: { label: [`${LABEL_MANAGED}=1`] } })
  const removed: string[] = []
  const grace = opts.orphanGraceMs ?? 0
  const since = opts.orphanSince ?? new Map<string, number>()
  const listed = new Set(list.map((info) => info.Id))
  for (const id of since.keys()) if (!listed.has(id)) since.delete(id)
  await Promise.all(
    list.map(async (info) => {
      const owner = adoptedOwner(info.Names) ?? info.Labels[LABEL_OWNER] ?? ''
      const expires = Number(info.Labels[LABEL_EXPIRES] ?? 0)
      const orphan = owner !== opts.instanceId && !ownerMayBeAlive(owner)
      const expired = expires > 0 && expires < now
      if (!orphan) since.delete(info.Id)
      else if (!since.has(info.Id)) since.set(info.Id, now)
      const orphanLongEnough = orphan && now - (since.get(info.Id) ?? now) >= grace
      if (!orphanLongEnough && !expired) return
      try {
        await destroyContainer(docker.getContainer(info.Id))
        removed.push(info.Id)
      } catch {
        // another reaper got there first, or the engine is busy: the next pass retries
      }
    }),
  )
  return removed
}
