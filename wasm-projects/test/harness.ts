/**
 * Shared by the project tests: build a project natively with make + cc in a temporary copy, run the
 * native binary or the committed prebuilt .wasm (under @wasmer/sdk) with the same arguments,
 * environment and stdin, and compare against goldens.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { loadWasmer } from '../toolchain.ts'

export const projectsDir = join(import.meta.dir, '..')

/** `UPDATE_GOLDENS=1 bun test wasm-projects` rewrites the goldens from the native build. */
const updateGoldens = process.env.UPDATE_GOLDENS === '1'

export interface RunResult {
  code: number
  stdout: Uint8Array
  stderr: string
}

export interface RunOptions {
  args: string[]
  env?: Record<string, string>
  stdin?: string
}

/** A fixed environment: the caller's COLUMNS/LINES must never leak into a golden. */
function baseEnv(extra: Record<string, string> | undefined): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', ...extra }
}

/** Fails (never skips) when a tool the native build needs is missing. */
export function requireTools(...tools: string[]): void {
  const missing = tools.filter((tool) => !Bun.which(tool))
  if (missing.length > 0) {
    throw new Error(
      `the native golden tests need ${missing.join(' and ')} on PATH, which ${missing.length > 1 ? 'are' : 'is'} missing (Debian: apt-get install gcc make)`,
    )
  }
}

/** A native build of one project in a temporary copy, so the source tree stays clean. */
export class NativeBuild {
  private constructor(
    readonly dir: string,
    readonly binary: string,
  ) {}

  static async create(slug: string, binary: string): Promise<NativeBuild> {
    requireTools('make', 'cc')
    const dir = await mkdtemp(join(tmpdir(), `native-${slug}-`))
    const source = join(projectsDir, slug)
    await cp(source, dir, {
      recursive: true,
      filter: (path) => !/^(prebuilt|golden)(\/|$)/.test(relative(source, path)),
    })
    const make = Bun.spawnSync(['make', '-s', 'clean', 'all'], { cwd: dir, env: baseEnv({}), stderr: 'pipe' })
    if (make.exitCode !== 0) throw new Error(`make failed for ${slug}:\n${make.stderr.toString()}`)
    return new NativeBuild(dir, binary)
  }

  run(options: RunOptions): RunResult {
    const proc = Bun.spawnSync([`./${this.binary}`, ...options.args], {
      cwd: this.dir,
      env: baseEnv(options.env),
      stdin: options.stdin === undefined ? 'ignore' : Buffer.from(options.stdin),
      stdout: 'pipe',
      stderr: 'pipe',
    })
    if (proc.signalCode) throw new Error(`${this.binary} ${options.args.join(' ')} crashed with ${proc.signalCode}`)
    return { code: proc.exitCode ?? -1, stdout: new Uint8Array(proc.stdout), stderr: proc.stderr.toString() }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await rm(this.dir, { recursive: true, force: true })
  }
}

type WasmerSdk = Awaited<ReturnType<typeof loadWasmer>>
type Sandbox = Awaited<ReturnType<InstanceType<WasmerSdk['Wasmer']>['sandboxes']['create']>>
type Package = Awaited<ReturnType<InstanceType<WasmerSdk['Wasmer']>['packages']['load']>>

/**
 * One project's committed prebuilt binary in a @wasmer/sdk sandbox, with the project's files under
 * /workspace/<slug>. Programs get PWD=/workspace/<slug>, which they chdir to (wasi-libc starts at "/").
 */
export class WasiProject {
  private constructor(
    private readonly wasmer: InstanceType<WasmerSdk['Wasmer']>,
    readonly sandbox: Sandbox,
    private readonly pkg: Package,
    readonly cwd: string,
  ) {}

  static async create(slug: string, binary: string, assets: string[]): Promise<WasiProject> {
    const { Wasmer } = await loadWasmer()
    const dir = join(projectsDir, slug)
    const wasm = new Uint8Array(await Bun.file(join(dir, 'prebuilt', `${binary}.wasm`)).arrayBuffer())
    const cwd = `/workspace/${slug}`
    const files: Record<string, Uint8Array> = {}
    for (const asset of assets)
      files[`${cwd}/${asset}`] = new Uint8Array(await Bun.file(join(dir, asset)).arrayBuffer())
    const wasmer = new Wasmer({ cache: false })
    const pkg = await wasmer.packages.load(wasm)
    const sandbox = await wasmer.sandboxes.create({ packages: [pkg], files })
    return new WasiProject(wasmer, sandbox, pkg, cwd)
  }

  command(options: RunOptions) {
    return this.sandbox.command(this.pkg, options.args, { env: { PWD: this.cwd, ...options.env } })
  }

  async run(options: RunOptions): Promise<RunResult> {
    const output = await this.command(options).run({
      check: false,
      timeoutMs: 20_000,
      ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
    })
    if (output.reason !== 'exited')
      throw new Error(`${options.args.join(' ')} did not exit by itself: ${output.reason}`)
    return { code: output.exitCode, stdout: output.stdout.bytes, stderr: output.stderr.text() }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.sandbox.close()
    await this.wasmer.close()
  }
}

/** The committed golden bytes; with UPDATE_GOLDENS=1, writes `actual` first. */
export async function golden(slug: string, name: string, actual: Uint8Array): Promise<Uint8Array> {
  const path = join(projectsDir, slug, 'golden', name)
  if (updateGoldens) await Bun.write(path, actual)
  const file = Bun.file(path)
  if (!(await file.exists()))
    throw new Error(`missing golden ${path} (create it with UPDATE_GOLDENS=1 bun test wasm-projects)`)
  return new Uint8Array(await file.arrayBuffer())
}

export const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
