import type { RunnerKind } from '@shellfolio/runner/terminal-protocol'
import { unwrap, v1 } from '../../lib/api.ts'

/** Every flag evaluated for this visitor (on/off), e.g. `terminal.enabled`. */
export async function fetchEvaluatedFlags(): Promise<Record<string, boolean>> {
  return (await unwrap(v1.flags.evaluated.get())).data
}

type Granted = Awaited<ReturnType<typeof requestSession>>
/** A session granted: the ticket the WebSocket redeems (docs/terminal-protocol.md); the API's shape. */
export type IssuedTicket = Exclude<Granted, { status: 'waiting' }>
/** A place in the waiting line (docs/terminal-protocol.md, "Waiting for a slot"); the API's shape. */
export type QueuePlace = Extract<Granted, { status: 'waiting' }>

/** Asks for a session, willing to wait: a ticket, or a place in line when the deployment is full. */
export async function requestSession(body: { project: string; runner: RunnerKind; origin?: string | undefined }) {
  const { origin, ...rest } = body
  return (await unwrap(v1.terminal.sessions.post({ ...rest, ...(origin ? { origin } : {}), queue: true }))).data
}

/** A place's poll (its heartbeat): still waiting, or the ticket once a slot is ours. */
export async function pollPlace(id: string) {
  return (await unwrap(v1.terminal.queue({ id }).get())).data
}

/**
 * Gives up a place. `keepalive` lets it outlive the page (pagehide); a place not polled is dropped by
 * the server anyway after `leaveAfterMs`.
 */
export function leavePlace(id: string): void {
  void fetch(`/api/v1/terminal/queue/${encodeURIComponent(id)}`, { method: 'DELETE', keepalive: true }).catch(() => {})
}
