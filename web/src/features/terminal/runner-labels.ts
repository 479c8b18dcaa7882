import type { RunnerKind } from '../../lib/contract.ts'

/** How each runner is named to visitors (the runner choice before and in the terminal panel). */
export const RUNNER_LABELS: Record<RunnerKind, string> = {
  docker: 'Docker (real Linux container)',
  wasi: 'WASI (WebAssembly sandbox)',
}
