/**
 * The runner contract: one bun:test suite that every back end (docker, wasi) and placement (in
 * this process, behind a runner service) passes. A back end's `contract.test.ts` is one call:
 *
 *   runRunnerContract({ name: 'docker', create: async () => new DockerRunner(), project: selftestProject() })
 *
 * The project must be `runner/fixtures/selftest` (`selftestProject()` in test-fixtures.ts, or a copy
 * at `~/projects/<slug>` inside the session) with the fixture programs `flood`, `utf8`, `spin` and
 * `mark` buildable by `make`, and a policy that allows at least: cd, make, echo, exit, stty, ./* —
 * and refuses `curl`. It checks the members of `Runner` and `RunnerSession` every back end has;
 * the optional capabilities (`resume`, `pool`) are tested by the back ends that offer them.
 *
 * Never sleeps: every wait is on an output predicate, or on the output going quiet, with a deadline
 * (see `Transcript.waitFor` and `Transcript.quiet`).
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { checkLine } from './policy.ts'
import type { ExitInfo, OpenOptions, ProjectSpec, Runner, RunnerSession, TerminalSize } from './types.ts'

/** Case names, usable as keys of `skip`. */
export const CONTRACT_CASES = [
  'prompt',
  'echo',
  'stty size and resize',
  'exit code',
  'kill',
  'time limit',
  'large output',
  'pause bounds output',
  'utf8 split',
  'ctrl-c',
  'policy refusal',
  'isolation',
] as const
export type ContractCase = (typeof CONTRACT_CASES)[number]

export interface RunnerContractOptions {
  /** Back-end name shown in the test titles. */
  name: string
  /** Creates a fresh runner; it is closed after the suite. */
  create: () => Promise<Runner>
  /** The selftest fixture project (see runner/fixtures/selftest). */
  project: ProjectSpec
  /** Cases this back end cannot pass, each with a written reason. */
  skip?: Partial<Record<ContractCase, string>>
  /**
   * The most output listeners may still receive after `pause()` (default 0: a back end in this
   * process stops delivering at once). A placement that has output on its way when it pauses
   * states its bound here, with the reason.
   */
  pausedOutputBytes?: number
  /** Matches the shell prompt at the end of the output so far (default: ends with `$ `). */
  prompt?: RegExp
  /** Per-test timeout in ms (default 60 s: a docker session may build C programs). */
  timeoutMs?: number
}

const STRIP_WINDOW = 4096

/**
 * Accumulates a session's output: raw bytes (for byte counts) and decoded text with terminal escape
 * sequences removed (for matching). Decoding is streaming, so UTF-8 split across chunks is intact.
 */
export class Transcript {
  readonly chunks: Uint8Array[] = []
  bytes = 0
  /** Decoded output with CSI/OSC escape sequences removed. */
  text = ''
  /** `waitFor` searches from here; each match moves it past the match. */
  cursor = 0
  private readonly decoder = new TextDecoder('utf-8')
  private escape: 'none' | 'esc' | 'esc-1' | 'csi' | 'osc' | 'osc-esc' = 'none'
  private waiters = new Set<() => void>()
  private readonly unsubscribe: () => void

  constructor(readonly session: RunnerSession) {
    this.unsubscribe = session.onData((chunk) => this.push(chunk))
  }

  /** Raw bytes received so far, concatenated. */
  raw(): Uint8Array {
    const out = new Uint8Array(this.bytes)
    let at = 0
    for (const c of this.chunks) {
      out.set(c, at)
      at += c.length
    }
    return out
  }

  stop(): void {
    this.unsubscribe()
  }

  private push(chunk: Uint8Array): void {
    // why: copy, a back end may reuse its buffer after the listener returns
    this.chunks.push(chunk.slice())
    this.bytes += chunk.length
    this.text += this.strip(this.decoder.decode(chunk, { stream: true }))
    for (const w of [...this.waiters]) w()
  }

