import type { Terminal } from '@xterm/xterm'
import { type ConnState, TerminalConnection } from './connection.ts'

/**
 * Hooks for the browser suite (web/e2e), compiled only into the e2e build (`vite build --mode
 * e2e`): the panel reaches this module behind `import.meta.env.MODE === 'e2e'`, which is false in
 * every other build, so the minifier drops the branch and the bundler this module. A check in
 * web/e2e/bundle.test.ts keeps the production bundle free of them.
 */

export interface TerminalTestHooks {
  term: Terminal
  sessionId: () => string | undefined
  state: () => ConnState
  stateText: () => string
  acked: () => number
  drop: () => void
}

declare global {
  interface Window {
    /** Set only in the e2e build when the page URL has `?e2e` (read by web/e2e through page.evaluate). */
    __shellfolio?: TerminalTestHooks
  }
}

/** A connection whose socket a test can drop as a network failure would (the reconnect path takes over). */
export class DroppableConnection extends TerminalConnection {
  drop(): void {
    // 3000: an application code outside the 4000–4499 "do not retry" range, like a network drop.
    this.ws?.close(3000, 'dropped by test')
  }
}

/** Publishes the hooks on `window`; the returned function withdraws them (if still these). */
export function exposeTerminal(hooks: TerminalTestHooks): () => void {
  window.__shellfolio = hooks
  return () => {
    if (window.__shellfolio === hooks) window.__shellfolio = undefined
  }
}
