import { onCleanup } from 'solid-js'
import type { Project, RunnerKind } from '../../lib/contract.ts'
import { type TerminalControls, TerminalPanel } from '../terminal/terminal-panel.tsx'

/** The runners a post's block prefers, best first: the cheapest that shows the program as it is. */
const PREFERRED: readonly string[] = ['browser', 'wasi']
/** How long the block waits for its session before it gives up typing the command. */
const TYPE_WITHIN_MS = 120_000

/**
 * A runnable block's terminal, opened in place in the post (its own chunk: xterm.js loads only
 * when a visitor presses Run): starts a session of the project and, once connected, types the
 * block's command and Enter.
 */
export default function RunInPlace(props: { project: Project; command: string }) {
  const runner: RunnerKind | undefined = props.project.availableRunners.find((r) => PREFERRED.includes(r))
  let timer: ReturnType<typeof setInterval> | undefined
  const controls = (c: TerminalControls) => {
    const since = Date.now()
    timer = setInterval(() => {
      if (c.connected()) {
        clearInterval(timer)
        const command = props.command.replace(/\r?\n/g, '\r')
        if (command) {
          c.type(command)
          c.send('\r')
        }
      } else if (Date.now() - since > TYPE_WITHIN_MS) {
        clearInterval(timer)
      }
    }, 100)
  }
  onCleanup(() => clearInterval(timer))
  return <TerminalPanel project={props.project} controls={controls} initialRunner={runner} autoStart />
}
