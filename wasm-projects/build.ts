/**
 * Compiles every project under wasm-projects/ to a WASI binary with @yowasp/clang:
 * `wasm-projects/<slug>/prebuilt/<binary>.wasm`, which the WASI runner executes and which is committed.
 *
 *   bun run wasm:build            rebuild and overwrite the committed binaries
 *   bun run wasm:build --check    rebuild into a temporary directory; exit 1 naming every committed binary
 *                                 that differs from its rebuild (or is missing)
 *   bun run wasm:build calc life  only these projects
 *
 * The output is reproducible: one clang invocation per project over its sorted sources, no debug info,
 * no timestamps, and source paths that are relative to the project (so no machine path is embedded).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadClang } from './toolchain.ts'

/** Flags shared with the Makefiles (-ffp-contract=off keeps floating point identical to the native build). */
export const CFLAGS = ['-O2', '-std=c99', '-Wall', '-Wextra', '-ffp-contract=off']

/** Flags only the prebuilt binaries get. */
const WASI_FLAGS = [
  '-g0',
  '-ffile-prefix-map=/=',
  // wasm-ld's default shadow stack is 64 KiB and overflowing it corrupts memory instead of trapping.
  '-Wl,-z,stack-size=1048576',
  '-Wl,--strip-debug',
]

export interface Project {
  slug: string
  binary: string
  dir: string
}

const root = import.meta.dir

/** Every directory of wasm-projects/ that has a project.json, by slug. */
export async function listProjects(): Promise<Project[]> {
  const projects: Project[] = []
  for (const entry of (await readdir(root, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory()) continue
    const dir = join(root, entry.name)
    const file = Bun.file(join(dir, 'project.json'))
    if (!(await file.exists())) continue
    const meta = (await file.json()) as { slug: string; binary: string }
    projects.push({ slug: meta.slug, binary: meta.binary, dir })
  }
  return projects
}

/** Compiles one project and returns the .wasm bytes; clang's diagnostics are passed through. */
export async function compileProject(project: Project): Promise<Uint8Array> {
  // why: `commands.clang` is the typed face of runClang (which api.d.ts does not declare); it prepends 'clang'.
  const { commands } = await loadClang()
  const names = (await readdir(join(project.dir, 'src'))).filter((n) => n.endsWith('.c') || n.endsWith('.h')).sort()
  const src: Record<string, string> = {}
  for (const name of names) src[name] = await readFile(join(project.dir, 'src', name), 'utf8')
  const sources = names.filter((n) => n.endsWith('.c')).map((n) => `src/${n}`)
  const output = `${project.binary}.wasm`
  const args = [...CFLAGS, ...WASI_FLAGS, '-o', output, ...sources, '-lm']
  const decoder = new TextDecoder()
  let diagnostics = ''
  const collect = (bytes: Uint8Array | null) => {
    if (bytes) diagnostics += decoder.decode(bytes, { stream: true })
  }
  try {
    const files = await commands.clang(args, { src }, { stdout: collect, stderr: collect, fetchProgress: () => {} })
    const wasm = files?.[output]
    if (!(wasm instanceof Uint8Array)) throw new Error(`clang produced no ${output}`)
    if (diagnostics) process.stderr.write(diagnostics)
    return wasm
  } catch (error) {
    process.stderr.write(diagnostics)
    throw new Error(`${project.slug}: compilation failed (${error instanceof Error ? error.message : String(error)})`)
  }
}

export function prebuiltPath(project: Project): string {
  return join(project.dir, 'prebuilt', `${project.binary}.wasm`)
}

async function main(argv: string[]): Promise<number> {
  const check = argv.includes('--check')
  const only = argv.filter((a) => !a.startsWith('--'))
  const projects = (await listProjects()).filter((p) => only.length === 0 || only.includes(p.slug))
  const unknown = only.filter((slug) => !projects.some((p) => p.slug === slug))
  if (unknown.length > 0) {
    console.error(`unknown project: ${unknown.join(', ')}`)
    return 2
  }
  const outDir = check ? await mkdtemp(join(tmpdir(), 'wasm-check-')) : null
  const differing: string[] = []
  console.log(
    `${check ? 'checking' : 'building'} ${projects.length} projects with @yowasp/clang (first compile loads LLVM)`,
  )
  try {
    for (const project of projects) {
      const started = performance.now()
      const wasm = await compileProject(project)
      const seconds = ((performance.now() - started) / 1000).toFixed(1)
      const committed = prebuiltPath(project)
      const size = `${(wasm.byteLength / 1024).toFixed(1)} KiB`
      if (outDir) {
        const rebuilt = join(outDir, project.slug, `${project.binary}.wasm`)
        await mkdir(join(outDir, project.slug), { recursive: true })
        await writeFile(rebuilt, wasm)
        const file = Bun.file(committed)
        const same = (await file.exists()) && Buffer.from(await file.arrayBuffer()).equals(wasm)
        if (!same) differing.push(committed)
        console.log(`${project.slug}: ${same ? 'identical' : 'DIFFERS'} ${project.binary}.wasm (${size}, ${seconds} s)`)
      } else {
        await mkdir(join(project.dir, 'prebuilt'), { recursive: true })
        await writeFile(committed, wasm)
        console.log(`${project.slug}: wrote prebuilt/${project.binary}.wasm (${size}, ${seconds} s)`)
      }
    }
  } finally {
    if (outDir) await rm(outDir, { recursive: true, force: true })
  }
  if (differing.length > 0) {
    console.error(
      `committed binaries differ from their rebuild (run \`bun run wasm:build\`):\n  ${differing.join('\n  ')}`,
    )
    return 1
  }
  return 0
}

if (import.meta.main) {
  process.exitCode = await main(Bun.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error)
    return 1
  })
}
