import type { Command } from '@yowasp/clang'
import type { Tree } from './memfs.ts'

/** why: `runClang` is exported by the bundle but missing from the package's typings. */
type ClangModule = {
  runClang: (args: string[] | null, files?: Tree, options?: Parameters<Command>[2]) => ReturnType<Command>
}

let clang: Promise<ClangModule> | undefined

/** Loads LLVM (~100 MB of WebAssembly) once; later calls reuse it. */
export function load(): Promise<ClangModule> {
  clang ??= (import('@yowasp/clang') as unknown as Promise<ClangModule>).then(async (mod) => {
    // why: the first call fetches ~100 MB of LLVM and logs progress to the console unless a
    // callback is given, and runClang's internal `-###` step never passes one: prefetch quietly
    await mod.runClang(null, {}, { fetchProgress: () => {} })
    return mod
  })
  return clang
}

/** Runs clang (or the linker it drives) over `tree` in this thread; diagnostics go to `output`. */
export async function runClangHere(
  args: string[],
  tree: Tree,
  output: (bytes: Uint8Array) => void,
): Promise<{ code: number; tree: Tree }> {
  const { runClang } = await load()
  const sink = (bytes: Uint8Array | null) => {
    if (bytes && bytes.length > 0) output(bytes)
  }
  try {
    const result = await runClang(args, tree, { stdout: sink, stderr: sink, fetchProgress: () => {} })
    return { code: 0, tree: (result ?? tree) as Tree }
  } catch (error) {
    const e = error as { code?: unknown; files?: Tree; message?: string }
    if (typeof e.code === 'number') return { code: e.code, tree: e.files ?? tree }
    output(new TextEncoder().encode(`cc: internal compiler failure: ${e.message ?? String(error)}\n`))
    return { code: 70, tree }
  }
}
