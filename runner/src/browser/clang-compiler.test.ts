/**
 * The browser runner's compiler (docs/runners.md, "The browser runner") against a stand-in clang
 * worker: what the visitor sees while LLVM loads, what a compile writes back, and that Ctrl-C, the
 * time limit and a failed load each end the worker with their message while the next compile
 * starts a new one. Real clang in Chromium: web/e2e/browser-runner.test.ts.
 */
import { describe, expect, test } from 'bun:test'
import { HIDDEN_DIR } from '../wasi/clang-args.ts'
import { MemFs } from '../wasi/memfs.ts'
import { BrowserCompiler } from './clang-compiler.ts'
import type { FromClang, ToClang } from './clang-protocol.ts'

/** A clang worker the test drives: it answers what `script` says. */
class FakeClang {
  onmessage: ((ev: { data: FromClang }) => void) | null = null
  onerror: ((ev: { message: string; preventDefault(): void }) => void) | null = null
  readonly jobs: ToClang[] = []
  terminated = false
  constructor(readonly script: (w: FakeClang, job?: ToClang) => void) {
    queueMicrotask(() => script(this))
  }
  emit(m: FromClang): void {
    if (!this.terminated) this.onmessage?.({ data: m })
  }
  postMessage(job: ToClang): void {
    this.jobs.push(job)
    queueMicrotask(() => this.script(this, job))
  }
  terminate(): void {
    this.terminated = true
  }
}

const LIMITS = { timeLimitMs: 1000, outputBytes: 1024 }
const te = new TextEncoder()
const td = new TextDecoder()

function session() {
  const fs = new MemFs()
  fs.mkdirp('/w/src')
  fs.writeFile('/w/src/a.c', 'int main(void) { return 0; }\n')
  let out = ''
  const workers: FakeClang[] = []
  return {
    fs,
    workers,
    out: () => out,
    request: (argv: string[], signal?: AbortSignal) => ({
      argv,
      fs,
      cwd: '/w',
      output: (b: Uint8Array) => {
        out += td.decode(b)
      },
      ...(signal ? { signal } : {}),
    }),
    spawner: (script: (w: FakeClang, job?: ToClang) => void) => () => {
      const w = new FakeClang(script)
      workers.push(w)
      return w as unknown as Worker
    },
  }
}

/** Loads (a download in two steps), then compiles: every job writes its `-o` file. */
const downloadsThenCompiles = (w: FakeClang, job?: ToClang) => {
  if (!job) {
    w.emit({ type: 'progress', network: 41e6, cached: 0, total: 105e6 })
    w.emit({ type: 'ready', network: 105e6, cached: 0, total: 105e6, ms: 2600, transferred: 22e6 })
    return
  }
  const out = job.args[job.args.indexOf('-o') + 1] as string
  w.emit({ type: 'output', id: job.id, bytes: te.encode('a.c:1: warning: something\n') })
  w.emit({ type: 'done', id: job.id, code: 0, tree: { ...job.tree, [out]: new Uint8Array([0, 0x61, 0x73, 0x6d]) } })
}

describe('the compiler in the tab', () => {
  test('the first compile shows the download in place, then compiles with the server arguments', async () => {
    const s = session()
    const cc = new BrowserCompiler(s.spawner(downloadsThenCompiles), LIMITS)
    expect(await cc.compile(s.request(['cc', '-O2', '-c', '-o', 'src/a.o', 'src/a.c']))).toBe(0)
    expect(s.out()).toContain('\r\x1b[K\x1b[2mdownloading the C compiler… 41/105 MB')
    expect(s.out()).toContain(
      "downloaded the C compiler: 105 MB (22 MB transferred) in 2.6 s, kept in this browser's cache\x1b[0m\n",
    )
    expect(s.out()).toContain('warning: something')
    expect(s.fs.stat('/w/src/a.o')?.kind).toBe('file')
    expect(s.workers[0]?.jobs[0]?.args).toEqual([
      'clang',
      '-fcolor-diagnostics',
      '-O2',
      '-c',
      '-o',
      'src/a.o',
      'src/a.c',
    ])
    // a link: the cwd shim is built once and handed to clang, then left out of the workspace
    expect(await cc.compile(s.request(['cc', '-o', 'prog', 'src/a.o']))).toBe(0)
    const link = s.workers[0]?.jobs.at(-1)
    expect(link?.args).toContain(`${HIDDEN_DIR}/cwd.o`)
    expect(link?.tree[HIDDEN_DIR]).toBeDefined()
    expect(s.fs.stat(`/w/${HIDDEN_DIR}`)).toBeUndefined()
    expect(s.fs.stat('/w/prog')?.kind).toBe('file')
    expect(s.workers).toHaveLength(1)
  })

  test('a compile past the time limit is stopped with its message; the next compile starts a new worker', async () => {
    const s = session()
    let hang = true
    const cc = new BrowserCompiler(
      s.spawner((w, job) => {
        if (!job) w.emit({ type: 'ready', network: 0, cached: 105e6, total: 105e6, ms: 1600, transferred: 0 })
        else if (!hang) downloadsThenCompiles(w, job)
      }),
      LIMITS,
    )
    expect(await cc.compile(s.request(['cc', '-c', 'src/a.c']))).toBe(124)
    expect(s.out()).toContain("loaded the C compiler from this browser's cache in 1.6 s (nothing downloaded)")
    expect(s.out()).toContain('cc: time limit exceeded (1 s): the compile was stopped')
    expect(s.workers[0]?.terminated).toBe(true)
    hang = false
    expect(await cc.compile(s.request(['cc', '-c', '-o', 'src/a.o', 'src/a.c']))).toBe(0)
    expect(s.workers).toHaveLength(2)
  })

  test('Ctrl-C while the compiler loads ends its worker at once', async () => {
    const s = session()
    const cc = new BrowserCompiler(
      s.spawner((w, job) => {
        if (!job) w.emit({ type: 'progress', network: 5e6, cached: 0, total: 105e6 })
      }),
      LIMITS,
    )
    const abort = new AbortController()
    const done = cc.compile(s.request(['cc', '-c', 'src/a.c'], abort.signal))
    await Bun.sleep(20)
    abort.abort()
    expect(await done).toBe(130)
    expect(s.workers[0]?.terminated).toBe(true)
  })

  test('a compiler that cannot load says why; the shell gets a status, not an exception', async () => {
    const s = session()
    const cc = new BrowserCompiler(
      s.spawner((w, job) => {
        if (!job) w.emit({ type: 'failed', message: '/assets/llvm.core-x.wasm: HTTP 404' })
      }),
      LIMITS,
    )
    expect(await cc.compile(s.request(['cc', '-c', 'src/a.c']))).toBe(70)
    expect(s.out()).toContain('cc: the C compiler could not run in this tab: /assets/llvm.core-x.wasm: HTTP 404')
    // refused before any worker: the server's own checks
    expect(await cc.compile(s.request(['cc', '-MT', 'a b', '-c', 'src/a.c']))).toBe(1)
    expect(s.out()).toContain('cc: error: -MT takes a file name in this sandbox')
  })
})