  /** Streaming removal of ESC sequences (CSI `ESC [ ... final`, OSC `ESC ] ... BEL|ST`, `ESC ( x`, `ESC x`). */
  private strip(s: string): string {
    let out = ''
    for (const ch of s) {
      const c = ch.charCodeAt(0)
      switch (this.escape) {
        case 'none':
          if (c === 0x1b) this.escape = 'esc'
          else if (c !== 0x07) out += ch
          break
        case 'esc':
          // ESC ( B and friends (charset selection) take one more character
          this.escape = ch === '[' ? 'csi' : ch === ']' ? 'osc' : '()*+#%'.includes(ch) ? 'esc-1' : 'none'
          break
        case 'esc-1':
          this.escape = 'none'
          break
        case 'csi':
          if (c >= 0x40 && c <= 0x7e) this.escape = 'none'
          break
        case 'osc':
          if (c === 0x07) this.escape = 'none'
          else if (c === 0x1b) this.escape = 'osc-esc'
          break
        case 'osc-esc':
          this.escape = 'none'
          break
      }
    }
    return out
  }

  /**
   * Resolves once no output has arrived for `ms` (a paused flood has stopped reaching the listener);
   * rejects when output still flows after `timeoutMs`. Every chunk restarts the quiet period.
   */
  quiet(ms: number, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const settle = (fn: () => void) => {
        clearTimeout(silence)
        clearTimeout(deadline)
        this.waiters.delete(restart)
        fn()
      }
      let silence = setTimeout(() => settle(resolve), ms)
      const deadline = setTimeout(
        () => settle(() => reject(new Error(`output was still arriving after ${timeoutMs} ms`))),
        timeoutMs,
      )
      const restart = () => {
        clearTimeout(silence)
        silence = setTimeout(() => settle(resolve), ms)
      }
      this.waiters.add(restart)
    })
  }

  /**
   * Resolves with the first match of `re` in the text after `cursor` and moves the cursor past it;
   * rejects after `timeoutMs` with the tail of the output in the message. Matches are searched in the
   * new text plus a 4 KB look-back, so a match must not start more than 4 KB before the newest chunk.
   */
  waitFor(re: RegExp, timeoutMs = 10_000): Promise<RegExpExecArray> {
    const flags = re.flags.replace('g', '')
    const rx = new RegExp(re.source, flags)
    let scannedTo = this.cursor
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const from = Math.max(this.cursor, scannedTo - STRIP_WINDOW)
        const m = rx.exec(this.text.slice(from))
        scannedTo = this.text.length
        if (!m) return false
        this.cursor = from + m.index + m[0].length
        resolve(m)
        return true
      }
      if (check()) return
      const timer = setTimeout(() => {
        this.waiters.delete(waiter)
        const tail = JSON.stringify(this.text.slice(-400))
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re} in the output; last output: ${tail}`))
      }, timeoutMs)
      const waiter = () => {
        if (check()) {
          clearTimeout(timer)
          this.waiters.delete(waiter)
        }
      }
      this.waiters.add(waiter)
    })
  }
}

const transcripts = new WeakMap<RunnerSession, Transcript>()

/** The transcript of a session, created (and subscribed) on first use: call it right after `open`. */
export function track(session: RunnerSession): Transcript {
  let t = transcripts.get(session)
  if (!t) {
    t = new Transcript(session)
    transcripts.set(session, t)
  }
  return t
}

/** Waits until the accumulated decoded output of `session` matches `re` (see `Transcript.waitFor`). */
export function waitFor(session: RunnerSession, re: RegExp, timeoutMs = 10_000): Promise<RegExpExecArray> {
  return track(session).waitFor(re, timeoutMs)
}

/** Rejects when `promise` is still pending after `ms`, naming `what`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms)
  })
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

/** A line printed on its own (the typed command echoes it after other text, so it never matches). */
export function outputLine(text: string): RegExp {
  return new RegExp(`(?:^|[\\r\\n])${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\r?\\n`)
}

/** The exact text `flood N` prints between its header and trailer lines (64-byte lines). */
export function floodBody(n: number): string {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
  let out = ''
  for (let i = 0; out.length < n; i++) {
    const num = String(i).padStart(7, '0')
    const fill = letters.slice(i % 10, (i % 10) + 55)
    out += `${num} ${fill}\n`
  }
  return out.slice(0, n)
}

/** The line `utf8` prints for index i (multibyte: 2-, 3- and 4-byte sequences). */
export function utf8Line(i: number): string {
  return `${String(i).padStart(4, '0')} héllo wörld — ✓ 日本語 🎉 ñ`
}

export const UTF8_LINES = 3000

/** Registers the contract cases for one back end. */
export function runRunnerContract(opts: RunnerContractOptions): void {
  const prompt = opts.prompt ?? /\$ $/
  const pausedOutputBytes = opts.pausedOutputBytes ?? 0
  const timeout = opts.timeoutMs ?? 60_000
  const project = opts.project
  const size: TerminalSize = { cols: 91, rows: 27 }

  describe(`runner contract: ${opts.name}`, () => {
    let runner: Runner
    const open: RunnerSession[] = []

    beforeAll(async () => {
      runner = await opts.create()
      if (!(await runner.available())) {
        throw new Error(`runner '${opts.name}' is not available (engine down or image missing?)`)
      }
    })
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.kill().catch(() => {})))
    })
    afterAll(async () => {
      await runner?.close()
    })

    /** Opens a session, tracks its output and waits for the first prompt. */
    async function start(extra: Partial<OpenOptions> = {}): Promise<{ s: RunnerSession; t: Transcript }> {
      const s = await runner.open({ project, size, ...extra })
      open.push(s)
      const t = track(s)
      await t.waitFor(prompt, 20_000)
      return { s, t }
    }

    /** Types a line and presses Enter. */
    function type(s: RunnerSession, line: string): void {
      s.write(`${line}\r`)
    }

    /** Builds the fixture programs in `~/projects/<slug>` and waits until make is done. */
    async function build(s: RunnerSession, t: Transcript): Promise<void> {
      type(s, `cd projects/${project.slug} && make && echo built-ok`)
      await t.waitFor(outputLine('built-ok'), 45_000)
      await t.waitFor(prompt)
    }

    /** Waits for `./flood n` to end and checks that its body, from `bodyStart`, is exact. */
    async function floodArrives(t: Transcript, n: number, bodyStart: number): Promise<void> {
      await t.waitFor(/<<flood end>>\r?\n/, 60_000)
      const body = t.text.slice(bodyStart, t.cursor).replace(/<<flood end>>\r?\n$/, '')
      // why: a TTY turns \n into \r\n (onlcr); the program's own bytes are the text without \r
      const plain = body.replaceAll('\r', '')
      expect(plain.length).toBe(n)
      expect(plain === floodBody(n)).toBe(true)
    }

    function testCase(name: ContractCase, fn: () => Promise<void>, ms = timeout): void {
      const reason = opts.skip?.[name]
      if (reason) test.skip(`${name} (skipped: ${reason})`, fn)
      else test(name, fn, ms)
    }

    testCase('prompt', async () => {
      const { s, t } = await start()
      expect(s.kind).toBe(runner.kind)
      expect(t.bytes).toBeGreaterThan(0)
    })

    testCase('echo', async () => {
      const { s, t } = await start()
      type(s, 'echo hello')
      await t.waitFor(outputLine('hello'))
      await t.waitFor(prompt)
    })

    testCase('stty size and resize', async () => {
      const { s, t } = await start()
      type(s, 'stty size')
      await t.waitFor(outputLine(`${size.rows} ${size.cols}`))
      await t.waitFor(prompt)
      await s.resize({ cols: 120, rows: 40 })
      type(s, 'stty size')
      await t.waitFor(outputLine('40 120'))
    })

    testCase('exit code', async () => {
      const { s } = await start()
      type(s, 'exit 3')
      const info: ExitInfo = await within(s.exited, 15_000, 'exit after `exit 3`')
      expect({ code: info.code, reason: info.reason }).toEqual({ code: 3, reason: 'exit' })
      // kill after exit is a no-op and does not change the outcome
      await s.kill()
      expect((await s.exited).reason).toBe('exit')
    })

    testCase('kill', async () => {
      const { s } = await start()
      await s.kill()
      const info = await within(s.exited, 15_000, 'exit after kill()')
      expect({ code: info.code, reason: info.reason }).toEqual({ code: null, reason: 'killed' })
    })

    testCase('time limit', async () => {
      const { s } = await start({ timeLimitMs: 2_000 })
      const info = await within(s.exited, 20_000, 'the end of a session past its time limit')
      expect(info.reason).toBe('timeout')
    })

    testCase('large output', async () => {
      const n = 1_048_576
      const { s, t } = await start()
      await build(s, t)
      type(s, `./flood ${n}`)
      const head = await t.waitFor(/<<flood (\d+)>>\r?\n/, 20_000)
      expect(head[1]).toBe(String(n))
      await floodArrives(t, n, t.cursor)
      expect(t.bytes).toBeGreaterThanOrEqual(n)
    })

    testCase('pause bounds output', async () => {
      const n = 2 * 1_048_576
      const { s, t } = await start()
      await build(s, t)
      type(s, `./flood ${n}`)
      await t.waitFor(/<<flood \d+>>\r?\n/, 20_000)
      const bodyStart = t.cursor
      s.pause()
      const atPause = t.bytes
      // The program goes on writing; what reaches the listener must stop within the bound.
      await t.quiet(500, 30_000)
      expect(t.bytes - atPause).toBeLessThanOrEqual(pausedOutputBytes)
      expect(t.text).not.toContain('<<flood end>>')
      s.resume()
      await floodArrives(t, n, bodyStart)
    })

    testCase('utf8 split', async () => {
      const { s, t } = await start()
      await build(s, t)
      const before = t.bytes
      type(s, './utf8')
      await t.waitFor(/<<utf8 end>>\r?\n/, 30_000)
      // Decode the raw bytes once, after concatenation: the runner must not have decoded or split them.
      const raw = t.raw().slice(before)
      const text = new TextDecoder('utf-8', { fatal: true }).decode(raw).replaceAll('\r', '')
      expect(text.includes('\uFFFD')).toBe(false)
      const headerAt = text.indexOf('<<utf8>>\n')
      expect(headerAt).toBeGreaterThanOrEqual(0)
      const lines = text
        .slice(headerAt)
        .split('\n')
        .slice(1, UTF8_LINES + 1)
      const expected = Array.from({ length: UTF8_LINES }, (_, i) => utf8Line(i))
      expect(lines).toEqual(expected)
    })

    testCase('ctrl-c', async () => {
      const { s, t } = await start()
      await build(s, t)
      type(s, './spin')
      await t.waitFor(outputLine('spinning'))
      s.write('\x03')
      await t.waitFor(prompt, 10_000)
      type(s, 'echo after-ctrl-c')
      await t.waitFor(outputLine('after-ctrl-c'))
    })

    testCase('policy refusal', async () => {
      const refused = 'curl http://example.com'
      expect(checkLine(refused, project.policy).ok).toBe(false)
      const { s, t } = await start()
      type(s, refused)
      await t.waitFor(/shellfolio: .*not allowed/)
      await t.waitFor(prompt)
      type(s, 'echo still-usable')
      await t.waitFor(outputLine('still-usable'))
    })

    testCase(
      'isolation',
      async () => {
        const count = 5
        const sessions = await Promise.all(Array.from({ length: count }, () => start()))
        await Promise.all(sessions.map(({ s, t }) => build(s, t)))
        await Promise.all(
          sessions.map(async ({ s, t }, i) => {
            type(s, `./mark s${i}`)
            await t.waitFor(outputLine(`marked s${i}`))
            await t.waitFor(prompt)
          }),
        )
        await Promise.all(
          sessions.map(async ({ s, t }, i) => {
            type(s, './mark')
            const m = await t.waitFor(/(?:^|[\r\n])marks: ([^\r\n]*)\r?\n/)
            expect(m[1]).toBe(`s${i}.mark`)
          }),
        )
      },
      timeout * 2,
    )
  })
}
