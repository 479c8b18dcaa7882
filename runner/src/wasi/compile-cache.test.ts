/**
 * The compile cache (docs/budgets.md, "Compile cache"): shared by sessions, an unedited file hits,
 * an edited file (or header) misses, and it never holds more than its size. Real clang processes.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { CompileCache } from './compile-cache.ts'
import { MemFs } from './memfs.ts'
import { Toolchain } from './toolchain.ts'

const HEADER = '#define SCALE 3\nint scale(int x);\n'
const LIB = '#include "lib.h"\nint scale(int x) { return x * SCALE; }\n'
const MAIN = '#include "lib.h"\nint main(void) { int unused; return scale(2) == 6 ? 0 : 1; }\n'

/** A session's workspace with the project's files as shipped. */
function session(): MemFs {
  const fs = new MemFs()
  fs.mkdirp('/w/src')
  fs.writeFile('/w/src/lib.h', HEADER)
  fs.writeFile('/w/src/lib.c', LIB)
  fs.writeFile('/w/src/main.c', MAIN)
  return fs
}

describe('compile cache', () => {
  const toolchain = new Toolchain(2, true, { cache: new CompileCache() })
  afterAll(() => toolchain.close())
  const cache = toolchain.cache as CompileCache

  async function cc(
    fs: MemFs,
    owner: string,
    argv: string,
    signal?: AbortSignal,
  ): Promise<{ code: number; out: string }> {
    let out = ''
    const code = await toolchain.compile({
      argv: argv.split(' '),
      fs,
      cwd: '/w',
      owner,
      ...(signal ? { signal } : {}),
      output: (b) => {
        out += new TextDecoder().decode(b)
      },
    })
    return { code, out }
  }

  const file = (fs: MemFs, path: string) => {
    const node = fs.stat(path)
    return node?.kind === 'file' ? node.data : undefined
  }

  test('a second session compiling the same files hits: same objects, same warnings, same program', async () => {
    const a = session()
    const b = session()
    const build = async (fs: MemFs, owner: string) => [
      await cc(fs, owner, 'cc -Wall -c -o src/lib.o src/lib.c'),
      await cc(fs, owner, 'cc -Wall -c -o src/main.o src/main.c'),
      await cc(fs, owner, 'cc -o prog src/main.o src/lib.o'),
    ]
    const first = await build(a, 'a')
    expect(first.map((r) => r.code)).toEqual([0, 0, 0])
    expect(first[1]?.out).toContain("unused variable 'unused'")
    expect([cache.hits, cache.misses, cache.size]).toEqual([0, 3, 3])
    const second = await build(b, 'b')
    expect(second.map((r) => r.code)).toEqual([0, 0, 0])
    // the warning is shown again on a hit
    expect(second.map((r) => r.out)).toEqual(first.map((r) => r.out))
    expect([cache.hits, cache.misses]).toEqual([3, 3])
    // both compiles found their key from the first session's manifests: no preprocessing
    expect(cache.direct).toBe(2)
    for (const path of ['/w/src/lib.o', '/w/src/main.o', '/w/prog']) expect(file(b, path)).toEqual(file(a, path)!)
  }, 300_000)

  test('an edited source misses, an unedited one still hits; an edited header misses every file that includes it', async () => {
    const c = session()
    c.writeFile('/w/src/main.c', MAIN.replace('int unused; ', ''))
    const hits = cache.hits
    const misses = cache.misses
    expect((await cc(c, 'c', 'cc -Wall -c -o src/main.o src/main.c')).out).toBe('')
    expect([cache.hits - hits, cache.misses - misses]).toEqual([0, 1])
    await cc(c, 'c', 'cc -Wall -c -o src/lib.o src/lib.c')
    expect([cache.hits - hits, cache.misses - misses]).toEqual([1, 1])
    // SCALE 4 in the header: lib.c must be compiled again (and its object differs)
    const d = session()
    d.writeFile('/w/src/lib.h', HEADER.replace('SCALE 3', 'SCALE 4'))
    expect((await cc(d, 'd', 'cc -Wall -c -o src/lib.o src/lib.c')).code).toBe(0)
    expect([cache.hits - hits, cache.misses - misses]).toEqual([1, 2])
    expect(file(d, '/w/src/lib.o')).not.toEqual(file(c, '/w/src/lib.o')!)
    // a link of the new object misses too: the program it makes is another one
    expect((await cc(d, 'd', 'cc -Wall -c -o src/main.o src/main.c')).code).toBe(0)
    expect((await cc(d, 'd', 'cc -o prog src/main.o src/lib.o')).code).toBe(0)
    expect(cache.misses - misses).toBe(3)
  }, 300_000)

  test('errors are not cached: a broken file fails every time with its diagnostics', async () => {
    const e = session()
    e.writeFile('/w/src/main.c', 'int main(void) { return missing; }\n')
    for (let i = 0; i < 2; i++) {
      const r = await cc(e, 'e', 'cc -c -o src/main.o src/main.c')
      expect(r.code).toBe(1)
      expect(r.out).toContain("use of undeclared identifier 'missing'")
    }
    expect(e.stat('/w/src/main.o')).toBeUndefined()
  }, 300_000)

  /**
   * A session with one program in one file (`cc -O2 -Wall -o solo src/solo.c`, the selftest's
   * make), long enough to compile (a few seconds) that sessions starting together overlap.
   */
  const SOLO = [
    '#include "lib.h"',
    ...Array.from(
      { length: 150 },
      (_, i) => `int f${i}(int x) { int s = 0; for (int j = 0; j < x; j++) s += (j * ${i}) ^ (s >> 3); return s; }`,
    ),
    'int main(void) { int unused; return SCALE == 3 && f7(2) >= 0 ? 0 : 1; }',
    '',
  ].join('\n')
  const solo = (header = HEADER) => {
    const fs = session()
    fs.writeFile('/w/src/lib.h', header)
    fs.writeFile('/w/src/solo.c', SOLO)
    return fs
  }
  const BUILD = 'cc -O2 -Wall -o solo src/solo.c'

  test('a one-command build of one source is cached: five sessions building it at once run one compile, see its warning, get the same program', async () => {
    const [hits, misses, size, shared] = [cache.hits, cache.misses, cache.size, cache.shared]
    // both compiler processes loaded, as on a server that has compiled before
    await toolchain.warm()
    const sessions = Array.from({ length: 5 }, () => solo())
    const results = await Promise.all(sessions.map((fs, i) => cc(fs, `solo${i}`, BUILD)))
    expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0, 0])
    for (const r of results) expect(r.out).toContain("unused variable 'unused'")
    const program = file(sessions[0] as MemFs, '/w/solo')
    expect(program?.subarray(0, 4)).toEqual(new Uint8Array([0, 0x61, 0x73, 0x6d]))
    for (const fs of sessions) expect(file(fs, '/w/solo')).toEqual(program as Uint8Array)
    // one compile ran; the four others waited for it (at least one while it ran) and took its entry
    expect(cache.size - size).toBe(1)
    expect(cache.hits - hits).toBe(4)
    expect(cache.shared - shared).toBeGreaterThan(0)
    expect(cache.misses - misses).toBe(1 + (cache.shared - shared))
    // later, the same build is answered from the manifest without preprocessing
    const direct = cache.direct
    expect((await cc(solo(), 'later', BUILD)).code).toBe(0)
    expect(cache.direct - direct).toBe(1)
    // an edited header is another program
    const edited = solo(HEADER.replace('SCALE 3', 'SCALE 4'))
    const hitsBefore = cache.hits
    expect((await cc(edited, 'edited', BUILD)).code).toBe(0)
    expect(cache.hits).toBe(hitsBefore)
    expect(file(edited, '/w/solo')).not.toEqual(program as Uint8Array)
  }, 300_000)

  test('a build that could read a library of the workspace (-L) is not cached; Ctrl-C ends a wait; a waiter whose first compile is stopped compiles itself', async () => {
    const [hits, misses] = [cache.hits, cache.misses]
    for (const owner of ['l1', 'l2']) expect((await cc(solo(), owner, `${BUILD} -L src`)).code).toBe(0)
    expect([cache.hits - hits, cache.misses - misses]).toEqual([0, 0])
    // Ctrl-C of a session that waits ends its wait at once
    const third = new AbortController()
    const fourth = cc(solo(), 'fourth', BUILD.replace('-O2', '-Os'))
    const waiter = cc(solo(), 'third', BUILD.replace('-O2', '-Os'), third.signal)
    const end = Date.now() + 60_000
    while (toolchain.waiting === 0 && Date.now() < end) await Bun.sleep(5)
    expect(toolchain.waiting).toBe(1)
    third.abort()
    expect((await waiter).code).toBe(130)
    expect(toolchain.waiting).toBe(0)
    expect((await fourth).code).toBe(0)
    // `first` is stopped (its clang process killed) while `second` waits for it: `second` compiles itself and gets its program
    const stop = new AbortController()
    const build = BUILD.replace('-O2', '-O1')
    const first = cc(solo(), 'first', build, stop.signal)
    const fs = solo()
    const second = cc(fs, 'second', build)
    const again = Date.now() + 60_000
    while (toolchain.waiting === 0 && Date.now() < again) await Bun.sleep(5)
    expect(toolchain.waiting).toBe(1)
    stop.abort()
    expect((await first).code).toBe(130)
    const shared = cache.shared
    expect((await second).code).toBe(0)
    expect(cache.shared).toBe(shared)
    expect(file(fs, '/w/solo')?.subarray(0, 4)).toEqual(new Uint8Array([0, 0x61, 0x73, 0x6d]))
  }, 300_000)
})

describe('compile cache bound', () => {
  test('never holds more than its size: the least recently used entry goes first; an entry larger than the cache is not kept', () => {
    const cache = new CompileCache(10_000)
    const entry = (n: number) => ({
      files: [['x.o', new Uint8Array(n)]] as [string, Uint8Array][],
      output: new Uint8Array(0),
    })
    cache.set('a', entry(4_000))
    cache.set('b', entry(4_000))
    expect(cache.get('a')).toBeDefined() // a is now the most recently used
    cache.set('c', entry(4_000))
    expect(cache.bytes).toBeLessThanOrEqual(10_000)
    expect([cache.get('a'), cache.get('b'), cache.get('c')].map((e) => e !== undefined)).toEqual([true, false, true])
    cache.set('huge', entry(20_000))
    expect(cache.get('huge')).toBeUndefined()
    expect(cache.size).toBe(2)
  })
})
