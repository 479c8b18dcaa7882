/**
 * A session host: the child process that runs one WASI session's shell, make, workspace and
 * program hosts (docs/runners.md). Nothing a visitor does runs on the API's event loop: a runaway
 * make blocks only this process, which the session can SIGKILL; its memory is sampled against the
 * session's budget; it runs at nice 10. Compiles go to the runner's shared toolchain through the
 * parent (one slot per session at most); programs run in program hosts this process starts,
 * fresh for this session and never shared with another.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileOp } from './files.ts'
import { HOME } from './home.ts'
import { FsError, type FsNode, MemFs, seedFromHost } from './memfs.ts'
import { OutputWindow } from './output-window.ts'
import { dieWithParent } from './proc-stats.ts'
import { HostPool } from './program.ts'
import type { FromSessionHost, SessionHostInit, ToSessionHost } from './session-protocol.ts'
import { Shell } from './shell.ts'
import type { CompileRequest, Compiler } from './toolchain.ts'
import { capMemory, isWasm } from './wasm-limits.ts'

function send(message: FromSessionHost): void {
  process.send?.(message)
}

/** The runner's toolchain, reached through the parent: it asks for the files only once a slot is free. */
class RemoteCompiler implements Compiler {
  #next = 1
  readonly #jobs = new Map<
    number,
    { req: CompileRequest; resolve: (code: number) => void; reject: (e: unknown) => void }
  >()

  compile(req: CompileRequest): Promise<number> {
    const id = this.#next++
    return new Promise<number>((resolve, reject) => {
      this.#jobs.set(id, { req, resolve, reject })
      req.signal?.addEventListener('abort', () => send({ type: 'cc-cancel', id }), { once: true })
      send({
        type: 'cc',
        id,
        argv: req.argv,
        ...(req.memoryLimit !== undefined ? { memoryLimit: req.memoryLimit } : {}),
      })
    })
  }

  handle(message: Extract<ToSessionHost, { type: 'cc-tree?' | 'cc-out' | 'cc-done' }>): void {
    const job = this.#jobs.get(message.id)
    if (!job) return
    if (message.type === 'cc-tree?') send({ type: 'cc-tree', id: message.id, tree: job.req.fs.toTree(job.req.cwd) })
    else if (message.type === 'cc-out') job.req.output(message.bytes)
    else {
      this.#jobs.delete(message.id)
      try {
        if (message.tree) job.req.fs.applyTree(job.req.cwd, message.tree)
        job.resolve(message.code)
      } catch (e) {
        job.reject(e)
      }
    }
  }
}

/** Permits for programs from the runner's gate (concurrent programs across sessions). */
class Permits {
  #next = 1
  readonly #waiting = new Map<number, () => void>()

  acquire = (): Promise<() => void> => {
    const id = this.#next++
    return new Promise((resolve) => {
      this.#waiting.set(id, () => {
        let released = false
        resolve(() => {
          if (released) return
          released = true
          send({ type: 'permit-release', id })
        })
      })
      send({ type: 'permit', id })
    })
  }

  granted(id: number): void {
    const grant = this.#waiting.get(id)
    this.#waiting.delete(id)
    grant?.()
  }
}

function seed(project: SessionHostInit['project']): Map<string, FsNode> {
  const base = statSync(project.sourceDir).mtimeMs
  const nodes = new Map<string, FsNode>([
    ['/', { kind: 'dir', mtime: base }],
    ['/home', { kind: 'dir', mtime: base }],
    [HOME, { kind: 'dir', mtime: base }],
    [`${HOME}/projects`, { kind: 'dir', mtime: base }],
  ])
  for (const [k, v] of seedFromHost(project.sourceDir, `${HOME}/projects/${project.slug}`)) nodes.set(k, v)
  return nodes
}

function start(init: SessionHostInit): void {
  const output = new OutputWindow(init.outputWindow, (bytes) => send({ type: 'out', bytes }))
  const compiler = new RemoteCompiler()
  const permits = new Permits()
  let size = init.size
  const prebuilt = new Map<string, Uint8Array | undefined>()
  const hosts = new HostPool(1, 0, {
    keep: 1,
    onSpawn: (pid) => send({ type: 'pid', pid }),
    permit: permits.acquire,
  })
  let fs: MemFs
  try {
    fs = new MemFs(seed(init.project), init.workspaceBytes)
  } catch (e) {
    const message = e instanceof FsError ? `${e.path}: ${e.message}` : (e as Error).message
    output.write(new TextEncoder().encode(`shellfolio: cannot set up the workspace: ${message}\r\n`))
    send({ type: 'exit', code: 1 })
    return
  }
  const shell = new Shell({
    fs,
    project: init.project,
    env: init.env,
    size: () => size,
    write: (bytes) => output.write(bytes),
    writeAsync: (bytes) => output.writeAsync(bytes),
    exit: (code) => {
      hosts.close()
      send({ type: 'exit', code })
    },
    onProgramCrash: (message) => send({ type: 'incident', message }),
    toolchain: compiler,
    hosts,
    prebuilt: async (name) => {
      if (!prebuilt.has(name)) {
        const path = join(init.project.sourceDir, 'prebuilt', `${name}.wasm`)
        let wasm: Uint8Array | undefined
        if (/^[\w.-]+$/.test(name) && existsSync(path)) {
          const bytes = new Uint8Array(readFileSync(path))
          if (isWasm(bytes)) wasm = capMemory(bytes, init.memoryLimit)
        }
        prebuilt.set(name, wasm)
      }
      return prebuilt.get(name)
    },
    programTimeLimitMs: init.programTimeLimitMs,
    memoryLimit: init.memoryLimit,
    programMemoryBytes: init.programMemoryBytes,
  })
  process.on('message', (message: ToSessionHost) => {
    switch (message.type) {
      case 'input':
        shell.input(message.data)
        send({ type: 'input-ack', seq: message.seq, n: message.n })
        break
      case 'resize':
        size = message.size
        break
      case 'ack':
        output.ack(message.bytes)
        break
      case 'cc-tree?':
      case 'cc-out':
      case 'cc-done':
        compiler.handle(message)
        break
      case 'permit-ok':
        permits.granted(message.id)
        break
      case 'files-put':
      case 'file-get':
        send(fileOp(fs, message))
        break
    }
  })
  shell.start()
}

if (import.meta.main) {
  process.once('message', (message: ToSessionHost) => {
    if (message.type === 'init') start(message)
  })
  // the session went away: nothing left to serve (program hosts follow on their own disconnect)
  process.on('disconnect', () => process.exit(0))
  // the kernel kills it too when its parent dies while it is busy (make's expansion, a long line)
  dieWithParent()
  send({ type: 'ready' })
}
