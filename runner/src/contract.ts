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
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Terminal as HeadlessTerminal } from '@xterm/headless'
import { DOWNLOAD_OSC, FILE_LIMITS } from './files.ts'
import { projectHelp } from './help.ts'
import { checkLine } from './policy.ts'
import {
  type ExitInfo,
  type OpenOptions,
  type ProjectSpec,
  type Runner,
  RunnerError,
  type RunnerSession,
  type TerminalSize,
} from './types.ts'

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
  // The session's folder and help (docs/runners.md, "Starting folder and help"):
  'starting directory',
  'project help',
  'projects apart',
  // terminal fidelity, issue 17 (shell and policy): see the block at the end of runRunnerContract
  'typeahead during a running program',
  'resize of a running program',
  'pipes and redirections',
  // Files in and out (docs/runners.md, "Files")
  'file upload',
  'file download',
  // what the visitor sees (docs/runners.md, "Contract"): the refused line, an image
  'refused line visible',
  'image output',
  // job control (docs/runners.md, "Job control"): Ctrl-Z, jobs, fg
  'ctrl-z and fg',
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
  /**
   * How long `make` of the fixture may take (default 45 s). A back end whose sessions each load
   * their own compiler on a shared machine (the browser runner: five tabs loading LLVM at once in
   * the isolation case) states a longer wait.
   */
  buildTimeoutMs?: number
  /**
   * How many sessions the isolation case opens at once (default 5). The browser runner states
   * fewer: each of its sessions is a tab that loads and runs its own compiler.
   */
  isolationSessions?: number
  /**
   * Where the contract writes a second, throw-away project (default the system's temporary folder):
   * a placement that ships projects only from some folders (a runner service, `shipRoots`) names one.
   */
  scratchDir?: string
}

