/**
 * Fair compiles and CPU demotion (docs/budgets.md, "Fair compiles", "Fair CPU"): what a visitor
 * notices when other sessions hog the compiler or the CPU. Real clang processes and real /proc
 * readings; nothing asserts a duration (the waits are deadlines for a machine under load). The
 * compile cache is off here: a cached build needs no slot (compile-cache.test.ts).
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { CpuGovernor } from './cpu-governor.ts'
import { MemFs } from './memfs.ts'
import { isIdle } from './proc-stats.ts'
import { COMPILE_SHARE_MS, type LaneView, Toolchain } from './toolchain.ts'

const BOMB = '#if __INCLUDE_LEVEL__ < 22\n#include __FILE__\n#include __FILE__\n#endif\n'

async function eventually(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what} did not happen within ${ms} ms`)
    await Bun.sleep(50)
  }
}

function workspace(): MemFs {
  const fs = new MemFs()
  fs.mkdirp('/w')
  fs.writeFile('/w/x.c', BOMB)
  fs.writeFile('/w/ok.c', 'int answer(void) { return 42; }\n')
  return fs
}

/** Starts a compile of `file` for `owner`; the promise settles with its status. */
function compile(toolchain: Toolchain, fs: MemFs, owner: string, file: string, signal?: AbortSignal) {
  let out = ''
  const done = toolchain.compile({
    argv: ['cc', '-c', file, '-o', `${owner}.o`],
    fs,
    cwd: '/w',
    owner,
    output: (b) => {
      out += new TextDecoder().decode(b)
    },
    ...(signal ? { signal } : {}),
  })
  return { done, output: () => out }
}

const laneOf = (toolchain: Toolchain, owner: string): LaneView | undefined =>
  toolchain.lanes().find((l) => l.owner === owner)

