import { describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { DEFAULT_POLICY } from '../policy.ts'
import { expandWord, parseLine } from './command-line.ts'
import { HOME } from './home.ts'
import { KeyDecoder } from './keys.ts'
import { LineEditor } from './line-editor.ts'
import { MemFs } from './memfs.ts'
import { HostPool } from './program.ts'
import { Shell } from './shell.ts'
import { Toolchain } from './toolchain.ts'
import { onlcr } from './tty.ts'

/** Strips CSI escapes so assertions read like the screen. */
function plain(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing terminal escapes
  return s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
}

/** A shell over a small in-memory project; output is collected as text. Never runs wasm. */
function harness(cols = 80, programs = 1) {
  const fs = new MemFs()
  fs.mkdirp(`${HOME}/projects/demo/src`)
  fs.writeFile(`${HOME}/projects/demo/Makefile`, 'all:\n\t@echo built $@\n')
  fs.writeFile(`${HOME}/projects/demo/src/main.c`, 'int main(void) { return 0; }\n')
  fs.writeFile(`${HOME}/projects/demo/src/matrix.c`, '\n')
  fs.writeFile(`${HOME}/projects/demo/notes.txt`, 'line one\nline two\n')
  let out = ''
  const exits: number[] = []
  const shell = new Shell({
    fs,
    project: { slug: 'demo', sourceDir: '/nonexistent', policy: DEFAULT_POLICY },
    env: {},
    size: () => ({ cols, rows: 24 }),
    write: (b) => {
      out += new TextDecoder().decode(b)
    },
    writeAsync: async (b) => {
      out += new TextDecoder().decode(b)
    },
    exit: (code) => exits.push(code),
    toolchain: new Toolchain(1),
    hosts: new HostPool(programs),
    prebuilt: async () => undefined,
    programTimeLimitMs: 1000,
    memoryLimit: 64 * 1024 * 1024,
  })
  shell.start()
  return {
    shell,
    fs,
    exits,
    get out() {
      return out
    },
    clear() {
      out = ''
    },
    /** Types a line and waits for the next prompt. */
    async run(line: string): Promise<string> {
      out = ''
      shell.input(`${line}\r`)
      for (let i = 0; i < 1000 && !plain(out).endsWith('$ '); i++) await Promise.resolve()
      await waitUntil(() => plain(out).endsWith('$ '))
      return plain(out).replace(/\r\n/g, '\n')
    },
  }
}

/** Polls a condition across microtasks and macrotasks (no timers), failing after many turns. */
async function waitUntil(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (cond()) return
    await new Promise<void>((r) => setImmediate(r))
  }
  throw new Error('condition not reached')
}

