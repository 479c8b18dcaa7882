/**
 * The check build (docs/projects.md, "Check build"): the project's `build` command typed into a real
 * session of a runner, exactly as a visitor's session would get the files, stopped at a time limit.
 */
import type { ProjectSpec, Runner } from '@shellfolio/runner'

/** How much build output is kept: the first and the last part, with a note of what was cut. */
export const BUILD_LOG_HEAD = 32 * 1024
export const BUILD_LOG_TAIL = 96 * 1024

export interface CheckBuildResult {
  passed: boolean
  /** The terminal output of the build, escape sequences removed, bounded. */
  log: string
  /** Why it failed, in a sentence (null when it passed). */
  problem: string | null
}

// CSI, OSC (BEL or ST terminated) and two-byte escapes; what a log reader should not see.
// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes on purpose
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g
const MARKER = /__SF_BUILD_EXIT=(\d+)/
const PROMPT = /\$ $/

/** Terminal output as a log: escapes stripped, CR LF as LF, stray CRs dropped. */
export function plainText(raw: string): string {
  return raw.replace(ESCAPES, '').replace(/\r\n/g, '\n').replace(/\r/g, '')
}

/** Keeps the head and the tail of a long log. */
export function boundLog(log: string): string {
  if (log.length <= BUILD_LOG_HEAD + BUILD_LOG_TAIL) return log
  const cut = log.length - BUILD_LOG_HEAD - BUILD_LOG_TAIL
  return `${log.slice(0, BUILD_LOG_HEAD)}\n… ${cut} characters of output cut …\n${log.slice(-BUILD_LOG_TAIL)}`
}

/**
 * Opens a session of `runner` on the project, waits for the prompt, types `command` and waits for
 * its exit status (or the time limit, which kills the session). `onLog` sees the log as it grows.
 */
export async function checkBuild(options: {
  runner: Runner
  project: ProjectSpec
  command: string
  timeoutMs: number
  onLog?: (log: string) => void
}): Promise<CheckBuildResult> {
  const { runner, project, command, timeoutMs, onLog } = options
  const decoder = new TextDecoder()
  let raw = ''
  let typed = false
  let wake: (() => void) | null = null
  const log = () => {
    const text = plainText(raw)
    let body = text
    if (typed) {
      // The log starts at the build command, shown as typed (without our status echo).
      const echo = text.indexOf('"__SF_""BUILD')
      if (echo >= 0) {
        const next = text.indexOf('\n', echo)
        body = `$ ${command}\n${next >= 0 ? text.slice(next + 1) : ''}`
      }
    }
    const marker = MARKER.exec(body)
    if (marker) body = body.slice(0, marker.index)
    return boundLog(body)
  }
  const deadline = Date.now() + timeoutMs
  const session = await runner.open({
    project: { ...project, policy: { allow: ['*'] } },
    size: { cols: 120, rows: 40 },
    // the runner's own limit backs ours up
    timeLimitMs: timeoutMs + 10_000,
  })
  const off = session.onData((chunk) => {
    raw += decoder.decode(chunk, { stream: true })
    // why: a build that floods output must not grow the server's memory without bound
    if (raw.length > 4 * (BUILD_LOG_HEAD + BUILD_LOG_TAIL)) {
      raw = raw.slice(0, BUILD_LOG_HEAD * 2) + raw.slice(-(BUILD_LOG_TAIL * 2))
    }
    wake?.()
  })
  let ended = false
  void session.exited.then(() => {
    ended = true
    wake?.()
  })
  const waitFor = async (done: () => boolean): Promise<boolean> => {
    while (!done()) {
      if (ended || Date.now() >= deadline) return false
      await new Promise<void>((resolve) => {
        wake = resolve
        setTimeout(resolve, Math.min(1_000, Math.max(0, deadline - Date.now())))
      })
      wake = null
    }
    return true
  }
  try {
    let lastReported = ''
    const report = () => {
      const now = log()
      if (now !== lastReported) {
        lastReported = now
        onLog?.(now)
      }
    }
    if (!(await waitFor(() => PROMPT.test(plainText(raw))))) {
      return {
        passed: false,
        log: log(),
        problem: ended ? 'the session ended before its prompt' : 'no prompt within the time limit',
      }
    }
    typed = true
    // why: the quotes split the marker in the echoed command line, so only the echo's output matches
    session.write(`${command}; echo "__SF_""BUILD_EXIT=$?"\r`)
    const timer = setInterval(report, 500)
    const finished = await waitFor(() => MARKER.test(plainText(raw)))
    clearInterval(timer)
    const result = log()
    onLog?.(result)
    if (!finished) {
      if (ended) return { passed: false, log: result, problem: 'the session ended during the build' }
      return { passed: false, log: result, problem: `stopped at the time limit of ${Math.round(timeoutMs / 1000)} s` }
    }
    const code = Number(MARKER.exec(plainText(raw))?.[1])
    return code === 0
      ? { passed: true, log: result, problem: null }
      : { passed: false, log: result, problem: `the build command exited with status ${code}` }
  } finally {
    off()
    await session.kill().catch(() => {})
  }
}