describe('fair compiles', () => {
  const toolchains: Toolchain[] = []
  afterAll(() => {
    for (const t of toolchains) t.close()
  })

  test('two sessions hogging both slots: a third session compiles while their compiles still run, the hogs at SCHED_IDLE', async () => {
    const toolchain = new Toolchain(2, true, { sliceMs: 300, timeLimitMs: 300_000, cache: false })
    toolchains.push(toolchain)
    const fs = workspace()
    const stopA = new AbortController()
    const stopB = new AbortController()
    const a = compile(toolchain, fs, 'a', 'x.c', stopA.signal)
    const b = compile(toolchain, fs, 'b', 'x.c', stopB.signal)
    let hogsEnded = false
    void Promise.all([a.done, b.done]).then(() => {
      hogsEnded = true
    })
    // both hogs hold the regular slots, with clang running their job
    await eventually(
      () => laneOf(toolchain, 'a')?.pid !== undefined && laneOf(toolchain, 'b')?.pid !== undefined,
      120_000,
      'both hogs running',
    )
    expect(toolchain.lanes().map((l) => l.lane)).toEqual(['regular', 'regular'])
    // a third session's compile gets a slot and finishes while both hogs are still compiling
    const c = compile(toolchain, fs, 'c', 'ok.c')
    expect(await c.done).toBe(0)
    expect(c.output()).toBe('')
    expect(hogsEnded).toBe(false)
    expect(fs.stat('/w/c.o')?.kind).toBe('file')
    // the hog that had its slice first gave its slot up: it goes on in the overtime lane, its
    // clang process under SCHED_IDLE; the other kept its slot (nobody else waits)
    const lanes = toolchain.lanes()
    expect(lanes.map((l) => l.lane).sort()).toEqual(['overtime', 'regular'])
    const yielded = lanes.find((l) => l.lane === 'overtime')
    expect(['a', 'b']).toContain(yielded?.owner ?? '')
    expect(yielded?.idle === true && yielded.pid !== undefined && isIdle(yielded.pid)).toBe(true)
    // and it has had its share: its next compile would wait for the overtime lane
    expect(toolchain.usage(yielded?.owner ?? '')).toBeGreaterThanOrEqual(COMPILE_SHARE_MS)
    // Ctrl-C still stops them
    stopA.abort()
    stopB.abort()
    expect(await Promise.all([a.done, b.done])).toEqual([130, 130])
    expect(toolchain.lanes()).toEqual([])
  }, 300_000)

  test("a compile bomb Ctrl-C'd in the overtime lane never costs the regular compiles their warm processes", async () => {
    const toolchain = new Toolchain(2, true, { sliceMs: 600_000, cache: false })
    toolchains.push(toolchain)
    const fs = workspace()
    // `bomb` abandons a compile: its next ones go to the overtime lane (for a half-life)
    const first = new AbortController()
    const b1 = compile(toolchain, fs, 'bomb', 'x.c', first.signal)
    await eventually(() => laneOf(toolchain, 'bomb')?.pid !== undefined, 120_000, 'the first bomb running')
    first.abort()
    expect(await b1.done).toBe(130)
    // two visitors' compiles at once leave two warm processes for the regular slots
    const visitors = [compile(toolchain, fs, 'v1', 'ok.c'), compile(toolchain, fs, 'v2', 'ok.c')]
    expect(await Promise.all(visitors.map((v) => v.done))).toEqual([0, 0])
    const warm = toolchain.pids
    expect(warm).toHaveLength(2)
    // the bomb again: in the overtime lane, in a process of its own
    const again = new AbortController()
    const b2 = compile(toolchain, fs, 'bomb', 'x.c', again.signal)
    await eventually(() => laneOf(toolchain, 'bomb')?.pid !== undefined, 120_000, 'the second bomb running')
    expect(laneOf(toolchain, 'bomb')?.lane).toBe('overtime')
    expect(warm).not.toContain(laneOf(toolchain, 'bomb')?.pid)
    again.abort()
    expect(await b2.done).toBe(130)
    // its process is gone, both warm ones are still there, and the next visitor compiles in one
    for (const pid of warm) expect(toolchain.pids).toContain(pid)
    const stop = new AbortController()
    const v3 = compile(toolchain, fs, 'v3', 'x.c', stop.signal)
    await eventually(() => laneOf(toolchain, 'v3')?.pid !== undefined, 120_000, 'the next visitor running')
    expect(warm).toContain(laneOf(toolchain, 'v3')?.pid ?? -1)
    stop.abort()
    expect(await v3.done).toBe(130)
  }, 300_000)

  test('a session past its share waits behind one that is not, and compiles in the overtime lane', async () => {
    // one regular slot, no slicing: the order of grants is all there is to see
    const toolchain = new Toolchain(1, true, { sliceMs: 600_000, shareMs: 1_000, overtime: 1, spill: 0, cache: false })
    toolchains.push(toolchain)
    const fs = workspace()
    // `heavy` uses more than its share of compile time
    const first = new AbortController()
    const h1 = compile(toolchain, fs, 'heavy', 'x.c', first.signal)
    await eventually(() => laneOf(toolchain, 'heavy')?.pid !== undefined, 120_000, 'the first compile running')
    await eventually(() => toolchain.usage('heavy') > 1_500, 60_000, 'a share used')
    first.abort()
    expect(await h1.done).toBe(130)
    // a long compile by `hog` holds the one regular slot; then `heavy` and `fresh` ask, in that order
    const hogStop = new AbortController()
    const hog = compile(toolchain, fs, 'hog', 'x.c', hogStop.signal)
    await eventually(() => laneOf(toolchain, 'hog')?.lane === 'regular', 60_000, 'the hog holding the slot')
    const heavyStop = new AbortController()
    const heavy = compile(toolchain, fs, 'heavy', 'x.c', heavyStop.signal)
    // `heavy` is past its share: it is not queued for a regular slot but runs in the overtime lane
    await eventually(() => laneOf(toolchain, 'heavy')?.lane === 'overtime', 60_000, 'heavy in the overtime lane')
    await eventually(() => laneOf(toolchain, 'heavy')?.idle === true, 120_000, 'heavy under SCHED_IDLE')
    const fresh = compile(toolchain, fs, 'fresh', 'ok.c')
    expect(laneOf(toolchain, 'fresh')?.lane).toBe('waiting')
    // when the regular slot frees, the fresh session gets it
    hogStop.abort()
    expect(await hog.done).toBe(130)
    expect(await fresh.done).toBe(0)
    expect(laneOf(toolchain, 'heavy')?.lane).toBe('overtime')
    heavyStop.abort()
    expect(await heavy.done).toBe(130)
  }, 300_000)

  test('an abandoned compile is charged the whole time since it asked; a finished one only its CPU', async () => {
    // one regular slot, held by a hog: `quitter` waits for it, then gives up with Ctrl-C
    const toolchain = new Toolchain(1, true, { sliceMs: 600_000, overtime: 0, spill: 0, cache: false })
    toolchains.push(toolchain)
    const fs = workspace()
    const hogStop = new AbortController()
    const hog = compile(toolchain, fs, 'hog', 'x.c', hogStop.signal)
    await eventually(() => laneOf(toolchain, 'hog')?.lane === 'regular', 60_000, 'the hog holding the slot')
    const quit = new AbortController()
    const quitter = compile(toolchain, fs, 'quitter', 'ok.c', quit.signal)
    await Bun.sleep(1_500)
    expect(laneOf(toolchain, 'quitter')?.lane).toBe('waiting')
    quit.abort()
    expect(await quitter.done).toBe(130)
    // it used no CPU, yet the slot it waited 1.5 s for is on its account (less a little decay)
    expect(toolchain.usage('quitter')).toBeGreaterThan(1_400)
    hogStop.abort()
    expect(await hog.done).toBe(130)
    // the hog's compile was abandoned too: charged at least the time it held the slot
    expect(toolchain.usage('hog')).toBeGreaterThan(1_400)
    // a compile that comes to its own end is charged what clang spent on it, not the wall clock
    const before = performance.now()
    const fine = compile(toolchain, fs, 'fine', 'ok.c')
    expect(await fine.done).toBe(0)
    expect(toolchain.usage('fine')).toBeLessThanOrEqual(performance.now() - before)
  }, 300_000)

  test('sessions that stopped compiling are forgotten: what the scheduler keeps does not grow with every session served', async () => {
    const toolchain = new Toolchain(2, true, { halfLifeMs: 200, cache: false })
    toolchains.push(toolchain)
    const fs = workspace()
    for (let i = 0; i < 5; i++) expect(await compile(toolchain, fs, `s${i}`, 'ok.c').done).toBe(0)
    expect(toolchain.owners).toBeGreaterThan(0)
    // a few half-lives later their compile time no longer counts
    await Bun.sleep(3_000)
    expect(await compile(toolchain, fs, 'late', 'ok.c').done).toBe(0)
    expect(toolchain.owners).toBe(1)
    expect(toolchain.usage('late')).toBeGreaterThan(0)
  }, 120_000)

  test('waiting in order: among light sessions the least recent compile time goes first, then arrival', async () => {
    const toolchain = new Toolchain(1, true, {
      sliceMs: 600_000,
      shareMs: 600_000,
      overtime: 0,
      spill: 0,
      cache: false,
    })
    toolchains.push(toolchain)
    const fs = workspace()
    expect(await compile(toolchain, fs, 'used', 'ok.c').done).toBe(0)
    expect(toolchain.usage('used')).toBeGreaterThan(0)
    const hogStop = new AbortController()
    const hog = compile(toolchain, fs, 'hog', 'x.c', hogStop.signal)
    await eventually(() => laneOf(toolchain, 'hog')?.lane === 'regular', 60_000, 'the hog holding the slot')
    const order: string[] = []
    const used = compile(toolchain, fs, 'used', 'ok.c')
    const fresh1 = compile(toolchain, fs, 'fresh1', 'ok.c')
    const fresh2 = compile(toolchain, fs, 'fresh2', 'ok.c')
    for (const [name, c] of [
      ['used', used],
      ['fresh1', fresh1],
      ['fresh2', fresh2],
    ] as const)
      void c.done.then(() => order.push(name))
    expect(toolchain.lanes().map((l) => `${l.owner}:${l.lane}`)).toEqual([
      'hog:regular',
      'used:waiting',
      'fresh1:waiting',
      'fresh2:waiting',
    ])
    hogStop.abort()
    expect(await Promise.all([hog.done, used.done, fresh1.done, fresh2.done])).toEqual([130, 0, 0, 0])
    expect(order).toEqual(['fresh1', 'fresh2', 'used'])
  }, 300_000)
})

