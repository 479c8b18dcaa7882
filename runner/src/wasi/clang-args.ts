/**
 * How a visitor's `cc …` becomes clang's arguments, shared by the server's Toolchain (toolchain.ts)
 * and the browser runner's compiler (runner/src/browser/clang-compiler.ts), so a program built in
 * the tab is the one the server builds (docs/runners.md, "The browser runner"). Plain TypeScript:
 * bundled into the browser's shell worker too.
 */

/** Default cap on a program's linear memory (also applied to precompiled binaries). */
export const DEFAULT_MEMORY_LIMIT = 256 * 1024 * 1024

/** Flags that only make sense for a native target; silently dropped for wasm32-wasip1. */
const DROPPED_FLAGS = new Set(['-march=native', '-mtune=native', '-pthread', '-lpthread', '-fPIE', '-pie', '-no-pie'])

/** Where the toolchain's own files (the cwd shim) sit in the compiler's view of the workspace. */
export const HIDDEN_DIR = '.shellfolio-cc'

/** A dependency target (`-MT`/`-MQ`) must be a file name: no text of the visitor's choosing in a makefile. */
const DEP_TARGET = /^[A-Za-z0-9_./+-]{1,255}$/

/**
 * why: wasi-libc emulates the working directory and always starts at `/`; it never asks the host.
 * Linked into every program built here, this constructor moves to `$PWD` (set by the runner) so
 * relative paths like `scenes/demo.rt` or `out.ppm` resolve in the session's current directory.
 */
export const CWD_SHIM = `#include <stdlib.h>
#include <unistd.h>
__attribute__((constructor)) static void shellfolio_enter_pwd(void) {
  const char *pwd = getenv("PWD");
  if (pwd) chdir(pwd);
}
`

/** The command that builds the cwd shim (`shim.c` holding CWD_SHIM) into `shim.o`. */
export const SHIM_ARGS = ['clang', '-O2', '-c', 'shim.c', '-o', 'shim.o']

/** clang's arguments for a visitor's compiler command, or the message refusing it. */
export type ClangCommand = { ok: true; args: string[]; linking: boolean } | { ok: false; message: string }

/**
 * The arguments clang runs with for `argv` (`cc -O2 -c -o x.o x.c`): native-only flags dropped, a
 * dependency target checked and, for a link, the cwd shim (`HIDDEN_DIR/cwd.o`) and the program's
 * memory cap and stack size added.
 */
export function clangArgs(argv: string[], memoryLimit = DEFAULT_MEMORY_LIMIT): ClangCommand {
  const args = ['clang', '-fcolor-diagnostics']
  const rest = argv.slice(1)
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!
    if (DROPPED_FLAGS.has(arg)) continue
    if (arg.startsWith('--target=') || arg.startsWith('-fsanitize')) continue
    const dep = /^-M[TQ]$/.exec(arg) ? rest[i + 1] : /^-M[TQ](.+)$/.exec(arg)?.[1]
    if (/^-M[TQ]/.test(arg) && (dep === undefined || !DEP_TARGET.test(dep))) {
      return { ok: false, message: `${argv[0]}: error: ${arg.slice(0, 3)} takes a file name in this sandbox\n` }
    }
    args.push(arg)
  }
  const linking = !argv.some((a) => a === '-c' || a === '-S' || a === '-E' || a === '-M' || a === '-MM')
  const inputs = rest.filter((a) => !a.startsWith('-'))
  if (argv.length < 2 || inputs.length === 0) return { ok: false, message: `${argv[0]}: fatal error: no input files\n` }
  if (linking) args.push(`${HIDDEN_DIR}/cwd.o`, `-Wl,--max-memory=${memoryLimit}`, '-Wl,-z,stack-size=1048576')
  return { ok: true, args, linking }
}
