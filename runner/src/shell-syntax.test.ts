/**
 * One parser, one verdict: every line of the table gets the same policy verdict from `checkLine`,
 * from the Docker runner's line tracker (what bash would be allowed to run) and from the WASI shell
 * (what it refuses before running anything).
 */
import { describe, expect, test } from 'bun:test'
import { CommandLineTracker } from './docker/line-tracker.ts'
import { checkLine, DEFAULT_POLICY } from './policy.ts'
import { evaluateArithmetic, parseShellLine } from './shell-syntax.ts'
import { HOME } from './wasi/home.ts'
import { MemFs } from './wasi/memfs.ts'
import { HostPool } from './wasi/program.ts'
import { Shell } from './wasi/shell.ts'
import { Toolchain } from './wasi/toolchain.ts'

/** [line, allowed?] */
const TABLE: [string, boolean][] = [
  ['ls', true],
  ['ls -la | head -n 3', true],
  ['ls | head', true],
  ['cat notes.txt | wc -l', true],
  ['./calc < in.txt | head', true],
  ['echo hi > out.txt', true],
  ['echo hi >> out.txt', true],
  ['echo hi 2>&1 | wc -c', true],
  ['ls nothing &> out.txt', true],
  ['ls |& head', true],
  ['cat <<< "a b" | wc -w', true],
  ['> empty.txt', true],
  ['make && ./miniRT scenes/demo.rt', true],
  ['make || echo failed; pwd', true],
  ['echo \'a|b\' "c;d" e\\&f', true],
  ['echo typed-$((40+2))', true],
  ['echo $HOME ${USER} $?', true],
  ['echo *.c src/?.c', true],
  ['"ls" -l', true],
  ['ls # ; rm -rf /', true],
  ['ls | rm x', false],
  ['rm -rf /', false],
  ['ls; rm x', false],
  ['ls && curl x', false],
  ['ls || bash', false],
  ['cat f | curl -d @- http://x', false],
  ['ls <(rm x)', false],
  ['cat >(rm x)', false],
  ['echo $(rm x)', false],
  ['echo "$(rm x)"', false],
  ['echo `id`', false],
  ['echo $(( $(id) ))', false],
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax, on purpose
  ['echo ${x:-y}', false],
  ['(rm x)', false],
  ['{ rm x; }', false],
  ['ls &', false],
  ['cat << EOF', false],
  ['$SHELL', false],
  ['~/prog', false],
  ['./*', false],
  ['/bin/sh', false],
  ['../x', false],
  ['X=1 ls', false],
  ['if true; then ls; fi', false],
  ['ls > f; rm f', false],
  ['2>/dev/null rm x', false],
]

function wasiShell() {
  const fs = new MemFs()
  fs.mkdirp(`${HOME}/projects/demo`)
  let out = ''
  const shell = new Shell({
    fs,
    project: { slug: 'demo', sourceDir: '/nonexistent', policy: DEFAULT_POLICY },
    env: {},
    size: () => ({ cols: 80, rows: 24 }),
    write: (b) => {
      out += new TextDecoder().decode(b)
    },
    writeAsync: async (b) => {
      out += new TextDecoder().decode(b)
    },
    exit: () => {},
    toolchain: new Toolchain(1),
    hosts: new HostPool(1),
    prebuilt: async () => undefined,
    programTimeLimitMs: 1000,
    memoryLimit: 64 * 1024 * 1024,
  })
  shell.start()
  return {
    /** Submits a line; true when the shell refused it before running anything. */
    async refused(line: string): Promise<boolean> {
      out = ''
      shell.input(`${line}\r`)
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing terminal escapes
      const plain = () => out.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
      for (let i = 0; i < 10_000 && !/\$ $/.test(plain()); i++) {
        await new Promise<void>((r) => setImmediate(r))
      }
      return /shellfolio: .*(not allowed|not supported here|allowed here)|command not found/.test(out)
    },
  }
}

describe('one command-line parser for the policy and the WASI shell', () => {
  test('checkLine, the Docker line tracker and the WASI shell agree on every line of the table', async () => {
    const wasi = wasiShell()
    const rows: string[] = []
    for (const [line, allowed] of TABLE) {
      const policy = checkLine(line).ok
      const tracker = new CommandLineTracker(DEFAULT_POLICY)
      tracker.onPrompt('ps1')
      const docker = tracker.input(new TextEncoder().encode(`${line}\r`)).refused === undefined
      const shell = !(await wasi.refused(line))
      rows.push(`${line} → policy ${policy} docker ${docker} wasi ${shell}`)
      expect({ line, policy, docker, wasi: shell }).toEqual({ line, policy: allowed, docker: allowed, wasi: allowed })
    }
    expect(rows).toHaveLength(TABLE.length)
  })

  test('a line continued over several lines is checked whole (ls && then rm)', () => {
    const tracker = new CommandLineTracker(DEFAULT_POLICY)
    tracker.onPrompt('ps1')
    expect(tracker.input(new TextEncoder().encode('ls &&\r')).refused).toBeUndefined()
    tracker.onPrompt('ps2')
    expect(tracker.input(new TextEncoder().encode('rm x\r')).refused).toContain("'rm' is not allowed")
  })

  test('the parse tree: pipelines, redirections, quotes', () => {
    const parsed = parseShellLine(`a 'b c' | d 2>&1 > "o u t" && e <<< x`)
    expect(parsed.error).toBeUndefined()
    expect(parsed.pipelines.map((p) => [p.op, p.commands.map((c) => c.words.map((w) => w.raw))])).toEqual([
      [';', [['a', "'b c'"], ['d']]],
      ['&&', [['e']]],
    ])
    expect(parsed.pipelines[0]!.commands[1]!.redirects.map((r) => [r.fd, r.op, r.target.raw])).toEqual([
      [2, '>&', '1'],
      [1, '>', '"o u t"'],
    ])
    expect(parseShellLine('ls | | x').error).toContain('syntax error')
    expect(parseShellLine('echo "x').error).toContain('matching')
  })

  test('arithmetic is bash integer arithmetic, bounded', () => {
    const vars = (n: string) => ({ a: '5' })[n]
    expect(evaluateArithmetic('40+2', vars)).toBe(42n)
    expect(evaluateArithmetic('a * (a - 1) / 2', vars)).toBe(10n)
    expect(evaluateArithmetic('2**63', vars)).toBe(-9223372036854775808n)
    expect(evaluateArithmetic('7 % 3 == 1 ? 10 : 20', vars)).toBe(10n)
    expect(() => evaluateArithmetic('1/0', vars)).toThrow('division by 0')
    expect(() => evaluateArithmetic('('.repeat(500) + '1' + ')'.repeat(500), vars)).toThrow('too deeply')
    expect(evaluateArithmetic('2**4000000000000', vars)).toBe(0n)
  })
})
