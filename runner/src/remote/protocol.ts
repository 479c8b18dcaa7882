import type { ExitInfo, ExitReason, RunnerKind } from '../types.ts'

/**
 * The internal protocol between an API instance and a runner service (`bun run runner`;
 * docs/terminal-protocol.md, "The internal protocol: API ↔ runner service"). Every request
 * carries `Authorization: Grant <signed grant>` (grant.ts).
 *
 * - `GET /v1/health` (health grant) → `RunnerInfo`.
 * - `GET /v1/sessions` upgraded to a WebSocket (open or attach grant): one socket per session.
 *   The grant says what to open (kind, project, size) or which live session to re-attach; the
 *   service answers `opened` or `error`. Binary frames are terminal bytes both ways; text frames
 *   are the JSON messages below. The service ends with `exit` before closing; a socket that drops
 *   without `exit` means the other side died.
 * - Output is credit-based: the service sends at most `window` bytes (from `opened`) that the API
 *   has not credited, then stops reading the program. The API credits what it has taken and
 *   withholds credit while it has paused the session, so what piles up in the API when its visitor
 *   falls behind is bounded by the window whatever the hop's latency.
 */
export type ClientFrame =
  | { type: 'resize'; cols: number; rows: number }
  /** Flow control: stop / restart reading the program's output. */
  | { type: 'pause' }
  | { type: 'resume' }
  /** The API has taken `bytes` more bytes of output: the service may send that many more. */
  | { type: 'credit'; bytes: number }
  | { type: 'kill'; reason: ExitReason }

export type ServerFrame =
  /**
   * `id` is the service's session id (`<boot>:<session>`), usable in an attach grant; `window` is
   * how many uncredited output bytes the service sends before it waits for `credit`.
   */
  | { type: 'opened'; id: string; host: string; window: number }
  | { type: 'error'; code: string; message: string }
  /**
   * Before `opened`, when the open grant names project files (`bundle`) this service does not have:
   * the API sends the tar's bytes as binary frames, exactly `bundle.bytes` of them (bundle.ts).
   */
  | { type: 'send-project' }
  | { type: 'exit'; info: ExitInfo }

/** A runner service's capacity and health, from `/v1/health` or its registration in Redis. */
export interface RunnerInfo {
  /** Stable name (RUNNER_ID), shown to admins as the session's host. */
  id: string
  /** Random per process start: grants name it, so a restart invalidates earlier grants and sessions. */
  boot: string
  /** The URL it advertises (RUNNER_ADVERTISE_URL); the API matches it against RUNNER_URLS. */
  url: string
  startedAt: number
  /** Sessions it accepts at once (RUNNER_CAPACITY). */
  capacity: number
  /** Live sessions now, attached or waiting for an API instance to re-attach. */
  sessions: number
  /** Which back ends can open sessions now. */
  kinds: Partial<Record<RunnerKind, boolean>>
}

export const SESSIONS_PATH = '/v1/sessions'
export const HEALTH_PATH = '/v1/health'
/** Redis keys (after the prefix): a set of runner ids, and one expiring record per runner. */
export const REGISTRY_SET = 'runners'
export const registryKey = (id: string) => `runner:${id}`
/** A registration expires unless refreshed within this time. */
export const REGISTRATION_TTL_MS = 6_000

export const normalizeUrl = (url: string) => url.trim().replace(/\/+$/, '')
