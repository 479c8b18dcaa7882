import '@xterm/xterm/css/xterm.css'
import { FitAddon } from '@xterm/addon-fit'
import { WebLinksAddon } from '@xterm/addon-web-links'
import { Terminal } from '@xterm/xterm'
import {
  children,
  createEffect,
  createResource,
  createSignal,
  createUniqueId,
  For,
  type JSX,
  on,
  onCleanup,
  onMount,
  Show,
} from 'solid-js'
import { createStore } from 'solid-js/store'
import type { Project } from '../../lib/contract.ts'
import { ApiError, messageFor, messageForCode } from '../../lib/errors.ts'
import { type ClientRunner, type ConnState, RunnerConnection, TerminalConnection } from './connection.ts'
import { DroppableConnection, exposeTerminal } from './e2e-hooks.ts'
import { createDropZone, createFileTransfer, FilesControl } from './files.tsx'
import { createKeyBar } from './key-bar.tsx'
import { fetchEvaluatedFlags, leavePlace, pollPlace, type QueuePlace, requestSession } from './queries.ts'
import { offeredRunners, RUNNER_LABELS, runnerWhere } from './runner-labels.ts'

const STATE_LABELS: Record<ConnState, string> = {
  idle: 'not started',
  starting: 'starting…',
  connecting: 'connecting…',
  connected: 'connected',
  reconnecting: 'reconnecting…',
  exited: 'session ended',
  failed: 'disconnected',
}

interface PanelState {
  conn: ConnState
  retryIn: number | undefined
  runner: ClientRunner | undefined
  sessionId: string | undefined
  expiresAt: number | undefined
  /** A friendly explanation when the terminal cannot run (flag off, quota, session gone…). */
  problem: string | undefined
  /** Why the connection failed last (decides whether "Reconnect" can help). */
  failCode: string | undefined
  canCopy: boolean
  /** Spectators watching (read-only), as the server counts them. */
  watchers: number
  /** The watch link while sharing. */
  watchUrl: string | undefined
  /** Our place in the waiting line while every terminal is in use (docs/terminal-protocol.md). */
  queue: QueuePlace | undefined
}

/** A wait estimate in words. */
function formatWait(seconds: number): string {
  if (seconds < 60) return 'under a minute'
  const minutes = Math.ceil(seconds / 60)
  if (minutes < 90) return `about ${minutes} minute${minutes === 1 ? '' : 's'}`
  return `about ${Math.round(minutes / 60)} hours`
}

