/**
 * The browser runner's shared half (docs/runners.md, "The browser runner"): the WASI shell's host
 * for a Web Worker. Imported by the web client's shell worker; the modules under ../wasi that it
 * reaches are the server's own (bundled a second time), with `node:fs` mapped to host-fs.ts.
 */
export { FsError, MemFs } from '../wasi/memfs.ts'
export type { ProgramControl, ProgramEnd, ProgramLauncher, ProgramStart } from '../wasi/platform.ts'
export { BrowserCompiler, type BrowserCompilerLimits } from './clang-compiler.ts'
export {
  BROWSER_LIMITS,
  BrowserShellHost,
  type BrowserShellOptions,
  type FromBrowserShell,
  PROJECT_ROOT,
  type ToBrowserShell,
} from './shell-host.ts'
export { readTar, type TarEntry } from './tar.ts'
