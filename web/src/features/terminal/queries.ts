import { unwrap, v1 } from '../../lib/api.ts'

/** Every flag evaluated for this visitor (on/off), e.g. `terminal.enabled`. */
export async function fetchEvaluatedFlags(): Promise<Record<string, boolean>> {
  return (await unwrap(v1.flags.evaluated.get())).data
}
