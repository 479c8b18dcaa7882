/// <reference lib="webworker" />
/**
 * The browser runner's clang worker (docs/runners.md, "The browser runner"): started by the shell
 * worker's compiler on the first compile, it loads LLVM (from the browser's cache after the first
 * visit) and runs clang commands (runner/src/browser/clang-worker.ts).
 */
import { serveClang } from '@shellfolio/runner/browser/clang-worker'

serveClang(self as unknown as DedicatedWorkerGlobalScope)
