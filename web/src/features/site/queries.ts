import { createResource } from 'solid-js'
import { unwrap, v1 } from '../../lib/api.ts'
import type { Site } from '../../lib/contract.ts'
import { useContent } from '../../lib/server.ts'

export async function fetchSite(): Promise<Site> {
  return (await unwrap(v1.site.get())).data
}

/**
 * The owner's profile. A server-rendered page carries it (`initial`: read from the page, nothing is
 * fetched); without one (the Vite dev server) it is fetched.
 */
export function createSiteProfile(initial: Site | undefined) {
  const content = useContent()
  return createResource(
    () => initial === undefined,
    () => (content ? content.site() : fetchSite()),
    initial ? { initialValue: initial } : {},
  )
}
