/**
 * A clang process for the WASI runner's Toolchain (toolchain.ts): runs one compile at a time with
 * @yowasp/clang and keeps LLVM loaded for the next. It is a process, not a worker thread, because
 * under Bun a worker running WebAssembly cannot be stopped: a compile past its time limit, or one
 * the visitor cancels with Ctrl-C, is ended by SIGKILL and its slot is free at once.
 *
 * Protocol (Bun IPC, structured clone): parent → child ClangJob; child → parent `ready`, then
 * ClangReply `output`* and `done` per job. `ready` comes once LLVM is loaded.
 */

import { load, runClangHere } from './clang-run.ts'
import type { Tree } from './memfs.ts'
import { dieWithParent } from './proc-stats.ts'

export type ClangJob = { id: number; args: string[]; tree: Tree }
export type ClangReply =
  | { id: 0; kind: 'ready' }
  | { id: number; kind: 'output'; bytes: Uint8Array }
  | { id: number; kind: 'done'; code: number; tree: Tree }

async function main(): Promise<void> {
  const send = (reply: ClangReply) => process.send?.(reply)
  process.on('message', async (job: ClangJob) => {
    const result = await runClangHere(job.args, job.tree, (bytes) => send({ id: job.id, kind: 'output', bytes }))
    send({ id: job.id, kind: 'done', code: result.code, tree: result.tree })
  })
  // the parent went away: nothing left to serve (and the kernel kills a busy one: dieWithParent)
  process.on('disconnect', () => process.exit(0))
  dieWithParent()
  // ready means LLVM is loaded: a compile's time limit counts clang's work, not this start-up
  await load()
  send({ id: 0, kind: 'ready' })
}

if (import.meta.main) await main()