describe('line editor', () => {
  function editor(cols = 80) {
    let screen = ''
    const ed = new LineEditor({ write: (t) => (screen += t), prompt: () => '$ ', columns: () => cols })
    const keys = new KeyDecoder()
    ed.start()
    const type = (s: string) => {
      let result = null
      for (const k of keys.decode(s)) result = ed.handle(k) ?? result
      return result
    }
    return { ed, type, screen: () => screen }
  }

  test('typing echoes once and Enter submits the line', () => {
    const { type, screen } = editor()
    expect(type('echo hi')).toBeNull()
    expect(screen()).toBe('$ echo hi')
    expect(type('\r')).toEqual({ type: 'submit', line: 'echo hi' })
  })

  test('arrows, Home/End, backspace and delete edit in the middle', () => {
    const { ed, type } = editor()
    type('helo')
    type('\x1b[D') // left
    type('l')
    expect(ed.text).toBe('hello')
    type('\x1b[H') // home
    type('\x1b[3~') // delete
    expect(ed.text).toBe('ello')
    type('\x1b[F') // end
    type('\x7f')
    expect(ed.text).toBe('ell')
    type('\x1bOH') // home (application mode)
    type('X')
    expect(ed.text).toBe('Xell')
  })

  test('Ctrl-A/E/U/W/K', () => {
    const { ed, type } = editor()
    type('make all now')
    type('\x17') // ctrl-w
    expect(ed.text).toBe('make all ')
    type('\x01') // ctrl-a
    type('\x0b') // ctrl-k
    expect(ed.text).toBe('')
    type('abc def')
    type('\x02\x02\x02') // ctrl-b x3
    type('\x15') // ctrl-u
    expect(ed.text).toBe('def')
    type('\x05!') // ctrl-e
    expect(ed.text).toBe('def!')
  })

  test('history with up and down keeps the draft', () => {
    const { ed, type } = editor()
    ed.addHistory('first')
    ed.addHistory('second')
    ed.start()
    type('draft')
    type('\x1b[A')
    expect(ed.text).toBe('second')
    type('\x1b[A')
    expect(ed.text).toBe('first')
    type('\x1b[A')
    expect(ed.text).toBe('first')
    type('\x1b[B\x1b[B')
    expect(ed.text).toBe('draft')
  })

  test('an escape sequence split across writes is still one key', () => {
    const { ed, type } = editor()
    type('ab')
    type('\x1b')
    type('[')
    type('D')
    type('X')
    expect(ed.text).toBe('aXb')
  })

  test('Ctrl-C cancels the line, Ctrl-D exits only on an empty line', () => {
    const { ed, type } = editor()
    type('oops')
    expect(type('\x03')).toEqual({ type: 'interrupt' })
    ed.start()
    type('x')
    expect(type('\x04')).toBeNull()
    expect(ed.text).toBe('x')
    type('\x7f')
    expect(type('\x04')).toEqual({ type: 'eof' })
  })

  test('Ctrl-L clears the screen and redraws the line', () => {
    const { type, screen } = editor()
    type('ls')
    type('\x0c')
    expect(screen()).toContain('\x1b[H\x1b[2J')
    expect(screen().endsWith('ls\x1b[J\r\x1b[4C')).toBe(true)
  })

  test('a line longer than the terminal wraps and redraws from its first row', () => {
    const { ed, type, screen } = editor(10)
    type('abcdefghijklmnop') // prompt 2 + 16 = 18 columns: two rows
    type('\x01') // home: moves up one row
    expect(screen()).toContain('\x1b[1A')
    type('Z')
    expect(ed.text).toBe('Zabcdefghijklmnop')
  })

  test('UTF-8 split across chunks decodes', () => {
    const { ed, type } = editor()
    const bytes = new TextEncoder().encode('é✓')
    const keys = new KeyDecoder()
    for (const b of bytes) for (const k of keys.decode(new Uint8Array([b]))) ed.handle(k)
    expect(ed.text).toBe('é✓')
    void type
  })
})

describe('command line parsing', () => {
  const ctx = { home: HOME, vars: (n: string) => ({ USER: 'coder', X: 'a b' })[n] }
  const words = (line: string) =>
    parseLine(line).flatMap((p) =>
      p.commands.map((c, i) => [i === 0 ? p.op : '|', ...c.words.map((w) => expandWord(w, ctx)?.text)]),
    )

  test('quotes, escapes and variables', () => {
    expect(words(`echo "a  b" 'c $X' d\\ e $USER "\${USER}!"`)).toEqual([
      [';', 'echo', 'a  b', 'c $X', 'd e', 'coder', 'coder!'],
    ])
  })

  test('operators ;, &&, || and |', () => {
    expect(words('make && ./a || echo no; pwd | head')).toEqual([
      [';', 'make'],
      ['&&', './a'],
      ['||', 'echo', 'no'],
      [';', 'pwd'],
      ['|', 'head'],
    ])
  })

  test('~ expands at the start of a word only', () => {
    expect(words('cd ~/projects a~b')).toEqual([[';', 'cd', `${HOME}/projects`, 'a~b']])
  })

  test('arithmetic $((…))', () => {
    expect(words('echo typed-$((40+2)) $((2**10 % 7)) "$((-(3*4)/5))"')).toEqual([[';', 'echo', 'typed-42', '2', '-2']])
    expect(() => words('echo $((1/0))')).toThrow('division by 0')
  })

  test('redirections are parsed; refused constructs and unterminated quotes throw', () => {
    const [pipeline] = parseLine('./calc < in.txt 2>&1 > out.txt')
    expect(pipeline!.commands[0]!.redirects.map((r) => [r.fd, r.op, r.target.raw])).toEqual([
      [0, '<', 'in.txt'],
      [2, '>&', '1'],
      [1, '>', 'out.txt'],
    ])
    expect(() => words('./calc <')).toThrow('syntax error')
    expect(() => words('echo "open')).toThrow('matching')
    expect(() => words('&& ls')).toThrow('syntax error')
    expect(() => words('ls | ')).toThrow('syntax error')
    expect(() => words('cat <(ls)')).toThrow('process substitution')
  })
})

