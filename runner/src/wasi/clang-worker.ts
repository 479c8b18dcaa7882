/**
 * Worker thread running clang, so a compile (100-300 ms, ~2 s for the first one) never blocks the
 * event loop that echoes every session's keystrokes.
 */

import { runClangHere } from './clang-run.ts'
import type { Tree } from './memfs.ts'

declare const self: Worker

export type ClangJob = { id: number; args: string[]; tree: Tree }
export type ClangReply =
  | { id: number; kind: 'output'; bytes: Uint8Array }
  | { id: number; kind: 'done'; code: number; tree: Tree }

self.onmessage = async (event: MessageEvent<ClangJob>) => {
  const { id, args, tree } = event.data
  const result = await runClangHere(args, tree, (bytes) => {
    self.postMessage({ id, kind: 'output', bytes } satisfies ClangReply)
  })
  self.postMessage({ id, kind: 'done', code: result.code, tree: result.tree } satisfies ClangReply)
}