describe('compile time limit: CPU time, not waiting', () => {
  test('a compile that cannot get the CPU for longer than its limit is not stopped for waiting, and finishes', async () => {
    const toolchain = new Toolchain(1, true, { timeLimitMs: 2_000, wallLimitMs: 300_000, cache: false })
    try {
      const fs = workspace()
      // a loaded clang process, idle; then frozen (SIGSTOP): the job waits as under a CPU famine
      expect(await compile(toolchain, fs, 'warm', 'ok.c').done).toBe(0)
      const [pid] = toolchain.pids
      expect(pid).toBeDefined()
      process.kill(pid as number, 'SIGSTOP')
      const c = compile(toolchain, fs, 'starved', 'ok.c')
      let settled = false
      void c.done.then(() => {
        settled = true
      })
      await eventually(() => laneOf(toolchain, 'starved')?.pid === pid, 60_000, 'the job handed to the frozen clang')
      // twice the limit of wall-clock time without a CPU cycle: still running
      await Bun.sleep(4_000)
      expect(settled).toBe(false)
      process.kill(pid as number, 'SIGCONT')
      expect(await c.done).toBe(0)
      expect(c.output()).toBe('')
      expect(fs.stat('/w/starved.o')?.kind).toBe('file')
    } finally {
      toolchain.close()
    }
  }, 300_000)

  test('a compile burning its CPU time is stopped by the limit; Ctrl-C still stops one at once', async () => {
    const toolchain = new Toolchain(1, true, { timeLimitMs: 2_000, wallLimitMs: 300_000, cache: false })
    try {
      const fs = workspace()
      const bomb = compile(toolchain, fs, 'bomb', 'x.c')
      expect(await bomb.done).toBe(124)
      expect(bomb.output()).toContain('cc: time limit exceeded (2 s)')
      const stop = new AbortController()
      const again = compile(toolchain, fs, 'bomb', 'x.c', stop.signal)
      await eventually(() => laneOf(toolchain, 'bomb')?.pid !== undefined, 60_000, 'the second bomb running')
      stop.abort()
      expect(await again.done).toBe(130)
      expect(toolchain.lanes()).toEqual([])
    } finally {
      toolchain.close()
    }
  }, 300_000)

  test('a compile stopped by Ctrl-C is replaced by a compiler loading under SCHED_IDLE; the next compile runs at normal priority', async () => {
    const toolchain = new Toolchain(1, true, { cache: false })
    try {
      const fs = workspace()
      const stop = new AbortController()
      const bomb = compile(toolchain, fs, 'bomb', 'x.c', stop.signal)
      await eventually(() => laneOf(toolchain, 'bomb')?.pid !== undefined, 60_000, 'the bomb running')
      const killed = laneOf(toolchain, 'bomb')?.pid as number
      stop.abort()
      expect(await bomb.done).toBe(130)
      // the replacement, loading LLVM, takes no CPU a normal-priority process wants
      const spares = toolchain.pids.filter((pid) => pid !== killed)
      expect(spares.length).toBe(1)
      expect(isIdle(spares[0] as number)).toBe(true)
      // a visitor's compile takes it at its own (normal) priority and finishes
      const c = compile(toolchain, fs, 'visitor', 'ok.c')
      expect(await c.done).toBe(0)
      expect(toolchain.pids).toEqual(spares)
      expect(isIdle(spares[0] as number)).toBe(false)
    } finally {
      toolchain.close()
    }
  }, 300_000)

  test('the wall-clock backstop stops a compile that runs too long, even under its CPU limit', async () => {
    const toolchain = new Toolchain(1, true, { timeLimitMs: 600_000, wallLimitMs: 5_000, cache: false })
    try {
      const fs = workspace()
      const bomb = compile(toolchain, fs, 'bomb', 'x.c')
      await eventually(() => laneOf(toolchain, 'bomb')?.pid !== undefined, 120_000, 'the bomb running')
      const pid = laneOf(toolchain, 'bomb')?.pid as number
      expect(await bomb.done).toBe(124)
      expect(bomb.output()).toContain('cc: wall-clock limit exceeded (5 s)')
      expect(toolchain.lanes()).toEqual([])
      // its process was killed, not left behind
      await eventually(() => !toolchain.pids.includes(pid), 10_000, 'the clang process gone')
    } finally {
      toolchain.close()
    }
  }, 300_000)
})

