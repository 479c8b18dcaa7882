import '@xterm/xterm/css/xterm.css'
import { isFinalClose, parseServerMessage } from '@shellfolio/runner/terminal-protocol'
import { Terminal } from '@xterm/xterm'
import { createSignal, onCleanup, onMount, Show } from 'solid-js'
import { messageForCode } from '../../lib/errors.ts'

type WatchState = 'connecting' | 'watching' | 'reconnecting' | 'ended' | 'failed'

const LABELS: Record<WatchState, string> = {
  connecting: 'connecting…',
  watching: 'watching live',
  reconnecting: 'reconnecting…',
  ended: 'session ended',
  failed: 'disconnected',
}

/** Reconnect delays after a drop that is not final: 1 s, 2 s, 4 s … up to this many tries. */
const MAX_RECONNECTS = 6

/**
 * The spectator's terminal: xterm.js without input, fed by `WS /api/v1/terminal/watch` (the
 * session's screen first, then its output), sized like the owner's terminal.
 */
export default function WatchViewer(props: { token: string }) {
  const [state, setState] = createSignal<WatchState>('connecting')
  const [project, setProject] = createSignal<string>()
  const [problem, setProblem] = createSignal<string>()
  let host!: HTMLDivElement
  const term = new Terminal({
    disableStdin: true,
    cursorBlink: false,
    fontFamily: '"DejaVu Sans Mono", "Cascadia Mono", Menlo, Consolas, monospace',
    fontSize: 14,
    scrollback: 5000,
    theme: { background: '#010409', foreground: '#e6edf3', cursor: '#3fb950', selectionBackground: '#264f78' },
  })
  let ws: WebSocket | undefined
  let attempts = 0
  let stopped = false
  let fatal = false
  let retry: ReturnType<typeof setTimeout> | undefined

  const open = () => {
    const url = new URL('/api/v1/terminal/watch', location.href)
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
    url.search = new URLSearchParams({ token: props.token }).toString()
    const socket = new WebSocket(url)
    socket.binaryType = 'arraybuffer'
    ws = socket
    socket.onmessage = (ev) => {
      if (ev.data instanceof ArrayBuffer) {
        term.write(new Uint8Array(ev.data))
        return
      }
      const msg = parseServerMessage(String(ev.data))
      if (!msg) return
      switch (msg.type) {
        case 'watching':
          // The screen follows: start from a blank terminal of the owner's size.
          term.reset()
          term.resize(msg.cols, msg.rows)
          setProject(msg.project)
          setState('watching')
          setProblem(undefined)
          attempts = 0
          break
        case 'size':
          term.resize(msg.cols, msg.rows)
          break
        case 'exit':
          setState('ended')
          term.write(`\r\n\x1b[2m[the session ended: ${msg.reason}]\x1b[0m\r\n`)
          break
        case 'notice':
          term.write(`\r\n\x1b[2m[${msg.message}]\x1b[0m\r\n`)
          break
        case 'error':
          if (msg.code === 'READ_ONLY') break
          fatal = true
          setProblem(messageForCode(msg.code, msg.message))
          break
      }
    }
    socket.onclose = (ev) => {
      if (socket !== ws || stopped || state() === 'ended') return
      if (fatal || isFinalClose(ev.code) || attempts >= MAX_RECONNECTS) {
        setState('failed')
        if (!problem()) setProblem(ev.reason || 'the connection was lost')
        return
      }
      setState('reconnecting')
      retry = setTimeout(open, 1000 * 2 ** attempts++)
    }
  }

  onMount(() => {
    term.open(host)
    open()
  })
  onCleanup(() => {
    stopped = true
    clearTimeout(retry)
    ws?.close(1000, 'page closed')
    term.dispose()
  })

  return (
    <section class="terminal is-watching" aria-label="Watched terminal (read-only)">
      <Show when={problem()}>
        <p class="error-box" role="alert">
          {problem()}
        </p>
      </Show>
      <div class="terminal-frame">
        <div class="terminal-host" ref={host} />
      </div>
      <div class="terminal-status">
        <span>
          Project: <strong>{project() ?? '—'}</strong>
        </span>
        <span role="status" aria-live="polite" data-state={state()}>
          <span class={`dot ${state() === 'watching' ? 'connected' : state()}`} aria-hidden="true" /> {LABELS[state()]}
        </span>
        <span>read-only</span>
      </div>
    </section>
  )
}
