/**
 * Screen benchmark: `bun test ./api/bench/screen.bench.ts` (or `bun run bench screen`).
 * Not a *.test.ts, so normal test runs skip it; it never asserts timings (docs/conventions.md, rule 9).
 *
 * What a resume replays (docs/terminal-protocol.md, Resume): the session's headless screen
 * (api/src/terminal/screen.ts, @xterm/headless + serialize) side by side with the raw-byte
 * scrollback it replaced (api/src/terminal/scrollback.ts, 256 KiB), for two outputs:
 *   - typical: a shell session that builds and runs miniRT (its 60×20 half-block render, the golden
 *     file) plus some commands, at 80×24;
 *   - full: enough coloured output to fill both to their bounds (the worst case per session).
 *   - memory per session: heap delta (after a full GC) over N sessions holding that output, divided
 *     by N, median of ROUNDS rounds; just after the output ("output arriving": the screen's xterm is
 *     alive) and once idle (the screen hibernated to its serialization after SCREEN_HIBERNATE_MS);
 *   - resume: the replay is built (the screen waits for its parser, then serializes; a hibernating
 *     one sends what it kept) and sent over a real local WebSocket, until the client has the whole
 *     frame; p50 and p99 over RESUMES resumes, of an idle session and right after a line of output.
 * Printed as a table with the ratios to raw and the targets of issue 17 (≤ 2× memory, resume p50
 * ≤ 50 ms; figures only, nothing fails), and written to bench-results/screen.json.
 */
import { test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { REPO_ROOT } from '../src/config.ts'
import { SCREEN_HIBERNATE_MS, SCROLLBACK_CELLS, scrollbackLines, TerminalScreen } from '../src/terminal/screen.ts'
import { Scrollback } from '../src/terminal/scrollback.ts'
import { loadavg, median, round, table, writeResults } from '../test/bench-kit.ts'

const SESSIONS = Number(process.env.BENCH_SCREEN_SESSIONS ?? 50)
const ROUNDS = Number(process.env.BENCH_SCREEN_ROUNDS ?? 3)
const RESUMES = Number(process.env.BENCH_SCREEN_RESUMES ?? 200)
/** The raw scrollback sessions replayed before the headless screen. */
const RAW_BYTES = 256 * 1024
const SIZE = { cols: 80, rows: 24 }
const TARGETS = { memoryRatio: 2, resumeP50Ms: 50 }

const enc = new TextEncoder()

/** Output as a pty hands it over: chunks of at most 4 KiB. */
function chunked(text: string | Uint8Array): Uint8Array[] {
  const data = typeof text === 'string' ? enc.encode(text) : text
  const out: Uint8Array[] = []
  for (let i = 0; i < data.length; i += 4096) out.push(data.subarray(i, i + 4096))
  return out
}

function typicalOutput(): Uint8Array[] {
  const render = readFileSync(join(REPO_ROOT, 'wasm-projects/minirt/golden/demo-60x20.ans'))
  const make = ['main', 'parse', 'render', 'vec'].map((f) => `cc -O2 -Wall -c src/${f}.c -o build/${f}.o\r\n`).join('')
  return [
    ...chunked('Welcome to miniRT. Type `help` for the commands.\r\n$ ls\r\nMakefile  README.md  scenes  src\r\n'),
    ...chunked(`$ make\r\n${make}cc -o miniRT build/*.o -lm\r\n$ ./miniRT scenes/demo.rt\r\n`),
    ...chunked(new Uint8Array(render)),
    ...chunked('\x1b[0m\r\nrendered 60x40 pixels in 41 ms\r\n$ ls scenes\r\n'),
    ...chunked('broken.rt  cylinders.rt  demo.rt  room.rt  shadows.rt\r\n$ cat scenes/demo.rt\r\n'),
    ...chunked(`${Array.from({ length: 12 }, (_, i) => `sp ${i},0,20 ${2 + i} 255,${i * 20},0\r\n`).join('')}$ `),
  ]
}

/** Coloured lines (like `ls --color` or compiler output) until both keep as much as they can. */
function fullOutput(): Uint8Array[] {
  const lines: string[] = []
  for (let i = 0; lines.join('').length < 2 * RAW_BYTES; i++) {
    lines.push(
      `\x1b[1;3${1 + (i % 6)}m${String(i).padStart(5)}\x1b[0m src/file-${i}.c:${i % 97}: \x1b[33mwarning:\x1b[0m unused variable 'x${i}'\r\n`,
    )
  }
  return chunked(`${lines.join('')}$ `)
}

interface Holder {
  write(chunk: Uint8Array): void
  /** Everything written so far taken in (the screen parses in slices). */
  settled(): Promise<void>
  replay(): Promise<Uint8Array>
  dispose(): void
}

type Variant = 'raw' | 'screen'

function holder(variant: Variant, hibernateMs?: number): Holder {
  if (variant === 'raw') {
    const s = new Scrollback(RAW_BYTES)
    return {
      write: (c) => s.append(c),
      settled: async () => {},
      replay: async () => s.snapshot(),
      dispose: () => {},
    }
  }
  const s = new TerminalScreen(SIZE, hibernateMs)
  return {
    write: (c) => s.write(c),
    settled: () => s.flushed(),
    replay: async () => (await s.snapshot()) ?? new Uint8Array(0),
    dispose: () => s.dispose(),
  }
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number
}

async function feed(h: Holder, output: Uint8Array[]): Promise<void> {
  // A copy per session, as a runner hands each session its own buffers.
  for (const c of output) h.write(c.slice())
  await h.settled()
}

/** The heap (typed arrays' storage included) once garbage, freed lazily, is really gone. */
async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    Bun.gc(true)
    await Bun.sleep(20)
  }
  return process.memoryUsage().heapUsed
}

