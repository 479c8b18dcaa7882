import { describe, expect, test } from 'bun:test'
import { Makefile, type MakeHost, parseMakeArgs, runMake } from './make.ts'
import { MemFs } from './memfs.ts'

const DIR = '/p'

/** A host whose "commands" are recorded; `cc ... -o X` and `touch X` create X, `false` fails. */
function host(files: Record<string, string>) {
  const fs = new MemFs()
  fs.mkdirp(DIR)
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirp(fs.resolve(DIR, name).replace(/\/[^/]*$/, '') || '/')
    fs.writeFile(fs.resolve(DIR, name), text)
  }
  let out = ''
  const ran: string[] = []
  const h: MakeHost = {
    fs,
    cwd: DIR,
    write: (t) => {
      out += t
    },
    exec: async (line, cwd) => {
      ran.push(line)
      const words = line.split(/\s+/)
      if (words[0] === 'false') return 1
      const o = words.indexOf('-o')
      if (o >= 0) fs.writeFile(fs.resolve(cwd, words[o + 1]!), `built from ${words.slice(1).join(' ')}`)
      if (words[0] === 'touch') fs.writeFile(fs.resolve(cwd, words[1]!), 'x')
      if (words[0] === 'rm')
        for (const w of words.slice(2)) if (fs.stat(fs.resolve(cwd, w))) fs.remove(fs.resolve(cwd, w))
      return 0
    },
    interrupted: () => false,
  }
  return {
    h,
    fs,
    ran,
    get out() {
      return out
    },
    reset() {
      out = ''
      ran.length = 0
    },
  }
}

const MINIRT = `# comment
CC ?= cc
CFLAGS ?= -O2 -Wall
LDLIBS = -lm
NAME = miniRT
OBJS = src/main.o src/vec.o

all: $(NAME)

$(NAME): $(OBJS)
\t$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

src/main.o: src/main.c src/vec.h
\t$(CC) $(CFLAGS) -c -o $@ $<

src/vec.o: src/vec.c src/vec.h
\t$(CC) $(CFLAGS) -c -o $@ $<

clean:
\trm -f $(OBJS) $(NAME)

.PHONY: all clean
`

const SOURCES = { Makefile: MINIRT, 'src/main.c': 'm', 'src/vec.c': 'v', 'src/vec.h': 'h' }

describe('make: parsing and variables', () => {
  test('=, :=, ?=, += with $(VAR) and braces; recursive variables expand late', () => {
    const mk = new Makefile('Makefile').parse(
      [
        'A = $(B) x',
        'B = late',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: make syntax, not a template
        'C := ${B} now',
        'B = later',
        'D ?= one',
        'D ?= two',
        'E = e',
        'E += f',
        'CC ?= gcc',
      ].join('\n'),
    )
    expect(mk.get('A')).toBe('later x')
    expect(mk.get('C')).toBe('late now')
    expect(mk.get('D')).toBe('one')
    expect(mk.get('E')).toBe('e f')
    // CC is predefined as cc, as in GNU make, so ?= keeps it
    expect(mk.get('CC')).toBe('cc')
  })

  test('command-line variables override the Makefile', () => {
    const mk = new Makefile('Makefile', { CFLAGS: '-O0' }).parse('CFLAGS = -O2\nCFLAGS += -g')
    expect(mk.get('CFLAGS')).toBe('-O0')
  })

  test('rules, the default goal, .PHONY and continuation lines', () => {
    const mk = new Makefile('Makefile').parse(`.PHONY: all\nall: a \\\n  b\n\techo $@\nb:\n\t@echo b`)
    expect(mk.defaultGoal).toBe('all')
    expect(mk.rules.get('all')?.prereqs).toEqual(['a', 'b'])
    expect(mk.rules.get('all')?.recipe.map((r) => r.text)).toEqual(['echo $@'])
    expect(mk.phony.has('all')).toBe(true)
  })

  test('substitution references and functions', () => {
    const mk = new Makefile('Makefile').parse(
      'SRC = a.c b.c\nOBJ = $(SRC:.c=.o)\nP = $(patsubst %.c,obj/%.o,$(SRC))\nN = $(notdir src/x.c)\nF = $(filter %.c,$(SRC) x.h)',
    )
    expect(mk.get('OBJ')).toBe('a.o b.o')
    expect(mk.get('P')).toBe('obj/a.o obj/b.o')
    expect(mk.get('N')).toBe('x.c')
    expect(mk.get('F')).toBe('a.c b.c')
  })

  test('conditionals', () => {
    const mk = new Makefile('Makefile').parse(
      'X = 1\nifeq ($(X),1)\nY = yes\nelse\nY = no\nendif\nifdef Z\nW = z\nendif',
    )
    expect(mk.get('Y')).toBe('yes')
    expect(mk.get('W')).toBe('')
  })

  test('a missing separator is a clear error', () => {
    expect(() => new Makefile('Makefile').parse('all\n')).toThrow('missing separator')
  })

  test('arguments: goals, VAR=value, -C, -s, -n', () => {
    expect(parseMakeArgs(['-s', '-C', 'dir', 'CC=clang', 'all', 'clean'])).toMatchObject({
      goals: ['all', 'clean'],
      overrides: { CC: 'clang' },
      dir: 'dir',
      silent: true,
    })
  })
})

