/**
 * The messages between a WasiSession (in the API or runner service) and its session host process
 * (session-host.ts), over Bun IPC with structured clone. Both directions are credit-based:
 * input is acknowledged once the shell took it, output once the session's listeners took it, so
 * neither side queues without bound (docs/budgets.md).
 */
import type { FileDownload, FileUpload, PutFilesResult } from '../files.ts'
import type { ProjectSpec, TerminalSize } from '../types.ts'
import type { Tree } from './memfs.ts'

export interface SessionHostInit {
  type: 'init'
  project: ProjectSpec
  env: Record<string, string>
  size: TerminalSize
  programTimeLimitMs: number
  memoryLimit: number
  programMemoryBytes: number
  workspaceBytes: number
  /** Output the host may have sent and not had acknowledged. */
  outputWindow: number
}

/** Runner → session host. */
export type ToSessionHost =
  | SessionHostInit
  | { type: 'input'; seq: number; data: Uint8Array | string; n: number }
  | { type: 'resize'; size: TerminalSize }
  | { type: 'ack'; bytes: number }
  | { type: 'cc-tree?'; id: number }
  | { type: 'cc-out'; id: number; bytes: Uint8Array }
  | { type: 'cc-done'; id: number; code: number; tree?: Tree }
  | { type: 'permit-ok'; id: number }
  /** Files in and out (wasi/files.ts); answered with `files-done` of the same id. */
  | { type: 'files-put'; id: number; dir: string; files: FileUpload[] }
  | { type: 'file-get'; id: number; path: string }

/** Session host → runner. */
export type FromSessionHost =
  | { type: 'ready' }
  | { type: 'out'; bytes: Uint8Array }
  | { type: 'input-ack'; seq: number; n: number }
  | { type: 'exit'; code: number }
  | { type: 'cc'; id: number; argv: string[]; memoryLimit?: number }
  | { type: 'cc-tree'; id: number; tree: Tree }
  | { type: 'cc-cancel'; id: number }
  | { type: 'permit'; id: number }
  | { type: 'permit-release'; id: number }
  | { type: 'pid'; pid: number }
  /** Something the operator should hear of that did not end the session (a crashed program host). */
  | { type: 'incident'; message: string }
  | {
      type: 'files-done'
      id: number
      result?: PutFilesResult | FileDownload
      error?: { code: string; message: string }
    }