/** The text a terminal shows for `text` once escape sequences are dropped (as `Transcript.text` keeps it). */
function screenText(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: SGR sequences are what is removed
  return text.replace(/\x1b\[[0-9;]*m/g, '').replace(/\n/g, '\r\n')
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

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
  const buildTimeout = opts.buildTimeoutMs ?? 45_000
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

    /** Builds the fixture programs in `~/projects/<slug>`, where the session starts, and waits until make is done. */
    async function build(s: RunnerSession, t: Transcript): Promise<void> {
      type(s, 'make && echo built-ok')
      await t.waitFor(outputLine('built-ok'), buildTimeout)
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
        const count = opts.isolationSessions ?? 5
        const sessions = await Promise.all(Array.from({ length: count }, () => start()))
        await Promise.all(sessions.map(({ s, t }) => build(s, t)))
        // five programs starting at once (each session's first: a new program host) on a busy
        // machine took over the default 10 s wait (a fresh-clone make test): the build's wait
        await Promise.all(
          sessions.map(async ({ s, t }, i) => {
            type(s, `./mark s${i}`)
            await t.waitFor(outputLine(`marked s${i}`), buildTimeout)
            await t.waitFor(prompt)
          }),
        )
        await Promise.all(
          sessions.map(async ({ s, t }, i) => {
            type(s, './mark')
            const m = await t.waitFor(/(?:^|[\r\n])marks: ([^\r\n]*)\r?\n/, buildTimeout)
            expect(m[1]).toBe(`s${i}.mark`)
          }),
        )
      },
      timeout * 2,
    )

    // ---------------------------------------------------------------------------------------------
    // The session's folder and its help (docs/runners.md, "Starting folder and help"): a session
    // opens in ~/projects/<slug>, so the project's first suggested command works as typed; `help`
    // prints the project help (runner/src/help.ts), the same bytes on every runner; and a session
    // of one project never sees another project's files.

    /** A second project (one file, its own suggested commands), written for these cases. */
    let other: ProjectSpec | undefined
    const otherProject = (): ProjectSpec => {
      if (other) return other
      const dir = mkdtempSync(join(opts.scratchDir ?? tmpdir(), 'shellfolio-contract-'))
      const slug = `contract-other-${dir
        .slice(-6)
        .toLowerCase()
        .replace(/[^a-z0-9]/g, 'x')}`
      writeFileSync(join(dir, 'other.txt'), 'the other project\n')
      writeFileSync(
        join(dir, 'project.json'),
        JSON.stringify({
          slug,
          title: 'Contract other',
          summary: 'A second project: sessions of different projects never see each other.',
          commands: ['cat other.txt', 'ls'],
          policy: project.policy,
        }),
      )
      other = { ...project, slug, sourceDir: dir }
      return other
    }
    afterAll(() => {
      if (other) rmSync(other.sourceDir, { recursive: true, force: true })
    })

    /** Types `line` and resolves with what it printed before the next prompt (escape sequences dropped). */
    async function output(s: RunnerSession, t: Transcript, line: string): Promise<string> {
      const marker = `${line}\r\n`
      type(s, line)
      await t.waitFor(new RegExp(escapeRegExp(marker)))
      const from = t.cursor
      await t.waitFor(prompt, 30_000)
      const text = t.text.slice(from, t.cursor)
      // the prompt is the last line of what was printed
      return text.slice(0, text.lastIndexOf('\r\n') + 2)
    }

    testCase('starting directory', async () => {
      const { s, t } = await start()
      expect(await output(s, t, 'pwd')).toBe(`/home/coder/projects/${project.slug}\r\n`)
      // the first suggested command of the fixture is `make`: it works as typed
      await build(s, t)
      type(s, './mark start-dir && ls')
      await t.waitFor(outputLine('marked start-dir'))
      await t.waitFor(/start-dir\.mark/)
      await t.waitFor(prompt)
      // `cd` alone goes home, where the project's folder is the only one in ~/projects
      expect(await output(s, t, `cd && ls projects`)).toBe(`${project.slug}\r\n`)
    })

    testCase('project help', async () => {
      for (const spec of [project, otherProject()]) {
        const s = await runner.open({ project: spec, size })
        open.push(s)
        const t = track(s)
        await t.waitFor(prompt, 20_000)
        // the same text every runner prints (runner/src/help.ts): nothing before it, nothing after
        expect(await output(s, t, 'help')).toBe(screenText(projectHelp(spec)))
      }
    })

    testCase('projects apart', async () => {
      const spec = otherProject()
      const [mine, theirs] = await Promise.all([
        start(),
        (async () => {
          const s = await runner.open({ project: spec, size })
          open.push(s)
          const t = track(s)
          await t.waitFor(prompt, 20_000)
          return { s, t }
        })(),
      ])
      // the other project's session starts in its own folder and its first suggested command works
      expect(await output(theirs.s, theirs.t, 'pwd')).toBe(`/home/coder/projects/${spec.slug}\r\n`)
      expect(await output(theirs.s, theirs.t, 'cat other.txt')).toBe('the other project\r\n')
      // each sees its own project only
      expect(await output(theirs.s, theirs.t, 'ls ~/projects')).toBe(`${spec.slug}\r\n`)
      expect(await output(mine.s, mine.t, 'ls ~/projects')).toBe(`${project.slug}\r\n`)
      expect(await output(mine.s, mine.t, `cat ~/projects/${spec.slug}/other.txt`)).toContain('No such file')
      expect(await output(theirs.s, theirs.t, `cat ~/projects/${project.slug}/Makefile`)).toContain('No such file')
    })

    // ---- Terminal fidelity (issue 17): typeahead, resize of a running program, pipes ----------

    /** Builds only `targets` of the fixture (in `~/projects/<slug>`, wherever the session starts). */
    async function buildOnly(s: RunnerSession, t: Transcript, targets: string): Promise<void> {
      type(s, `cd ~/projects/${project.slug} && make ${targets} && echo built-only-ok`)
      await t.waitFor(outputLine('built-only-ok'), buildTimeout)
      await t.waitFor(prompt)
    }

    testCase('typeahead during a running program', async () => {
      const { s, t } = await start()
      await buildOnly(s, t, 'busy')
      type(s, './busy 1500')
      await t.waitFor(outputLine('busy start'))
      // typed while the program computes and never reads its input: the shell runs it afterwards,
      // as bash does with what the TTY kept
      type(s, 'echo typed-$((40+2))')
      await t.waitFor(outputLine('busy done'), 20_000)
      await t.waitFor(outputLine('typed-42'), 20_000)
      await t.waitFor(prompt)
    })

    testCase('resize of a running program', async () => {
      const { s, t } = await start()
      await buildOnly(s, t, 'winsize')
      type(s, './winsize')
      await t.waitFor(outputLine(`size ${size.rows} ${size.cols}`))
      await s.resize({ cols: 104, rows: 33 })
      // a line for the program (it reads its input): it asks for its size again
      s.write('\r')
      await t.waitFor(outputLine('size 33 104'), 20_000)
      s.write('\x04')
      await t.waitFor(prompt, 20_000)
    })

    testCase('pipes and redirections', async () => {
      const { s, t } = await start()
      await buildOnly(s, t, 'flood mark')
      for (const line of ['./flood 6400 | head -n 3 | wc -l', 'echo one two three | wc -w']) {
        expect(checkLine(line, project.policy)).toEqual({ ok: true })
      }
      type(s, './flood 6400 | head -n 3 | wc -l')
      await t.waitFor(outputLine('3'))
      await t.waitFor(prompt)
      type(s, 'echo one two three | wc -w')
      await t.waitFor(outputLine('3'))
      await t.waitFor(prompt)
      type(
        s,
        'echo alpha > pipe.txt && echo beta >> pipe.txt && ./mark nope 2>&1 >> pipe.txt; tail -n 2 < pipe.txt | head -n 1',
      )
      await t.waitFor(outputLine('beta'))
      await t.waitFor(prompt)
      type(s, 'cat pipe.txt | wc -l')
      await t.waitFor(outputLine('3'))
      await t.waitFor(prompt)
    })

    // --- Files in and out (docs/runners.md, "Files") -------------------------------------------

    /** Resolves with the RunnerError code `promise` rejects with (fails the test when it resolves). */
    async function codeOf(promise: Promise<unknown>): Promise<string> {
      try {
        await promise
      } catch (e) {
        expect(e).toBeInstanceOf(RunnerError)
        return (e as RunnerError).code
      }
      throw new Error('expected the file operation to be refused')
    }

    testCase('file upload', async () => {
      const { s, t } = await start()
      const text = `uploaded-${Date.now()}\n`
      const bytes = new Uint8Array(256).map((_, i) => i)
      const result = await s.putFiles(`projects/${project.slug}`, [
        { name: 'up.txt', data: new TextEncoder().encode(text) },
        { name: 'bytes.bin', data: bytes },
      ])
      expect(result).toEqual({
        dir: `projects/${project.slug}`,
        files: [
          { name: 'up.txt', bytes: text.length },
          { name: 'bytes.bin', bytes: 256 },
        ],
      })
      // The shell sees the file where it landed; a second upload replaces it.
      type(s, `cd && cat projects/${project.slug}/up.txt`)
      await t.waitFor(outputLine(text.trim()))
      await t.waitFor(prompt)
      await s.putFiles('', [{ name: 'up.txt', data: new TextEncoder().encode('second\n') }])
      await s.putFiles('', [{ name: 'up.txt', data: new TextEncoder().encode('third\n') }])
      type(s, 'cat up.txt')
      await t.waitFor(outputLine('third'))
      expect((await s.getFile(`projects/${project.slug}/bytes.bin`)).data).toEqual(bytes)
      // Never outside the workspace, never past the limits.
      const one = [{ name: 'x.txt', data: new Uint8Array(1) }]
      expect(await codeOf(s.putFiles('..', one))).toBe('PATH_OUTSIDE_WORKSPACE')
      expect(await codeOf(s.putFiles('/etc', one))).toBe('PATH_OUTSIDE_WORKSPACE')
      expect(await codeOf(s.putFiles('projects/../..', one))).toBe('PATH_OUTSIDE_WORKSPACE')
      expect(await codeOf(s.putFiles('no-such-folder', one))).toBe('NOT_A_DIRECTORY')
      expect(await codeOf(s.putFiles('', [{ name: '../x', data: new Uint8Array(1) }]))).toBe('FILE_NAME_INVALID')
      expect(await codeOf(s.putFiles('', [{ name: '..', data: new Uint8Array(1) }]))).toBe('FILE_NAME_INVALID')
      const many = Array.from({ length: FILE_LIMITS.maxFiles + 1 }, (_, i) => ({
        name: `f${i}`,
        data: new Uint8Array(1),
      }))
      expect(await codeOf(s.putFiles('', many))).toBe('TOO_MANY_FILES')
      const big = [{ name: 'big.bin', data: new Uint8Array(FILE_LIMITS.maxFileBytes + 1) }]
      expect(await codeOf(s.putFiles('', big))).toBe('FILE_TOO_LARGE')
      expect(await codeOf(s.putFiles('', [{ name: 'projects', data: new Uint8Array(1) }]))).toBe('NOT_A_FILE')
      type(s, 'echo still-usable')
      await t.waitFor(outputLine('still-usable'))
    })

    testCase('file download', async () => {
      const { s, t } = await start()
      const makefile = new Uint8Array(readFileSync(join(project.sourceDir, 'Makefile')))
      const got = await s.getFile(`projects/${project.slug}/Makefile`)
      expect(got.name).toBe('Makefile')
      expect(got.data).toEqual(makefile)
      // `download FILE` finds the path (relative to the shell's folder) and announces it.
      const before = t.bytes
      type(s, `cd && cd projects/${project.slug} && download Makefile`)
      await t.waitFor(/download: sending ~\/projects\/[^\r\n]*Makefile to your browser\r?\n/)
      await t.waitFor(prompt)
      const raw = new TextDecoder().decode(t.raw().slice(before))
      const osc = new RegExp(`\x1b\\]${DOWNLOAD_OSC};download;([A-Za-z0-9+/=]+)\x07`).exec(raw)
      expect(osc).not.toBeNull()
      const announced = Buffer.from(osc?.[1] ?? '', 'base64').toString('utf8')
      expect(announced).toBe(`projects/${project.slug}/Makefile`)
      expect((await s.getFile(announced)).data).toEqual(makefile)
      type(s, 'download no-such-file')
      await t.waitFor(/download: no-such-file: No such file or directory/)
      await t.waitFor(prompt)
      expect(await codeOf(s.getFile('no-such-file'))).toBe('FILE_NOT_FOUND')
      expect(await codeOf(s.getFile(`projects/${project.slug}`))).toBe('NOT_A_FILE')
      expect(await codeOf(s.getFile('../../etc/passwd'))).toBe('PATH_OUTSIDE_WORKSPACE')
      expect(await codeOf(s.getFile('/etc/passwd'))).toBe('PATH_OUTSIDE_WORKSPACE')
    })

    // ---- What the visitor sees: the refused line stays on screen, an image arrives intact -------

    /** The session's screen as a terminal of `size` shows it (@xterm/headless), one string per row. */
    async function screenOf(t: Transcript): Promise<string[]> {
      const term = new HeadlessTerminal({ cols: size.cols, rows: size.rows, scrollback: 1000, allowProposedApi: true })
      await new Promise<void>((resolve) => term.write(t.raw(), resolve))
      const rows: string[] = []
      const buffer = term.buffer.active
      for (let i = 0; i < buffer.length; i++) rows.push(buffer.getLine(i)?.translateToString(true) ?? '')
      term.dispose()
      return rows
    }

    testCase('refused line visible', async () => {
      const refused = 'curl http://example.com/refused-visible'
      const { s, t } = await start()
      type(s, refused)
      await t.waitFor(/shellfolio: .*not allowed/)
      await t.waitFor(prompt)
      const rows = await screenOf(t)
      // the line as typed, after its prompt, then the refusal below it: the scrollback keeps both
      // (Docker keeps it through readline's insert-comment, so bash shows it as `#curl …`)
      const typed = rows.findIndex((row) => row.includes(`$ ${refused}`) || row.includes(`$ #${refused}`))
      const message = rows.findIndex((row) => /shellfolio: .*not allowed/.test(row))
      expect(typed).toBeGreaterThanOrEqual(0)
      expect(message).toBeGreaterThan(typed)
    })

    testCase('image output', async () => {
      const { s, t } = await start()
      await buildOnly(s, t, 'sixel')
      const before = t.bytes
      type(s, './sixel')
      await t.waitFor(outputLine('sixel done'))
      await t.waitFor(prompt)
      const raw = new TextDecoder().decode(t.raw().slice(before))
      // the DCS sequence byte for byte: no back end rewrites or drops an image
      expect(raw).toContain('\x1bPq"1;1;12;6#0;2;0;0;0#1;2;100;40;0#1~~~~@@@@~~~~$#0????}}}}????-\x1b\\')
    })

    testCase('ctrl-z and fg', async () => {
      const { s, t } = await start()
      await build(s, t)
      type(s, './spin')
      await t.waitFor(outputLine('spinning'))
      s.write('\x1a')
      // bash's words: `[1]+  Stopped                 ./spin`, then the prompt
      await t.waitFor(/\[1\]\+ +Stopped +\.\/spin/)
      await t.waitFor(prompt)
      type(s, 'echo between')
      await t.waitFor(outputLine('between'))
      await t.waitFor(prompt)
      type(s, 'jobs')
      await t.waitFor(/\[1\]\+ +Stopped +\.\/spin\r?\n/)
      await t.waitFor(prompt)
      const before = t.text.length
      type(s, 'fg')
      // fg shows the command it resumes; the program holds the terminal again until Ctrl-C
      await t.waitFor(outputLine('./spin'))
      await Bun.sleep(300)
      expect(t.text.slice(before)).not.toMatch(prompt)
      s.write('\x03')
      await t.waitFor(prompt, 10_000)
      type(s, 'jobs; echo after-fg')
      await t.waitFor(outputLine('after-fg'))
      expect(t.text.slice(before)).not.toMatch(/Stopped/)
    })
  })
}