describe('fair CPU', () => {
  /** The window's rule alone: the history's is tested on its own below. */
  const WINDOW_ONLY = { historyDemoteMs: Number.POSITIVE_INFINITY }

  test('a session burning CPU has its programs moved to SCHED_IDLE, a quiet one keeps its weight; back once it stops', async () => {
    const governor = new CpuGovernor({ ...WINDOW_ONLY, sampleMs: 100, windowMs: 1_000, demoteMs: 300, restoreMs: 50 })
    const spinHost = Bun.spawn(['sleep', '600'])
    const spinner = Bun.spawn(['sh', '-c', 'while :; do :; done'])
    const quietHost = Bun.spawn(['sleep', '600'])
    const quiet = Bun.spawn(['sleep', '600'])
    try {
      governor.track('spinning', () => [spinHost.pid, spinner.pid])
      governor.track('quiet', () => [quietHost.pid, quiet.pid])
      await eventually(() => governor.isIdle('spinning') && isIdle(spinner.pid), 30_000, 'the spinner demoted')
      // the session host itself keeps its policy (it answers keys and Ctrl-C), the quiet session too
      expect(isIdle(spinHost.pid)).toBe(false)
      expect(governor.isIdle('quiet')).toBe(false)
      expect(isIdle(quiet.pid)).toBe(false)
      // stopped, it spends nothing: once the window has passed it has its normal policy back
      spinner.kill('SIGSTOP')
      await eventually(() => !governor.isIdle('spinning') && !isIdle(spinner.pid), 30_000, 'the spinner restored')
    } finally {
      governor.close()
      for (const p of [spinHost, spinner, quietHost, quiet]) p.kill('SIGKILL')
    }
  }, 60_000)

  test('a session over its share gets less input credit and its output acknowledged at the demoted rate while another is active; full speed with nobody to yield to', async () => {
    const governor = new CpuGovernor({
      ...WINDOW_ONLY,
      sampleMs: 100,
      windowMs: 1_000,
      demoteMs: 300,
      restoreMs: 50,
      hostDemoteMs: 300,
      demotedOutputBytesPerSec: 10_000,
      activeMs: 30,
    })
    const flooding = Bun.spawn(['sh', '-c', 'while :; do :; done'])
    // a visitor under its share who is using the machine: 20 ms of CPU every 200 ms (≈ 100 ms in the window)
    const light = Bun.spawn([
      process.execPath,
      '-e',
      'setInterval(() => { const t = performance.now(); while (performance.now() - t < 20); }, 200)',
    ])
    try {
      governor.track('flooding', () => [flooding.pid])
      governor.track('light', () => [light.pid])
      const acked: number[] = []
      // a light session's output is acknowledged at once, its whole input window open
      expect(governor.deferAck('light', 50_000, (n) => acked.push(n))).toBe(false)
      expect(governor.inputCredit('light')).toBe(1)
      await eventually(
        () => governor.isIdle('flooding') && governor.inputCredit('flooding') < 1,
        30_000,
        'the flooding session demoted and limited',
      )
      expect(governor.isIdle('light')).toBe(false)
      // 5 × 10 kB of output: the first acknowledgement goes at once, the rest are paced (10 kB/s)
      for (let i = 0; i < 5; i++) expect(governor.deferAck('flooding', 10_000, (n) => acked.push(n))).toBe(true)
      expect(acked).toEqual([10_000])
      await eventually(() => acked.reduce((a, b) => a + b, 0) === 50_000, 30_000, 'the paced acknowledgements')
      expect(acked.length).toBeGreaterThan(1)
      // the other visitor stops using the machine: still demoted (SCHED_IDLE), but nobody to yield
      // to, so its input window and output go at full speed again
      light.kill('SIGSTOP')
      await eventually(() => governor.inputCredit('flooding') === 1, 30_000, 'the limits lifted with nobody active')
      expect(governor.isIdle('flooding')).toBe(true)
      expect(governor.deferAck('flooding', 10_000, (n) => acked.push(n))).toBe(false)
      // stopped, it is back under its share: nothing is held back any more
      flooding.kill('SIGSTOP')
      light.kill('SIGCONT')
      await eventually(() => !governor.isIdle('flooding'), 30_000, 'the flooding session restored')
      expect(governor.inputCredit('flooding')).toBe(1)
      expect(governor.deferAck('flooding', 10_000, (n) => acked.push(n))).toBe(false)
    } finally {
      governor.close()
      for (const p of [flooding, light]) p.kill('SIGKILL')
    }
  }, 60_000)

  test('more busy sessions than cores: a session is demoted past its share of the cores, below the fixed threshold', async () => {
    // four spinning sessions on this machine's two cores get ≈ 500 ms each in a 1 s window: under
    // the fixed 800 ms while the governor believes there are four cores; past the share (250 ms)
    // of one
    const options = { ...WINDOW_ONLY, sampleMs: 100, windowMs: 1_000, demoteMs: 800, restoreMs: 50, hostDemoteMs: 800 }
    const spinners = Array.from({ length: 4 }, () => Bun.spawn(['sh', '-c', 'while :; do :; done']))
    try {
      const roomy = new CpuGovernor({ ...options, cores: 4 })
      for (const [i, p] of spinners.entries()) roomy.track(`s${i}`, () => [p.pid])
      await Bun.sleep(2_500)
      expect(spinners.map((_, i) => roomy.isIdle(`s${i}`))).toEqual([false, false, false, false])
      roomy.close()
      const crowded = new CpuGovernor({ ...options, cores: 1 })
      for (const [i, p] of spinners.entries()) crowded.track(`s${i}`, () => [p.pid])
      try {
        await eventually(
          () => spinners.every((_, i) => crowded.isIdle(`s${i}`)),
          30_000,
          'every spinner demoted past its share of one core',
        )
      } finally {
        crowded.close()
      }
    } finally {
      for (const p of spinners) p.kill('SIGKILL')
    }
  }, 60_000)

  test('a session host whose own work burns CPU (a make attack) is moved to SCHED_IDLE too; back once it stops', async () => {
    const governor = new CpuGovernor({
      ...WINDOW_ONLY,
      sampleMs: 100,
      windowMs: 1_000,
      demoteMs: 300,
      restoreMs: 50,
      hostDemoteMs: 300,
    })
    const busyHost = Bun.spawn(['sh', '-c', 'while :; do :; done'])
    try {
      governor.track('busy-host', () => [busyHost.pid])
      await eventually(() => isIdle(busyHost.pid), 30_000, 'the busy host demoted')
      busyHost.kill('SIGSTOP')
      await eventually(() => !isIdle(busyHost.pid), 30_000, 'the host restored')
    } finally {
      governor.close()
      busyHost.kill('SIGKILL')
    }
  }, 60_000)

  test("a session that has had its share over the last minutes is demoted at a rate under the window's thresholds; a fresh one at that rate is not", async () => {
    // 40% of a core never reaches the window's 800 ms in 1 s; with a 2 s half-life its history
    // passes 1 s after a few seconds
    const governor = new CpuGovernor({
      sampleMs: 100,
      windowMs: 1_000,
      demoteMs: 800,
      restoreMs: 50,
      hostDemoteMs: 800,
      historyHalfLifeMs: 2_000,
      historyDemoteMs: 1_000,
    })
    const duty = 'setInterval(() => { const t = performance.now(); while (performance.now() - t < 40); }, 100)'
    const host = () => Bun.spawn(['sleep', '600'])
    const longHost = host()
    const long = Bun.spawn([process.execPath, '-e', duty])
    const freshHost = host()
    let fresh: ReturnType<typeof Bun.spawn> | undefined
    try {
      governor.track('long', () => [longHost.pid, long.pid])
      await eventually(() => governor.isIdle('long') && isIdle(long.pid), 30_000, 'the long-running session demoted')
      expect(governor.recentMs('long')).toBeLessThan(800)
      // the same work started now: its history is short, it keeps its weight
      fresh = Bun.spawn([process.execPath, '-e', duty])
      const freshPid = fresh.pid
      governor.track('fresh', () => [freshHost.pid, freshPid])
      await Bun.sleep(500)
      expect(governor.isIdle('fresh')).toBe(false)
      expect(isIdle(freshPid)).toBe(false)
      // the long one stops: back once its history has decayed to half the threshold
      long.kill('SIGSTOP')
      await eventually(() => !governor.isIdle('long') && !isIdle(long.pid), 30_000, 'the long-running session restored')
    } finally {
      governor.close()
      for (const p of [longHost, long, freshHost, ...(fresh ? [fresh] : [])]) p.kill('SIGKILL')
    }
  }, 60_000)
})