describe('shell builtins', () => {
  test('the shell starts in the project folder; the prompt shows it, coloured, and cd goes home', async () => {
    const h = harness()
    expect(h.out).toContain('\x1b[1;32mcoder@shellfolio\x1b[0m:\x1b[1;34m~/projects/demo\x1b[0m$ ')
    expect(await h.run('pwd')).toContain(`${HOME}/projects/demo\n`)
    const out = await h.run('cd')
    expect(out.endsWith('coder@shellfolio:~$ ')).toBe(true)
    expect((await h.run('cd -')).endsWith('coder@shellfolio:~/projects/demo$ ')).toBe(true)
  })

  test('ls, ls -l, ls -a, cat, pwd, echo', async () => {
    const h = harness()
    expect(await h.run('ls')).toMatch(/\nMakefile +notes\.txt +src\n/)
    const long = await h.run('ls -l src')
    expect(long).toMatch(/-rw-r--r-- 1 coder coder \d+ \w{3} [ \d]\d \d\d:\d\d main\.c/)
    expect(await h.run('ls -a')).toMatch(/\n\. +\.\. +Makefile +notes\.txt +src\n/)
    expect(await h.run('cat notes.txt')).toContain('line one\nline two\n')
    expect(await h.run('pwd')).toContain(`${HOME}/projects/demo\n`)
    expect(await h.run('echo "a  b" c')).toContain('a  b c\n')
    expect(await h.run('ls src/*.c')).toMatch(/src\/main\.c +src\/matrix\.c/)
    expect(await h.run('cat nope')).toContain('cat: nope: No such file or directory')
  })

  test('&&, || and ; follow exit statuses; $? is the last status', async () => {
    const h = harness()
    const out = await h.run('cat nope && echo yes || echo no; echo status=$?')
    const printed = out.slice(out.indexOf('\n') + 1)
    expect(printed).toBe('cat: nope: No such file or directory\nno\nstatus=0\ncoder@shellfolio:~/projects/demo$ ')
    expect(await h.run('cat nope; echo $?')).toContain('\n1\n')
  })

  test('a refused command prints a clear message and the shell stays usable', async () => {
    const h = harness()
    expect(await h.run('rm -rf /')).toContain("shellfolio: 'rm' is not allowed in this sandbox")
    expect(await h.run('foo --bar')).toContain('command not found: foo — type help')
    expect(await h.run('echo $(whoami)')).toContain('command substitution is not allowed')
    expect(await h.run('echo still here')).toContain('still here')
  })

  test('stty size, history, help, clear, exit N', async () => {
    const h = harness(100)
    expect(await h.run('stty size')).toContain('24 100\n')
    const hist = await h.run('history')
    expect(hist).toContain('    1  stty size\n')
    expect(hist).toContain('    2  history\n')
    expect(await h.run('help')).toContain('make [target]')
    h.clear()
    h.shell.input('clear\r')
    await waitUntil(() => h.out.includes('\x1b[2J'))
    h.shell.input('exit 7\r')
    await waitUntil(() => h.exits.length > 0)
    expect(h.exits).toEqual([7])
  })

  test('Ctrl-D on an empty line exits with 0', async () => {
    const h = harness()
    h.shell.input('\x04')
    await waitUntil(() => h.exits.length > 0)
    expect(h.exits).toEqual([0])
  })

  test('tab completes a unique prefix, then lists candidates on a second tab', async () => {
    const h = harness()
    h.clear()
    h.shell.input('cat no\t')
    expect(plain(h.out)).toBe('cat notes.txt ')
    h.shell.input('\x15') // clear the line
    h.clear()
    h.shell.input('cat src/m')
    h.shell.input('\t') // common prefix 'ma'
    expect(h.shell.editor.text).toBe('cat src/ma')
    h.shell.input('\t') // ambiguous: list
    expect(plain(h.out)).toMatch(/\r\nmain\.c +matrix\.c\r\n/)
    expect(h.shell.editor.text).toBe('cat src/ma')
    h.shell.input('\x15')
    h.shell.input('pr\t')
    expect(h.shell.editor.text).toBe('pr')
    h.shell.input('\x15ma\t')
    expect(h.shell.editor.text).toBe('make ')
    h.shell.input('\x15cd ~/pro\t')
    expect(h.shell.editor.text).toBe('cd ~/projects/')
  })

  test('make runs recipes with the silent prefix and reports up to date', async () => {
    const h = harness()
    expect(await h.run('make')).toContain('built all\n')
    expect(await h.run('make nothing')).toContain("make: *** No rule to make target 'nothing'.  Stop.")
  })

  test('running a missing or non-wasm program explains itself', async () => {
    const h = harness()
    expect(await h.run('./nope')).toContain('shellfolio: ./nope: No such file or directory')
    expect(await h.run('./notes.txt')).toContain('not a WebAssembly program')
  })
})

