import type { ClientRunner } from './connection.ts'

/** How each runner is named to visitors (the runner choice before and in the terminal panel). */
export const RUNNER_LABELS: Record<ClientRunner, string> = {
  browser: 'In your browser (nothing runs on the server)',
  docker: 'Docker (real Linux container)',
  wasi: 'WASI (WebAssembly sandbox)',
}

const WHERE: Record<ClientRunner, string> = {
  browser: 'browser — runs in this tab',
  docker: 'docker — on the server',
  wasi: 'wasi — on the server',
}

/** The runner and where the code runs, for the terminal's status bar. */
export function runnerWhere(runner: ClientRunner | undefined): string {
  return runner ? WHERE[runner] : '—'
}

/**
 * The browser runner is offered, and chosen first, when this tab can run it (docs/runners.md, "The
 * browser runner"): cross-origin isolated (SharedArrayBuffer for the programs' input), module
 * workers, and the project runs on WASI (its binaries are WebAssembly). Else the server runners,
 * with nothing said: the visitor loses nothing.
 */
export function browserCapable(project: { availableRunners: readonly string[] }): boolean {
  return (
    typeof window !== 'undefined' &&
    window.crossOriginIsolated === true &&
    typeof SharedArrayBuffer === 'function' &&
    typeof Worker === 'function' &&
    project.availableRunners.includes('wasi')
  )
}

/** The runners to offer for `project`, best first. */
export function offeredRunners<R extends string>(project: { availableRunners: readonly R[] }): (R | 'browser')[] {
  return browserCapable(project) ? ['browser', ...project.availableRunners] : [...project.availableRunners]
}
