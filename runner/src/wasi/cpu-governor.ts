/**
 * CPU demotion of WASI sessions that burned a lot of CPU recently (docs/budgets.md, "Fair CPU"):
 * every `sampleMs` the CPU time of each session's processes (its session host and program hosts)
 * is read from /proc; a session that used `demoteMs` or more in the last `windowMs`, or whose
 * history (CPU time decayed with `historyHalfLifeMs`) reached `historyDemoteMs`, has its program
 * hosts (and its compiles, through the toolchain's `lowPriority`) moved to SCHED_IDLE and the idle
 * cgroup, so they run on CPU that fresh and light sessions leave unused (and still get the WASI
 * work's share of the machine when nobody else's WASI work wants it: idle-group.ts); once both
 * are low again they go back to a normal policy. The session host keeps its nice 10 while only its
 * programs spin, so the shell answers keys and Ctrl-C at once; when its own work burns the CPU (a
 * make or line-editor attack runs in the host) it is moved to SCHED_IDLE by the same rule.
 */
import { availableParallelism } from 'node:os'
import { cpuMs, setIdle } from './proc-stats.ts'

export interface CpuGovernorOptions {
  /** How often CPU time is sampled (default 500 ms). */
  sampleMs?: number
  /** The window "recently" means (default 10 s). */
  windowMs?: number
  /** CPU time in the window from which a session is demoted (default 2 s: 20% of a core). */
  demoteMs?: number
  /** CPU time in the window at or under which a demoted session gets its normal weight back (default 500 ms). */
  restoreMs?: number
  /**
   * The session host's own CPU time in the window from which the host is demoted too (default 1 s:
   * 10% of a core; a visitor's make of minirt spends ≈ 0.3 s of it).
   */
  hostDemoteMs?: number
  /** Share of the input window a demoted session may have in flight (default 1/8: 8 of 64 KiB). */
  demotedInputCredit?: number
  /** Output of a demoted session acknowledged to its host per second (default 64 KiB). */
  demotedOutputBytesPerSec?: number
  /**
   * CPU time in the window from which a session under its share counts as active (default 100 ms):
   * the input and output limits of demoted sessions apply only while some such session exists.
   */
  activeMs?: number
  /** Cores the sessions share (default: the machine's). */
  cores?: number
  /**
   * Half-life of a session's CPU history (default 60 s): its CPU time decayed with it, what the
   * session has had over the last minute or two, the session host's own apart.
   */
  historyHalfLifeMs?: number
  /**
   * History from which a session (its programs; its session host on the host's own history) is
   * demoted whatever its rate now (default 1 s: a visitor's make of minirt spends ≈ 0.2 s of it, the
   * render after it ≈ 0.8 s); back at half of it. Fifty sessions splitting two cores each stay
   * under the window's thresholds, yet each has had ≈ 3.5 s within a couple of minutes
   * (docs/budgets.md, "Fair CPU").
   */
  historyDemoteMs?: number
}

interface Tracked {
  /** Every process of the session, the session host first (its CPU counts; it is never demoted). */
  pids: () => number[]
  /** CPU time per process at the last sample. */
  last: Map<number, number>
  /** CPU time used per sample in the window. */
  samples: { at: number; ms: number }[]
  idle: boolean
  /** The session host's own CPU time per sample in the window, and whether it is demoted. */
  hostSamples: { at: number; ms: number }[]
  hostIdle: boolean
  /** CPU time decayed with `historyHalfLifeMs` (the session's, its host's own), as of `historyAt`. */
  history: number
  hostHistory: number
  historyAt: number
  /** Output acknowledgements held back while demoted, and when the next may go (performance.now()). */
  acks: { bytes: number; send?: (bytes: number) => void; timer?: ReturnType<typeof setTimeout>; next: number }
}

export class CpuGovernor {
  readonly #sessions = new Map<string, Tracked>()
  readonly #o: Required<CpuGovernorOptions>
  #timer: ReturnType<typeof setInterval> | undefined
  /** Whether some session under its share was active at the last sample (see `activeMs`). */
  #contended = false

