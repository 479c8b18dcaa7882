/**
 * The WASI back end of the runner interface (docs/runners.md): a TypeScript shell over an
 * in-memory workspace, clang-in-WebAssembly for `make`, programs under @wasmer/sdk. No Docker.
 *
 *   const runner = createWasiRunner()
 *   const session = await runner.open({ project, size })
 */
export { createWasiRunner, defaultToolchain, type WasiRunnerOptions } from './runner.ts'
export { WasiSession, type WasiSessionOptions } from './session.ts'
export { Toolchain } from './toolchain.ts'
