/// <reference lib="webworker" />
/**
 * The browser runner's shell worker (docs/runners.md, "The browser runner"): fetches the
 * project's files once (GET /api/v1/projects/:slug/files, cached by the browser), then runs the
 * shared WASI shell (runner/src/browser/shell-host.ts) here, with each program in its own worker.
 * After the files are in, nothing goes to the server.
 */
import {
  BROWSER_LIMITS,
  BrowserCompiler,
  BrowserShellHost,
  type FromBrowserShell,
  readTar,
  type ToBrowserShell,
} from '@shellfolio/runner/browser'
import { workerPrograms } from './programs.ts'

/** Epoch ms of each start-up step (docs/performance.md, "Browser runner"): the page marks them. */
const marks: Record<string, number> = { 'worker-evaluated': performance.timeOrigin + performance.now() }
const mark = (name: string) => {
  marks[name] = performance.timeOrigin + performance.now()
}

const scope = self as unknown as DedicatedWorkerGlobalScope
const post = (message: FromBrowserShell) => scope.postMessage(message)

let host: BrowserShellHost | undefined
const early: ToBrowserShell[] = []

async function init(message: Extract<ToBrowserShell, { type: 'init' }>): Promise<void> {
  const begin = performance.now()
  mark('init')
  const res = await fetch(message.filesUrl)
  if (!res.ok) throw new Error(`the project's files could not be loaded (HTTP ${res.status})`)
  const tar = new Uint8Array(await res.arrayBuffer())
  mark('files-fetched')
  const files = readTar(tar)
  mark('files-read')
  post({ type: 'loaded', bytes: tar.length, ms: Math.round(performance.now() - begin), marks })
  host = new BrowserShellHost({
    slug: message.slug,
    policy: message.policy,
    size: message.size,
    files,
    programs: workerPrograms(
      () => new Worker(new URL('./program-worker.ts', import.meta.url), { type: 'module', name: 'program' }),
      BROWSER_LIMITS.memoryLimit,
    ),
    // clang loads only when make or cc compiles (docs/runners.md, "The browser runner")
    compiler: new BrowserCompiler(
      () => new Worker(new URL('./clang-worker.ts', import.meta.url), { type: 'module', name: 'clang' }),
      { timeLimitMs: BROWSER_LIMITS.compileTimeLimitMs, outputBytes: BROWSER_LIMITS.compileOutputBytes },
    ),
    send: post,
  })
  for (const m of early.splice(0)) host.handle(m)
}

scope.onmessage = (ev: MessageEvent<ToBrowserShell>) => {
  const message = ev.data
  if (message.type === 'init') {
    init(message).catch((e) => post({ type: 'error', message: e instanceof Error ? e.message : String(e) }))
  } else if (host) host.handle(message)
  else early.push(message)
}