/** `_start` loops forever: a WASI program with no imports (the selftest's `spin` without a compile). */
const SPIN_WASM = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00, 0x05,
  0x03, 0x01, 0x00, 0x01, 0x07, 0x13, 0x02, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x06, 0x5f, 0x73,
  0x74, 0x61, 0x72, 0x74, 0x00, 0x00, 0x0a, 0x09, 0x01, 0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b,
])

/** The state letter of /proc/<pid>/stat (`T` stopped, `R`/`S` running), or undefined once gone. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]
  } catch {
    return undefined
  }
}

describe('job control', () => {
  test('Ctrl-Z stops a program without spending its CPU budget; jobs, fg, exit warns once and kills it', async () => {
    const h = harness()
    h.fs.writeFile(`${HOME}/projects/demo/spin`, SPIN_WASM)
    h.clear()
    h.shell.input('./spin a b\r')
    // Ctrl-Z before the program has its host is a no-op: repeat until it is stopped
    for (let i = 0; i < 200 && !h.out.includes('Stopped'); i++) {
      await Bun.sleep(50)
      h.shell.input('\x1a')
    }
    await waitUntil(() => plain(h.out).endsWith('$ '))
    expect(plain(h.out)).toContain('^Z\r\n[1]+  Stopped                 ./spin a b\r\n')
    const pids = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p) && procState(Number(p)) === 'T')
      .map(Number)
      .filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('program-host'))
    expect(pids.length).toBe(1)
    const pid = pids[0]!
    // stopped for longer than its 1 s CPU budget: still there, still stopped
    await Bun.sleep(1500)
    expect(procState(pid)).toBe('T')
    expect(await h.run('jobs')).toContain('[1]+  Stopped                 ./spin a b\n')
    expect(await h.run('echo between')).toContain('between\n')
    // the stopped program gave its permit back: another program runs (the pool allows one at a time)
    h.clear()
    h.shell.input('./spin other\r')
    for (let i = 0; i < 200 && !plain(h.out).endsWith('$ '); i++) await Bun.sleep(50)
    expect(plain(h.out)).toContain('shellfolio: time limit exceeded (1 s): spin was stopped')
    expect(procState(pid)).toBe('T')
    // make and builtins are not stopped
    expect(await h.run('fg %2')).toContain('fg: %2: no such job')
    expect(await h.run('exit')).toContain('There are stopped jobs.')
    expect(h.exits).toEqual([])
    expect(await h.run('echo again')).toContain('again\n')
    // `fg` resumes it: its CPU budget goes on from where it was stopped, then the time limit stops it
    h.clear()
    h.shell.input('fg\r')
    for (let i = 0; i < 200 && !plain(h.out).endsWith('$ '); i++) await Bun.sleep(50)
    const fg = plain(h.out).replace(/\r\n/g, '\n')
    expect(fg).toContain('./spin a b\n')
    expect(fg).toContain('shellfolio: time limit exceeded (1 s): spin was stopped')
    expect(await h.run('jobs')).not.toContain('Stopped')
    expect(await h.run('fg')).toContain('fg: current: no such job')
    // stopped again, then `exit` twice: the warning, then the exit kills the stopped program
    h.clear()
    h.shell.input('./spin\r')
    for (let i = 0; i < 200 && !h.out.includes('Stopped'); i++) {
      await Bun.sleep(50)
      h.shell.input('\x1a')
    }
    await waitUntil(() => plain(h.out).endsWith('$ '))
    expect(plain(h.out)).toContain('[1]+  Stopped                 ./spin\r\n')
    const second = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p) && procState(Number(p)) === 'T')
      .map(Number)
      .filter((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('program-host'))
    expect(second.length).toBe(1)
    expect(await h.run('exit')).toContain('There are stopped jobs.')
    h.shell.input('exit\r')
    await waitUntil(() => h.exits.length > 0)
    // as bash: the status of the refused `exit` (1)
    expect(h.exits).toEqual([1])
    for (let i = 0; i < 100 && ![undefined, 'Z'].includes(procState(second[0]!)); i++) await Bun.sleep(20)
    expect([undefined, 'Z']).toContain(procState(second[0]!))
  }, 60_000)

  test('at most 4 stopped jobs: a fifth Ctrl-Z leaves the program running; jobs marks + and -', async () => {
    const h = harness()
    h.fs.writeFile(`${HOME}/projects/demo/spin`, SPIN_WASM)
    const stop = async (line: string, expected: string) => {
      h.clear()
      h.shell.input(`${line}\r`)
      for (let i = 0; i < 200 && !h.out.includes(expected); i++) {
        await Bun.sleep(50)
        h.shell.input('\x1a')
      }
      expect(plain(h.out)).toContain(expected)
    }
    for (let n = 1; n <= 4; n++) {
      await stop(`./spin ${n}`, `[${n}]+  Stopped`)
      await waitUntil(() => plain(h.out).endsWith('$ '))
    }
    await stop('./spin 5', 'shellfolio: Ctrl-Z: 4 stopped jobs already (type jobs, fg); spin keeps running')
    // the fifth keeps running until its 1 s CPU budget is spent
    for (let i = 0; i < 200 && !plain(h.out).endsWith('$ '); i++) await Bun.sleep(50)
    expect(plain(h.out)).toContain('shellfolio: time limit exceeded (1 s): spin was stopped')
    const jobs = await h.run('jobs')
    expect(jobs).toContain('[1]   Stopped                 ./spin 1\n[2]   Stopped                 ./spin 2\n')
    expect(jobs).toContain('[3]-  Stopped                 ./spin 3\n[4]+  Stopped                 ./spin 4\n')
    h.shell.close()
  }, 60_000)

  test('Ctrl-Z during make or a builtin says what it does', async () => {
    const h = harness()
    h.fs.writeFile(`${HOME}/projects/demo/spin`, SPIN_WASM)
    h.clear()
    h.shell.input('./spin | head\r')
    await Bun.sleep(300)
    h.shell.input('\x1a\x03')
    await waitUntil(() => plain(h.out).endsWith('$ '))
    expect(plain(h.out)).toContain('only a program run alone (./prog) can be stopped here')
    expect(await h.run('jobs')).not.toContain('Stopped')
  }, 30_000)
})

describe('onlcr', () => {
  test('bare \\n becomes \\r\\n, existing \\r\\n and a \\r split across chunks stay', () => {
    const state = { lastCr: false }
    const dec = (b: Uint8Array) => new TextDecoder().decode(b)
    expect(dec(onlcr(new TextEncoder().encode('a\nb\r\nc\r'), state))).toBe('a\r\nb\r\nc\r')
    expect(dec(onlcr(new TextEncoder().encode('\nd\n'), state))).toBe('\nd\r\n')
  })
})