function formatLeft(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

/** What the page around the terminal may do with it. */
export interface TerminalControls {
  /** Types a command at the prompt (without Enter: the visitor reads it and presses Enter). */
  type(command: string): void
  /** Sends keystrokes as typed (e.g. `\r`: Enter), not as a paste. */
  send(keys: string): void
  connected(): boolean
  /** The session is this tab's earlier one, resumed (not a fresh one opened here). */
  resumed(): boolean
}

/**
 * A live terminal for a project: xterm.js with fit and web links, a status bar (runner, connection
 * state, time left), a runner choice, copy and paste, full screen, Stop, and automatic resume after
 * a drop or reload. `poster` (the project's demo recording) fills the frame until a session starts,
 * and stays when none can (terminals off, the session limit reached: the reason is shown above it).
 */
export function TerminalPanel(props: {
  project: Project
  controls?: (controls: TerminalControls) => void
  poster?: JSX.Element
  /** The runner picked before the panel loaded (the project page loads it on "Start terminal"). */
  initialRunner?: ClientRunner | undefined
  /** Start a session as soon as the panel is mounted (when there is none to resume). */
  autoStart?: boolean
  /** The origin of the page embedding this one (the embed page), sent with a new session for admins. */
  embedOrigin?: string | undefined
  /**
   * Mounted ahead of the Start click, hidden (the project page keeps it invisible and inert): the
   * session starts at once; when this turns false the panel is revealed — scrolled into view and
   * focused (docs/runners.md, "The browser runner" → "Start-up").
   */
  ahead?: boolean
}) {
  // the browser runner first when this tab can run the project (runner-labels.ts)
  const runners = () => offeredRunners(props.project)
  const [choice, setChoice] = createSignal<ClientRunner | undefined>(
    props.initialRunner && runners().includes(props.initialRunner) ? props.initialRunner : runners()[0],
  )
  const [state, setState] = createStore<PanelState>({
    conn: 'idle',
    retryIn: undefined,
    runner: undefined,
    sessionId: undefined,
    expiresAt: undefined,
    problem: undefined,
    failCode: undefined,
    canCopy: false,
    watchers: 0,
    watchUrl: undefined,
    queue: undefined,
  })
  // No runner offered: ask the evaluated flags whether terminals are switched off, to say so.
  const [flags] = createResource(
    () => runners().length === 0,
    () => fetchEvaluatedFlags().catch(() => ({}) as Record<string, boolean>),
  )
  const terminalsOff = () => flags()?.['terminal.enabled'] === false
  const [fullscreen, setFullscreen] = createSignal(false)
  const [stopping, setStopping] = createSignal(false)
  const [now, setNow] = createSignal(Date.now())
  const clock = setInterval(() => setNow(Date.now()), 1000)
  onCleanup(() => clearInterval(clock))

  // start-up steps on the page's timeline, for the browser bench (docs/performance.md, "Browser runner")
  performance.mark('terminal:panel')
  let host!: HTMLDivElement
  let panel!: HTMLDivElement
  let section!: HTMLElement
  const term = new Terminal({
    cursorBlink: true,
    fontFamily: '"DejaVu Sans Mono", "Cascadia Mono", Menlo, Consolas, monospace',
    fontSize: 14,
    scrollback: 5000,
    theme: { background: '#010409', foreground: '#e6edf3', cursor: '#3fb950', selectionBackground: '#264f78' },
  })
  const fit = new FitAddon()
  term.loadAddon(fit)
  term.loadAddon(new WebLinksAddon((_event, uri) => window.open(uri, '_blank', 'noopener,noreferrer')))

  /** How the current session came: resumed from this tab's earlier one, or opened fresh. */
  let started: 'fresh' | 'resumed' | undefined
  /** The attached session's resume token: it also authorizes file transfers (files.tsx). */
  let resumeToken: string | undefined
  const files = createFileTransfer({
    term,
    session: () =>
      state.sessionId && resumeToken && state.conn === 'connected'
        ? { sessionId: state.sessionId, resumeToken }
        : undefined,
  })
  onCleanup(() => files.dispose())
  const drop = createDropZone(files, () => state.conn === 'connected')

  // The e2e build's connection can be dropped by a test; every other build has the plain one.
  const Connection = import.meta.env.MODE === 'e2e' ? DroppableConnection : TerminalConnection
  const events: ConstructorParameters<typeof TerminalConnection>[1] = {
    state(conn, detail) {
      setState({ conn, retryIn: detail.retryIn })
      if (conn === 'failed') {
        setState({
          failCode: detail.code,
          problem: detail.code ? messageForCode(detail.code, detail.message) : detail.message,
        })
      }
    },
    watchers(count) {
      setState({ watchers: count })
    },
    ready(info) {
      resumeToken = info.resumeToken
      setState({
        runner: info.runner,
        sessionId: info.sessionId,
        expiresAt: Date.parse(info.expiresAt),
        problem: undefined,
        failCode: undefined,
      })
      term.focus()
    },
    replay() {
      // The server replays recent scrollback from a clean boundary: start from a blank screen.
      term.reset()
    },
    output(bytes, done) {
      // Bytes straight to xterm: it decodes UTF-8 across frame boundaries itself.
      term.write(bytes, done)
    },
    notice(message) {
      term.write(`\r\n\x1b[2m[${message}]\x1b[0m\r\n`)
    },
    exit(code, reason, message) {
      if (stopping()) {
        // Stopped on purpose: a reload must not try to resume it.
        setStopping(false)
        conn.forget()
      }
      setState({ watchers: 0, watchUrl: undefined })
      const why =
        message ?? (reason === 'timeout' ? 'time limit reached' : reason === 'idle' ? 'idle for too long' : reason)
      term.write(`\r\n\x1b[2m[session ended: ${why}${code !== null ? `, exit code ${code}` : ''}]\x1b[0m\r\n`)
    },
  }
  const conn = new RunnerConnection(new Connection(props.project.slug, events), async () => {
    const { BrowserConnection } = await import('./browser/connection.ts')
    return new BrowserConnection(props.project.slug, props.project.policy, events)
  })

  conn.embedOrigin = props.embedOrigin

  /**
   * The waiting line (docs/terminal-protocol.md, "Waiting for a slot"): while every terminal is in
   * use we hold a place, poll it (each poll is its heartbeat) and start as soon as it is served.
   */
  let placeId: string | undefined
  let pollTimer: ReturnType<typeof setTimeout> | undefined
  const wait = (place: QueuePlace) => {
    placeId = place.id
    setState({ queue: place, conn: 'starting' })
    clearTimeout(pollTimer)
    pollTimer = setTimeout(() => void poll(), place.pollAfterMs)
  }
  const poll = async () => {
    const id = placeId
    if (!id) return
    try {
      const status = await pollPlace(id)
      if (placeId !== id) return
      if (status.status === 'ready') {
        placeId = undefined
        setState({ queue: undefined })
        conn.begin(status)
        return
      }
      wait(status)
    } catch (err) {
      if (placeId !== id) return
      if (err instanceof ApiError && err.code === 'QUEUE_PLACE_GONE') {
        placeId = undefined
        setState({ queue: undefined, conn: 'idle', problem: messageFor(err) })
        return
      }
      // A network blip: keep polling (the place lasts `leaveAfterMs` without a poll).
      pollTimer = setTimeout(() => void poll(), state.queue?.pollAfterMs ?? 2000)
    }
  }
  /** Gives up our place (the button, leaving the page, closing the tab). */
  const leaveLine = (toIdle = true) => {
    clearTimeout(pollTimer)
    if (placeId) leavePlace(placeId)
    placeId = undefined
    if (toIdle) setState({ queue: undefined, conn: 'idle' })
  }
  const onPageHide = () => leaveLine(false)
  window.addEventListener('pagehide', onPageHide)
  onCleanup(() => {
    window.removeEventListener('pagehide', onPageHide)
    leaveLine(false)
  })

  /** Brings the whole terminal into view (it may sit below the project's introduction). */
  const bringIntoView = () => section.scrollIntoView({ block: 'start', behavior: 'smooth' })
  const start = async () => {
    const runner = choice()
    if (!runner) return
    setState({ problem: undefined, conn: 'starting' })
    started = 'fresh'
    term.reset()
    // a panel mounted ahead is brought into view when it is revealed
    if (!props.ahead) bringIntoView()
    try {
      // The browser runner starts in this tab: no session is asked of the server.
      if (runner === 'browser') return await conn.start(runner)
      const got = await requestSession({ project: props.project.slug, runner, origin: props.embedOrigin })
      if ('status' in got) wait(got)
      else conn.begin(got)
    } catch (err) {
      setState({ conn: 'idle', problem: messageFor(err) })
      if (!(err instanceof ApiError)) throw err
    }
  }

  /**
   * Ends the session: Ctrl-C for a running program, then `exit` at the prompt (both runners' shells
   * end the session on it); the server then sends `exit`. If it does not within 5 s, the tab detaches
   * and the session ends on its own when its reconnect grace period runs out.
   */
  const stop = () => {
    setStopping(true)
    conn.input('\x03')
    setTimeout(() => conn.input('exit\r'), 150)
    setTimeout(() => {
      if (state.conn !== 'connected' || !stopping()) return
      setStopping(false)
      conn.forget()
      conn.close()
      setState({ conn: 'exited' })
    }, 5000)
  }

  const share = async () => {
    try {
      setState({ watchUrl: await conn.share() })
    } catch (err) {
      setState({ problem: messageFor(err) })
    }
  }
  const unshare = async () => {
    try {
      await conn.unshare()
      setState({ watchUrl: undefined })
    } catch (err) {
      setState({ problem: messageFor(err) })
    }
  }

  const copy = async () => {
    const text = term.getSelection()
    if (text) await navigator.clipboard.writeText(text)
    term.focus()
  }
  const paste = async () => {
    try {
      const text = await navigator.clipboard.readText()
      if (text) term.paste(text)
    } catch {
      term.write('\r\n\x1b[2m[paste was blocked by the browser: use Ctrl+V or Ctrl+Shift+V]\x1b[0m\r\n')
    }
    term.focus()
  }

  props.controls?.({
    resumed: () => started === 'resumed',
    type(command) {
      term.paste(command)
      term.focus()
    },
    send: (keys) => conn.input(keys),
    connected: () => state.conn === 'connected',
  })

  let lastEscape = 0
  term.attachCustomKeyEventHandler((ev) => {
    if (ev.type !== 'keydown') return true
    if (ev.key === 'Escape') lastEscape = Date.now()
    // Escape then Tab leaves the terminal (Tab alone completes in the shell): keyboard users are never trapped.
    if (ev.key === 'Tab' && Date.now() - lastEscape < 1500) return false
    if (ev.ctrlKey && ev.shiftKey && (ev.key === 'C' || ev.key === 'c')) {
      void copy()
      ev.preventDefault()
      return false
    }
    if (ev.ctrlKey && ev.shiftKey && (ev.key === 'V' || ev.key === 'v')) {
      // Let the browser's paste event reach xterm's textarea (works without clipboard permission).
      return false
    }
    return true
  })
  // Phones: the key bar's sticky Ctrl turns the next key typed on the phone's keyboard into ^key.
  const keys = createKeyBar({
    send: (data) => conn.input(data),
    applicationCursor: () => term.modes.applicationCursorKeysMode,
    focus: () => term.focus(),
  })
  term.onData((data) => conn.input(keys.filter(data)))
  term.onBinary((data) => conn.input(Uint8Array.from(data, (c) => c.charCodeAt(0))))
  term.onResize(({ cols, rows }) => conn.resize(cols, rows))
  term.onSelectionChange(() => setState('canCopy', term.hasSelection()))

  let disposed = false
  onMount(() => {
    term.open(host)
    fit.fit()
    performance.mark('terminal:opened')
    // Sixel and iTerm inline images (e.g. `./miniRT -i sixel`), loaded after the page is up: only
    // terminals need the decoder. Bounded: at most 16 MB of pixels kept, 4 MB per image.
    void import('@xterm/addon-image').then(({ ImageAddon }) => {
      if (disposed) return
      term.loadAddon(
        new ImageAddon({
          storageLimit: 16,
          pixelLimit: 4 * 1024 * 1024,
          sixelSizeLimit: 4_000_000,
          iipSizeLimit: 4_000_000,
        }),
      )
    })
    conn.resize(term.cols, term.rows)
    // Refit whenever the panel changes size (window resize, sidebar, font load); xterm's onResize sends it.
    let frame = 0
    const observer = new ResizeObserver(() => {
      cancelAnimationFrame(frame)
      frame = requestAnimationFrame(() => fit.fit())
    })
    observer.observe(panel)
    onCleanup(drop.attach(panel))
    // A phone's keyboard shrinks the visual viewport, not the layout one: the frame follows the
    // visible height (styles.css, coarse pointers) so the prompt is never under the keyboard.
    const viewport = window.visualViewport
    const followViewport = () => {
      if (viewport) section.style.setProperty('--visible-height', `${Math.round(viewport.height)}px`)
    }
    followViewport()
    viewport?.addEventListener('resize', followViewport)
    onCleanup(() => {
      observer.disconnect()
      cancelAnimationFrame(frame)
      viewport?.removeEventListener('resize', followViewport)
    })
    if (import.meta.env.MODE === 'e2e' && new URLSearchParams(location.search).has('e2e')) {
      onCleanup(
        exposeTerminal({
          term,
          sessionId: () => state.sessionId,
          state: () => state.conn,
          stateText: () => stateText(),
          acked: () => conn.ackedBytes,
          drop: () => (conn.server as DroppableConnection).drop(),
        }),
      )
    }
    const saved = conn.saved()
    if (saved) {
      setChoice(saved.runner)
      started = 'resumed'
      conn.resume(saved)
    } else if (props.autoStart || props.ahead) {
      void start()
    }
  })
  // Revealed (the Start click on a panel mounted ahead): only what needs the click — no measuring,
  // no mount; the prompt is already in xterm (docs/performance.md, "Browser runner").
  createEffect(
    on(
      () => props.ahead,
      (ahead, was) => {
        if (ahead || !was) return
        performance.mark('terminal:revealed')
        bringIntoView()
        term.focus()
      },
    ),
  )
  onCleanup(() => {
    disposed = true
    conn.close()
    term.dispose()
  })

  const busy = () => ['starting', 'connecting', 'connected', 'reconnecting'].includes(state.conn)
  const timeLeft = () =>
    state.runner === 'browser' && state.conn === 'connected'
      ? 'no limit (your browser)'
      : state.expiresAt && state.conn === 'connected'
        ? formatLeft(state.expiresAt - now())
        : '—'
  const stateText = () =>
    state.queue
      ? `waiting in line (#${state.queue.position})`
      : state.conn === 'reconnecting' && state.retryIn !== undefined && state.retryIn > 0
        ? `reconnecting in ${state.retryIn}s…`
        : STATE_LABELS[state.conn]

  // Resolved once: the poster (a player) must not be created again on every read.
  const poster = children(() => props.poster)
  // unique per panel: a panel mounted ahead sits next to the page's own stage (project-page.tsx)
  const titleId = createUniqueId()
  const radioName = `runner-${titleId}`
  const showPoster = () => Boolean(poster()) && (state.conn === 'idle' || state.conn === 'starting')
  return (
    <section
      class="terminal"
      ref={section}
      classList={{
        'is-off': runners().length === 0 && state.conn === 'idle' && !poster(),
        'is-fullscreen': fullscreen(),
      }}
      aria-labelledby={titleId}
    >
      <div class="terminal-toolbar">
        <h2 id={titleId}>Live terminal</h2>
        <Show
          when={runners().length > 0}
          fallback={
            <p class="error-box" role="status">
              {terminalsOff()
                ? messageForCode('TERMINAL_DISABLED')
                : 'No runner can run this project right now. Please come back later.'}
            </p>
          }
        >
          <Show when={runners().length > 1}>
            <fieldset class="runner-choice" disabled={busy()}>
              <legend>Runner</legend>
              <For each={runners()}>
                {(r) => (
                  <label>
                    <input
                      type="radio"
                      name={radioName}
                      value={r}
                      checked={choice() === r}
                      onChange={() => setChoice(r)}
                    />{' '}
                    {RUNNER_LABELS[r]}
                  </label>
                )}
              </For>
            </fieldset>
          </Show>
          <div class="terminal-actions">
            <Show when={state.queue}>
              <button type="button" class="button" onClick={() => leaveLine()}>
                Leave the line
              </button>
            </Show>
            <Show when={!busy()}>
              <button type="button" class="button primary" onClick={() => void start()}>
                {state.conn === 'idle' ? 'Start terminal' : 'Start a new session'}
              </button>
            </Show>
            <Show
              when={
                state.conn === 'reconnecting' ||
                (state.conn === 'failed' && ['NETWORK', 'SESSION_REPLACED'].includes(state.failCode ?? ''))
              }
            >
              <button type="button" class="button" onClick={() => conn.reconnectNow()}>
                Reconnect now
              </button>
            </Show>
            <Show when={state.conn === 'connected' && !state.watchUrl}>
              <button type="button" class="button" onClick={() => void share()}>
                Share (read-only)
              </button>
            </Show>
            <Show when={state.conn === 'connected'}>
              <button type="button" class="button danger" disabled={stopping()} onClick={stop}>
                {stopping() ? 'Stopping…' : 'Stop'}
              </button>
            </Show>
            <button
              type="button"
              class="button"
              aria-pressed={fullscreen()}
              onClick={() => {
                setFullscreen(!fullscreen())
                term.focus()
              }}
            >
              {fullscreen() ? 'Exit full screen' : 'Full screen'}
            </button>
            <button type="button" class="button" disabled={!state.canCopy} onClick={() => void copy()}>
              Copy
            </button>
            <button type="button" class="button" onClick={() => void paste()}>
              Paste
            </button>
          </div>
        </Show>
      </div>
      <Show when={state.watchUrl}>
        {(url) => (
          <p class="terminal-share">
            <label>
              Watch link (read-only):{' '}
              <input type="text" readonly value={url()} onFocus={(ev) => ev.currentTarget.select()} />
            </label>{' '}
            <button type="button" class="button" onClick={() => void navigator.clipboard?.writeText(url())}>
              Copy link
            </button>{' '}
            <button type="button" class="button" onClick={() => void unshare()}>
              Stop sharing
            </button>
          </p>
        )}
      </Show>
      <Show when={state.queue}>
        {(q) => (
          <p class="terminal-share terminal-queue" role="status" aria-live="polite" data-position={q().position}>
            All terminals are in use right now. You are <strong>number {q().position}</strong> in line
            {q().projectPosition !== q().position ? ` (number ${q().projectPosition} for this project)` : ''}; the wait
            is {formatWait(q().estimateSeconds)}
            {q().estimateBasis === 'time-limit' ? ' at most' : ''}.{' '}
            {q().waitingForOwnSession ? 'You already have as many terminals as allowed: close one to go on. ' : ''}
            Your terminal starts by itself when it is your turn; keep this page open.
          </p>
        )}
      </Show>
      <Show when={state.problem}>
        <p class="error-box" role="alert">
          {state.problem}
        </p>
      </Show>
      <div class="terminal-frame" ref={panel}>
        <div class="terminal-host" ref={host} />
        <Show when={drop.dragging()}>
          <div class="terminal-drop" aria-hidden="true">
            Drop files to upload them into ~/projects/{props.project.slug}
          </div>
        </Show>
        <Show when={showPoster()}>
          <div class="terminal-poster">{poster()}</div>
        </Show>
        <Show when={state.conn === 'idle' && runners().length > 0 && !poster()}>
          <div class="terminal-idle">
            <strong>Your own sandbox, one click away</strong>
            <span>
              Press “Start terminal” to open a private session (up to 30 minutes). It keeps running if you reload the
              page.
            </span>
          </div>
        </Show>
      </div>
      <Show when={runners().length > 0}>
        <keys.KeyBar />
      </Show>
      <div class="terminal-status">
        <span>
          Runner: <strong>{runnerWhere(state.runner ?? choice())}</strong>
        </span>
        <span role="status" aria-live="polite" data-state={state.conn}>
          <span class={`dot ${state.conn}`} aria-hidden="true" /> {stateText()}
        </span>
        <span>
          Time left: <strong>{timeLeft()}</strong>
        </span>
        <Show when={runners().length > 0}>
          <FilesControl files={files} enabled={state.conn === 'connected'} />
        </Show>
        <Show when={state.watchUrl || state.watchers > 0}>
          <span class="terminal-watchers" title="people watching this session (read-only)">
            Watching: <strong>{state.watchers}</strong>
          </span>
        </Show>
      </div>
      <p class="muted small terminal-hint">
        Copy: select text, then Ctrl+Shift+C. Paste: Ctrl+Shift+V. To leave the terminal with the keyboard, press Escape
        then Tab.
      </p>
    </section>
  )
}
