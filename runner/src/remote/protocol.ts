import type { ExitInfo, ExitReason, OpenOptions, RunnerKind } from '../types.ts'

/**
 * The internal protocol between the API and a runner service (`bun run runner`, DESIGN.md §7):
 * one WebSocket per session at `/v1/sessions`, authenticated with `Authorization: Bearer <token>`.
 * Binary frames are terminal bytes both ways; text frames are these JSON messages.
 */
export type ClientFrame =
  | { type: 'open'; kind: RunnerKind; options: OpenOptions }
  | { type: 'resize'; cols: number; rows: number }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'kill'; reason: ExitReason }

export type ServerFrame =
  | { type: 'opened'; id: string }
  | { type: 'error'; code: string; message: string }
  | { type: 'exit'; info: ExitInfo }

/** `GET /v1/health` (authenticated): which kinds this service can run now. */
export interface HealthBody {
  kinds: Partial<Record<RunnerKind, boolean>>
}

export const SESSIONS_PATH = '/v1/sessions'
export const HEALTH_PATH = '/v1/health'
