import { createResource } from 'solid-js'
import type { ReplayView } from '../../../../api/src/terminal/replays.ts'
import { unwrap, v1 } from '../../lib/api.ts'
import { ApiError } from '../../lib/errors.ts'
import { useContent } from '../../lib/server.ts'

export type { ReplayView }

/** A public replay, or null when there is none with this id (or it is private). */
export async function fetchReplay(id: string): Promise<ReplayView | null> {
  try {
    return (await unwrap(v1.replays({ id }).get())).data
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null
    throw err
  }
}

/** One public replay by id (the API's services during a server render). */
export function createReplay(id: () => string) {
  const content = useContent()
  return createResource(id, (i) => (content ? content.replay(i) : fetchReplay(i)))
}
