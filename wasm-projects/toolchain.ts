/**
 * The WebAssembly toolchain, loaded from the runner workspace that pins it (@yowasp/clang to compile,
 * @wasmer/sdk to run). wasm-projects is not a workspace of its own, so the packages are resolved from
 * runner/ explicitly — through their `exports` maps, as an ordinary import would.
 */
import { join } from 'node:path'

const runnerDir = join(import.meta.dir, '..', 'runner')

type Clang = typeof import('../runner/node_modules/@yowasp/clang/lib/api')
type WasmerSdk = typeof import('../runner/node_modules/@wasmer/sdk/dist/node')

/**
 * @yowasp/clang: Clang/LLD compiled to WebAssembly, targeting wasm32-wasip1 by default. The ~100 MB of
 * LLVM are loaded here, once per process, so compiles never print download progress.
 */
export async function loadClang(): Promise<Clang> {
  const clang = (await import(Bun.resolveSync('@yowasp/clang', runnerDir))) as Clang
  // why: runClang's first step (`clang -###`) ignores `fetchProgress` and logs every percent;
  // calling runLLVM without arguments only fetches the resources, silently.
  await clang.runLLVM(undefined, {}, { fetchProgress: () => {} })
  return clang
}

/** The Node entry point of @wasmer/sdk (`@wasmer/sdk/node`), which also works in Bun. */
export async function loadWasmer(): Promise<WasmerSdk> {
  return (await import(Bun.resolveSync('@wasmer/sdk/node', runnerDir))) as WasmerSdk
}