/**
 * Heap bytes per session holding `output`, median over ROUNDS rounds of SESSIONS sessions: `busy`
 * just after the output (the screen's terminal alive), `idle` once an idle screen hibernated.
 */
async function memoryPerSession(variant: Variant, output: Uint8Array[]): Promise<{ busy: number; idle: number }> {
  const busy: number[] = []
  const idle: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const holders: Holder[] = []
    const before = await settledHeap()
    for (let i = 0; i < SESSIONS; i++) {
      const h = holder(variant)
      await feed(h, output)
      holders.push(h)
    }
    busy.push(((await settledHeap()) - before) / SESSIONS)
    if (variant === 'screen') await Bun.sleep(SCREEN_HIBERNATE_MS + 500)
    idle.push(((await settledHeap()) - before) / SESSIONS)
    for (const h of holders) h.dispose()
    // Nothing of this round may stay reachable (a stale stack slot would keep it all alive).
    holders.length = 0
  }
  return { busy: median(busy), idle: median(idle) }
}

/**
 * Resume times (ms) over a real local WebSocket: the replay is built and sent, the client has the
 * whole frame. `afterOutput`: a line arrives just before each resume (the screen is awake and
 * parsing); otherwise the session is idle (the screen hibernates) and nothing arrives.
 */
async function resumeTimes(variant: Variant, output: Uint8Array[], afterOutput: boolean) {
  const h = holder(variant, afterOutput ? Number.POSITIVE_INFINITY : 50)
  await feed(h, output)
  if (!afterOutput) await Bun.sleep(200)
  let replayBytes = 0
  const server = Bun.serve({
    port: 0,
    fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response('upgrade', { status: 400 })),
    websocket: {
      message: async (ws, msg) => {
        if (afterOutput) h.write(enc.encode(`$ echo ${msg}\r\n${msg}\r\n$ `))
        const replay = await h.replay()
        replayBytes = replay.length
        ws.send(replay)
      },
    },
  })
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}`)
  ws.binaryType = 'arraybuffer'
  await new Promise((resolve) => ws.addEventListener('open', resolve, { once: true }))
  const times: number[] = []
  for (let i = 0; i < RESUMES; i++) {
    const got = new Promise((resolve) => ws.addEventListener('message', resolve, { once: true }))
    const t0 = performance.now()
    ws.send(String(i))
    await got
    times.push(performance.now() - t0)
  }
  ws.close()
  server.stop(true)
  h.dispose()
  return { p50: percentile(times, 50), p99: percentile(times, 99), replayBytes }
}

test(
  'screen: memory per idle session and resume time, headless screen vs raw scrollback',
  async () => {
    const started = new Date()
    const loadStart = loadavg()
    const outputs = { typical: typicalOutput(), full: fullOutput() }
    const rows: Record<string, number | string>[] = []
    const results: Record<string, Record<string, unknown>> = {}
    for (const [name, output] of Object.entries(outputs)) {
      const outBytes = output.reduce((n, c) => n + c.length, 0)
      const figures: Record<string, Record<string, number>> = {}
      for (const variant of ['raw', 'screen'] as const) {
        const memory = await memoryPerSession(variant, output)
        const live = await resumeTimes(variant, output, true)
        const idle = await resumeTimes(variant, output, false)
        figures[variant] = {
          busyKiB: round(memory.busy / 1024),
          idleKiB: round(memory.idle / 1024),
          replayKiB: round(idle.replayBytes / 1024),
          idleP50: round(idle.p50, 2),
          idleP99: round(idle.p99, 2),
          liveP50: round(live.p50, 2),
          liveP99: round(live.p99, 2),
        }
      }
      const raw = figures.raw as Record<string, number>
      for (const [variant, f] of Object.entries(figures)) {
        rows.push({
          output: `${name} (${round(outBytes / 1024)} KiB)`,
          variant,
          'KiB/idle session': f.idleKiB as number,
          '× raw': round((f.idleKiB as number) / (raw.idleKiB as number), 2),
          'KiB/session, output arriving': f.busyKiB as number,
          'replay KiB': f.replayKiB as number,
          'resume idle p50 / p99 ms': `${f.idleP50} / ${f.idleP99}`,
          'resume after output p50 / p99 ms': `${f.liveP50} / ${f.liveP99}`,
        })
      }
      results[name] = { outputBytes: outBytes, ...figures }
    }
    const loadEnd = loadavg()
    console.log(
      `\nscreen vs raw scrollback, ${SIZE.cols}×${SIZE.rows}, ${SESSIONS} sessions × ${ROUNDS} rounds, ${RESUMES} resumes` +
        ` (screen scrollback ${scrollbackLines(SIZE.cols)} lines = ${SCROLLBACK_CELLS} cells; raw ${RAW_BYTES / 1024} KiB)\n`,
    )
    console.log(
      table(rows, [
        'output',
        'variant',
        'KiB/idle session',
        '× raw',
        'KiB/session, output arriving',
        'replay KiB',
        'resume idle p50 / p99 ms',
        'resume after output p50 / p99 ms',
      ]),
    )
    const typical = results.typical as Record<string, Record<string, number>>
    const ratio = round((typical.screen?.idleKiB ?? 0) / (typical.raw?.idleKiB ?? 1), 2)
    const p50 = Math.max(typical.screen?.idleP50 ?? Number.NaN, typical.screen?.liveP50 ?? Number.NaN)
    console.log(`\ntargets (issue 17, typical session):`)
    console.log(
      `  memory per idle session ≤ ${TARGETS.memoryRatio}× raw: ${ratio}× ${ratio <= TARGETS.memoryRatio ? 'met' : 'NOT met'}`,
    )
    console.log(
      `  resume p50 ≤ ${TARGETS.resumeP50Ms} ms (the slower of idle / after output): ${p50} ms ${p50 <= TARGETS.resumeP50Ms ? 'met' : 'NOT met'}`,
    )
    console.log(`load average: start ${loadStart}, end ${loadEnd}`)
    writeResults(
      'screen',
      { started, loadStart, loadEnd },
      {
        size: SIZE,
        sessions: SESSIONS,
        rounds: ROUNDS,
        resumes: RESUMES,
        budgets: {
          rawBytes: RAW_BYTES,
          screenScrollbackLines: scrollbackLines(SIZE.cols),
          hibernateMs: SCREEN_HIBERNATE_MS,
        },
        targets: TARGETS,
        results,
        typicalMemoryRatio: ratio,
      },
    )
  },
  30 * 60_000,
)
