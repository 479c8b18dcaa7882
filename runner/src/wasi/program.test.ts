import { afterAll, describe, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { MemFs } from './memfs.ts'
import { HostPool, ProgramRun } from './program.ts'
import { Toolchain } from './toolchain.ts'

describe('program runs in host processes', () => {
  const hosts = new HostPool(4)
  const toolchain = new Toolchain(1)
  afterAll(() => {
    hosts.close()
    toolchain.close()
  })

  async function build(source: string): Promise<{ fs: MemFs; wasm: Uint8Array }> {
    const fs = new MemFs()
    fs.mkdirp('/home/coder/p')
    fs.writeFile('/home/coder/p/prog.c', source)
    const status = await toolchain.compile({
      argv: ['cc', '-O1', '-o', 'prog', 'prog.c'],
      fs,
      cwd: '/home/coder/p',
      output: () => {},
    })
    expect(status).toBe(0)
    return { fs, wasm: fs.readFile('/home/coder/p/prog') }
  }

  test('Ctrl-C on a tight loop kills its host process, so no CPU keeps burning', async () => {
    const { fs, wasm } = await build(
      '#include <stdio.h>\nint main(void) { volatile unsigned n = 0; puts("spinning"); fflush(stdout); for (;;) n++; }\n',
    )
    let out = ''
    let resolveSpinning!: () => void
    const spinning = new Promise<void>((r) => {
      resolveSpinning = r
    })
    const run = new ProgramRun({
      hosts,
      wasm,
      args: [],
      fs,
      home: '/home/coder',
      cwd: '/home/coder/p',
      env: {},
      timeLimitMs: 30_000,
      output: (b) => {
        out += new TextDecoder().decode(b)
        if (out.includes('spinning')) resolveSpinning()
      },
    })
    await spinning
    const pid = run.pid!
    expect(existsSync(`/proc/${pid}`)).toBe(true)
    run.interrupt()
    expect(await run.done).toEqual({ kind: 'interrupted' })
    // the host is SIGKILLed: wait for the kernel to reap it (no timer: poll on the event loop)
    for (let i = 0; i < 100_000 && existsSync(`/proc/${pid}/stat`) && !isZombie(pid); i++) await Bun.sleep(0)
    expect(!existsSync(`/proc/${pid}/stat`) || isZombie(pid)).toBe(true)
  }, 60_000)

  test('a normal exit syncs files back and the host is reused', async () => {
    const { fs, wasm } = await build(
      '#include <stdio.h>\nint main(int c, char **v) { FILE *f = fopen(v[1], "w"); fputs("hi\\n", f); fclose(f); printf("wrote %s\\n", v[1]); return 4; }\n',
    )
    const pids: (number | undefined)[] = []
    for (const name of ['a.txt', 'b.txt']) {
      let out = ''
      const run = new ProgramRun({
        hosts,
        wasm,
        args: [name],
        fs,
        home: '/home/coder',
        cwd: '/home/coder/p',
        env: {},
        timeLimitMs: 30_000,
        output: (b) => {
          out += new TextDecoder().decode(b)
        },
      })
      expect(await run.done).toEqual({ kind: 'exited', code: 4 })
      pids.push(run.pid)
      expect(out).toBe(`wrote ${name}\n`)
      expect(new TextDecoder().decode(fs.readFile(`/home/coder/p/${name}`))).toBe('hi\n')
    }
    expect(pids[0]).toBe(pids[1])
  }, 60_000)
})

function isZombie(pid: number): boolean {
  try {
    const stat = require('node:fs').readFileSync(`/proc/${pid}/stat`, 'utf8') as string
    return stat.split(') ')[1]?.startsWith('Z') ?? false
  } catch {
    return true
  }
}