describe('make: building', () => {
  test('builds in dependency order with $@ $< $^, echoing each command', async () => {
    const m = host(SOURCES)
    expect(await runMake([], m.h)).toBe(0)
    expect(m.ran).toEqual([
      'cc -O2 -Wall -c -o src/main.o src/main.c',
      'cc -O2 -Wall -c -o src/vec.o src/vec.c',
      'cc -O2 -Wall -o miniRT src/main.o src/vec.o -lm',
    ])
    expect(m.out).toBe(`${m.ran.join('\n')}\n`)
  })

  test('up-to-date targets are skipped; a touched source rebuilds only what depends on it', async () => {
    const m = host(SOURCES)
    await runMake([], m.h)
    m.reset()
    expect(await runMake([], m.h)).toBe(0)
    expect(m.ran).toEqual([])
    expect(m.out).toBe("make: Nothing to be done for 'all'.\n")
    m.reset()
    await runMake(['miniRT'], m.h)
    expect(m.out).toBe("make: 'miniRT' is up to date.\n")
    m.reset()
    m.fs.writeFile('/p/src/vec.c', 'changed')
    await runMake([], m.h)
    expect(m.ran).toEqual(['cc -O2 -Wall -c -o src/vec.o src/vec.c', 'cc -O2 -Wall -o miniRT src/main.o src/vec.o -lm'])
  })

  test('clean removes outputs and the next make rebuilds', async () => {
    const m = host(SOURCES)
    await runMake([], m.h)
    m.reset()
    await runMake(['clean'], m.h)
    expect(m.ran).toEqual(['rm -f src/main.o src/vec.o miniRT'])
    expect(m.fs.stat('/p/miniRT')).toBeUndefined()
    m.reset()
    await runMake([], m.h)
    expect(m.ran.length).toBe(3)
  })

  test('@ silences, - ignores errors, a failure stops make with the GNU message', async () => {
    const m = host({ Makefile: 'all: a b\na:\n\t-false\n\t@echo quiet\nb:\n\tfalse\n\techo never\n' })
    expect(await runMake([], m.h)).toBe(2)
    expect(m.out).toBe(
      ['false', 'make: [Makefile:3: a] Error 1 (ignored)', 'false', 'make: *** [Makefile:6: b] Error 1', ''].join('\n'),
    )
    expect(m.ran).toEqual(['false', 'echo quiet', 'false'])
  })

  test('missing prerequisites and targets are reported', async () => {
    const m = host({ Makefile: 'all: prog\nprog: prog.c\n\tcc -o prog prog.c\n' })
    expect(await runMake([], m.h)).toBe(2)
    expect(m.out).toBe("make: *** No rule to make target 'prog.c', needed by 'prog'.  Stop.\n")
    const n = host({})
    expect(await runMake([], n.h)).toBe(2)
    expect(n.out).toBe('make: *** No targets specified and no makefile found.  Stop.\n')
  })

  test('built-in rules: `make hello` compiles hello.c without a Makefile; %.o pattern rules', async () => {
    const m = host({ 'hello.c': 'int main(){}' })
    expect(await runMake(['hello'], m.h)).toBe(0)
    // empty CFLAGS/LDFLAGS leave extra spaces, as GNU make's echo does
    expect(m.ran.map((l) => l.replace(/\s+/g, ' '))).toEqual(['cc -o hello hello.c'])
    const p = host({ Makefile: 'prog: a.o\n\t$(CC) -o $@ $^\n%.o: %.c\n\t$(CC) -c $< -o $@\n', 'a.c': '' })
    await runMake([], p.h)
    expect(p.ran).toEqual(['cc -c a.c -o a.o', 'cc -o prog a.o'])
  })

  test('-n prints without running; -C changes directory', async () => {
    const m = host(SOURCES)
    await runMake(['-n'], m.h)
    expect(m.ran).toEqual([])
    expect(m.out.split('\n').length).toBe(4)
    const c = host({ 'sub/Makefile': 'x:\n\ttouch x\n' })
    expect(await runMake(['-C', 'sub'], c.h)).toBe(0)
    expect(c.fs.stat('/p/sub/x')).toBeDefined()
  })
})