  constructor(options: CpuGovernorOptions = {}) {
    this.#o = {
      sampleMs: options.sampleMs ?? 500,
      windowMs: options.windowMs ?? 10_000,
      demoteMs: options.demoteMs ?? 2_000,
      restoreMs: options.restoreMs ?? 500,
      hostDemoteMs: options.hostDemoteMs ?? 1_000,
      demotedInputCredit: options.demotedInputCredit ?? 1 / 8,
      demotedOutputBytesPerSec: options.demotedOutputBytesPerSec ?? 64 * 1024,
      activeMs: options.activeMs ?? 100,
      cores: options.cores ?? availableParallelism(),
      historyHalfLifeMs: options.historyHalfLifeMs ?? 60_000,
      historyDemoteMs: options.historyDemoteMs ?? 1_000,
    }
  }

  /**
   * Watches a session: `pids()` lists its processes, the session host first (a process that is
   * not this session's must never be listed: pids are reused). Returns the function that stops
   * watching it.
   */
  track(id: string, pids: () => number[]): () => void {
    const last = new Map<number, number>()
    // what its processes spent before the session began (a pooled host loading its code) is not counted
    for (const pid of pids()) last.set(pid, cpuMs(pid) ?? 0)
    this.#sessions.set(id, {
      pids,
      last,
      samples: [],
      idle: false,
      hostSamples: [],
      hostIdle: false,
      history: 0,
      hostHistory: 0,
      historyAt: performance.now(),
      acks: { bytes: 0, next: 0 },
    })
    if (!this.#timer) {
      this.#timer = setInterval(() => this.sample(), this.#o.sampleMs)
      this.#timer.unref?.()
    }
    return () => {
      clearTimeout(this.#sessions.get(id)?.acks.timer)
      this.#sessions.delete(id)
      if (this.#sessions.size === 0 && this.#timer) {
        clearInterval(this.#timer)
        this.#timer = undefined
      }
    }
  }

  /** Whether a session is over its share: its programs, compiles or session host run under SCHED_IDLE now. */
  isIdle(id: string): boolean {
    const t = this.#sessions.get(id)
    return t ? over(t) : false
  }

  /** A session's CPU time (ms) in the window, as of the last sample. */
  recentMs(id: string): number {
    return (this.#sessions.get(id)?.samples ?? []).reduce((sum, s) => sum + s.ms, 0)
  }

  /**
   * The share of its input window a session may have in flight (session.ts): all of it, or
   * `demotedInputCredit` while demoted and another session is active — a flood of keys costs the
   * API and the host less while someone else needs them.
   */
  inputCredit(id: string): number {
    const t = this.#sessions.get(id)
    return t && this.#limited(t) ? this.#o.demotedInputCredit : 1
  }

  /**
   * Whether a session's input and output are limited: it is over its share and some session under
   * its share is active. Work-conserving, like SCHED_IDLE: a demoted session with nobody to yield
   * to (one visitor's output flood on a quiet server) runs at full speed (docs/budgets.md, "Fair CPU").
   */
  #limited(t: Tracked): boolean {
    return over(t) && this.#contended
  }

  /**
   * Output relayed for a session, to be acknowledged to its host (session.ts). While the session
   * is demoted (or acknowledgements are still held back) the governor takes it and calls `send`
   * later, at `demotedOutputBytesPerSec`: the host waits for credit, so a demoted session's output
   * flood costs the API's relaying at most that rate. Returns false when the caller sends it now.
   */
  deferAck(id: string, bytes: number, send: (bytes: number) => void): boolean {
    const t = this.#sessions.get(id)
    if (!t || (!this.#limited(t) && t.acks.bytes === 0)) return false
    const a = t.acks
    a.bytes += bytes
    a.send = send
    if (!a.timer) this.#releaseAcks(t)
    return true
  }

  /** Sends what the rate allows now and arms a timer for the rest (all at once when restored). */
  #releaseAcks(t: Tracked): void {
    const a = t.acks
    a.timer = undefined
    if (a.bytes === 0 || !a.send) return
    const now = performance.now()
    if (!this.#limited(t)) {
      const n = a.bytes
      a.bytes = 0
      a.send(n)
      return
    }
    if (a.next <= now) {
      const n = a.bytes
      a.bytes = 0
      a.next = now + (n * 1000) / this.#o.demotedOutputBytesPerSec
      a.send(n)
      return
    }
    a.timer = setTimeout(() => this.#releaseAcks(t), a.next - now)
    a.timer.unref?.()
  }

  /**
   * A session started a process: a demoted session's new program host is demoted at once; one
   * that is not demoted runs at its normal weight and in the work group even when its session host
   * (whose policy and group it inherits) is demoted.
   */
  touch(id: string): void {
    const t = this.#sessions.get(id)
    if (t && (t.idle || t.hostIdle)) this.#apply(t, t.idle)
  }

  /** One sample of every session (run by the timer; public for tests). */
  sample(now = performance.now()): void {
    let contended = false
    const seenPids = new Map<Tracked, number[]>()
    for (const t of this.#sessions.values()) {
      const pids = t.pids()
      seenPids.set(t, pids)
      let used = 0
      let hostUsed = 0
      const seen = new Map<number, number>()
      for (const [i, pid] of pids.entries()) {
        const cpu = cpuMs(pid)
        if (cpu === undefined) continue
        // a process first seen now (a program host started ahead of a run, ≈ 0.7 s of CPU loading
        // the SDK) counts from now: what a visitor ran, not what the runner prepared
        const spent = Math.max(0, cpu - (t.last.get(pid) ?? cpu))
        used += spent
        if (i === 0) hostUsed = spent
        seen.set(pid, cpu)
      }
      t.last = seen
      t.samples.push({ at: now, ms: used })
      while (t.samples.length > 0 && t.samples[0]!.at <= now - this.#o.windowMs) t.samples.shift()
      t.hostSamples.push({ at: now, ms: hostUsed })
      while (t.hostSamples.length > 0 && t.hostSamples[0]!.at <= now - this.#o.windowMs) t.hostSamples.shift()
      const decay = 2 ** (-Math.max(0, now - t.historyAt) / this.#o.historyHalfLifeMs)
      t.history = t.history * decay + used
      t.hostHistory = t.hostHistory * decay + hostUsed
      t.historyAt = now
    }
    // With more sessions busy than cores, the fixed thresholds are never reached: fifty sessions
    // splitting two cores get ≈ 0.4 s each in 10 s, and all of them then weigh as much as a
    // visitor's build. A session's share is then the cores' time divided among the busy sessions
    // (docs/budgets.md, "Fair CPU").
    const recentOf = (t: Tracked) => t.samples.reduce((sum, s) => sum + s.ms, 0)
    const busy = [...this.#sessions.values()].filter((t) => recentOf(t) >= this.#o.activeMs).length
    const fair = busy > this.#o.cores ? (this.#o.cores * this.#o.windowMs) / busy : Number.POSITIVE_INFINITY
    const demoteAt = Math.min(this.#o.demoteMs, fair)
    const hostDemoteAt = Math.min(this.#o.hostDemoteMs, fair)
    const restoreAt = Math.min(this.#o.restoreMs, fair / 4)
    // The window catches a session burning CPU now; the history one that has had its share over
    // the last minutes at any rate: with fifty sessions splitting two cores none of them reaches
    // the window's threshold, and a visitor arriving then would weigh as much as each of them
    // (docs/budgets.md, "Fair CPU"). Back only once both say so.
    const historyAt = this.#o.historyDemoteMs
    for (const t of this.#sessions.values()) {
      const pids = seenPids.get(t) ?? []
      const recent = recentOf(t)
      if (!t.idle && (recent >= demoteAt || t.history >= historyAt)) t.idle = true
      else if (t.idle && recent <= restoreAt && t.history <= historyAt / 2) {
        t.idle = false
        this.#apply(t, false)
      }
      // again on every sample while demoted: threads and program hosts started since are caught
      if (t.idle) this.#apply(t, true)
      // the session host itself only when its own work burns the CPU (a make or line-editor
      // attack runs in it): a session whose programs spin keeps a host that answers at once
      const hostRecent = t.hostSamples.reduce((sum, s) => sum + s.ms, 0)
      const host = pids[0]
      if (host !== undefined) {
        if (!t.hostIdle && (hostRecent >= hostDemoteAt || t.hostHistory >= historyAt)) t.hostIdle = true
        else if (t.hostIdle && hostRecent <= restoreAt && t.hostHistory <= historyAt / 2) {
          t.hostIdle = false
          setIdle(host, false)
        }
        if (t.hostIdle) setIdle(host, true)
      }
      if (!over(t) && recent >= this.#o.activeMs) contended = true
    }
    this.#contended = contended
    for (const t of this.#sessions.values()) {
      // back under its share, or nobody to yield to: output held back goes now
      if (!this.#limited(t) && t.acks.bytes > 0) {
        clearTimeout(t.acks.timer)
        this.#releaseAcks(t)
      }
    }
  }

  #apply(t: Tracked, idle: boolean): void {
    const [, ...workers] = t.pids()
    for (const pid of workers) setIdle(pid, idle)
  }

  close(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#sessions.clear()
  }
}

/** Over its share: its programs, compiles or session host demoted. */
function over(t: Tracked): boolean {
  return t.idle || t.hostIdle
}

let shared: CpuGovernor | undefined

/** The process-wide governor, shared by the WASI runners and the default toolchain. */
export function defaultGovernor(): CpuGovernor {
  shared ??= new CpuGovernor()
  return shared
}
