/**
 * The browser runner's session host (docs/runners.md, "The browser runner"): the same shell,
 * make, builtins, policy and workspace as the server's session-host.ts, built on the project's
 * files fetched once, with programs in Web Workers (the `ProgramLauncher` the caller passes).
 * Runs inside a Web Worker; talks to the page through `send` with credit-based output, as the
 * server's session host talks to its session.
 */
import { existsSync, readFileSync } from 'node:fs'
import type { CommandPolicy, TerminalSize } from '../types.ts'
import { HOME } from '../wasi/home.ts'
import { type FsNode, MemFs, seedFromHost } from '../wasi/memfs.ts'
import { OutputWindow } from '../wasi/output-window.ts'
import type { ProgramLauncher } from '../wasi/platform.ts'
import { Shell } from '../wasi/shell.ts'
import type { Compiler } from '../wasi/toolchain.ts'
import { capMemory, isWasm } from '../wasi/wasm-limits.ts'
import { CLANG_MEMORY_BYTES } from './clang-protocol.ts'
import { mount } from './host-fs.ts'
import type { TarEntry } from './tar.ts'

/** Where the project's files are mounted for the shared code (host-fs.ts). */
export const PROJECT_ROOT = '/project'

/** Budgets of a browser session: the WASI runner's (docs/budgets.md, "Browser runner"). */
export const BROWSER_LIMITS = {
  programTimeLimitMs: 30_000,
  memoryLimit: 256 * 1024 * 1024,
  workspaceBytes: 64 * 1024 * 1024,
  outputWindow: 256 * 1024,
  /** One compile's running time once LLVM is loaded (the server's 60 s of clang CPU time). */
  compileTimeLimitMs: 60_000,
  /** The linear memory of clang in the tab (each LLVM module's memory capped). */
  compileMemoryBytes: CLANG_MEMORY_BYTES,
  /** Diagnostics kept per compile, as on the server. */
  compileOutputBytes: 1024 * 1024,
}

/** Page → shell worker. */
export type ToBrowserShell =
  | { type: 'init'; slug: string; policy: CommandPolicy; size: TerminalSize; filesUrl: string }
  | { type: 'input'; data: Uint8Array | string }
  | { type: 'resize'; size: TerminalSize }
  | { type: 'ack'; bytes: number }

/** Shell worker → page. */
export type FromBrowserShell =
  /** `marks`: epoch ms of the worker's start-up steps, for the bench's profile (docs/performance.md). */
  | { type: 'loaded'; bytes: number; ms: number; marks?: Record<string, number> }
  | { type: 'out'; bytes: Uint8Array }
  | { type: 'exit'; code: number }
  | { type: 'error'; message: string }

export interface BrowserShellOptions {
  slug: string
  policy: CommandPolicy
  size: TerminalSize
  files: TarEntry[]
  programs: ProgramLauncher
  /** The C compiler (clang-compiler.ts, clang in a worker of its own). */
  compiler: Compiler
  send: (message: FromBrowserShell) => void
}

/** One browser session: call `handle` with the page's messages after construction. */
export class BrowserShellHost {
  readonly shell: Shell
  readonly #output: OutputWindow
  #size: TerminalSize

  constructor(o: BrowserShellOptions) {
    this.#size = o.size
    mount(PROJECT_ROOT, o.files)
    const nodes = new Map<string, FsNode>([
      ['/', { kind: 'dir', mtime: Date.now() }],
      ['/home', { kind: 'dir', mtime: Date.now() }],
      [HOME, { kind: 'dir', mtime: Date.now() }],
      [`${HOME}/projects`, { kind: 'dir', mtime: Date.now() }],
    ])
    for (const [k, v] of seedFromHost(PROJECT_ROOT, `${HOME}/projects/${o.slug}`)) nodes.set(k, v)
    const fs = new MemFs(nodes, BROWSER_LIMITS.workspaceBytes)
    this.#output = new OutputWindow(BROWSER_LIMITS.outputWindow, (bytes) => o.send({ type: 'out', bytes }))
    const prebuilt = new Map<string, Uint8Array | undefined>()
    this.shell = new Shell({
      fs,
      project: { slug: o.slug, sourceDir: PROJECT_ROOT, policy: o.policy },
      env: {},
      size: () => this.#size,
      write: (bytes) => this.#output.write(bytes),
      writeAsync: (bytes) => this.#output.writeAsync(bytes),
      exit: (code) => o.send({ type: 'exit', code }),
      toolchain: o.compiler,
      hosts: o.programs,
      prebuilt: async (name) => {
        if (!prebuilt.has(name)) {
          const path = `${PROJECT_ROOT}/prebuilt/${name}.wasm`
          let wasm: Uint8Array | undefined
          if (/^[\w.-]+$/.test(name) && existsSync(path)) {
            const bytes = readFileSync(path) as Uint8Array
            if (isWasm(bytes)) wasm = capMemory(bytes, BROWSER_LIMITS.memoryLimit)
          }
          prebuilt.set(name, wasm)
        }
        return prebuilt.get(name)
      },
      programTimeLimitMs: BROWSER_LIMITS.programTimeLimitMs,
      memoryLimit: BROWSER_LIMITS.memoryLimit,
    })
    this.shell.start()
  }

  handle(message: ToBrowserShell): void {
    switch (message.type) {
      case 'input':
        this.shell.input(message.data)
        break
      case 'resize':
        this.#size = message.size
        break
      case 'ack':
        this.#output.ack(message.bytes)
        break
    }
  }
}
