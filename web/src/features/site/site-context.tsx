import { createContext, type ParentProps, useContext } from 'solid-js'
import type { Site } from '../../lib/contract.ts'
import { createSiteProfile } from './queries.ts'

/** Shown only while the profile loads without a server render (the Vite dev server). */
const BLANK: Site = {
  name: '',
  headline: '',
  intro: '',
  introHtml: '',
  avatar: null,
  location: '',
  links: [],
  siteTitle: 'Shellfolio',
  siteDescription: '',
  configured: true,
  updatedAt: null,
}

interface SiteStore {
  /** The current profile (never undefined). */
  profile: () => Site
  /** After the admin saved it: every page shows the new profile at once. */
  replace: (site: Site) => void
}

const SiteContext = createContext<SiteStore>()

/** The owner's profile for the whole app (header, footer, home, link previews). */
export function SiteProvider(props: ParentProps<{ initial?: Site | undefined }>) {
  const [site, { mutate }] = createSiteProfile(props.initial)
  const store: SiteStore = {
    profile: () => (site.state === 'ready' ? site() : BLANK),
    replace: (next) => mutate(() => next),
  }
  return <SiteContext.Provider value={store}>{props.children}</SiteContext.Provider>
}

export function useSite(): SiteStore {
  const site = useContext(SiteContext)
  if (!site) throw new Error('useSite() needs a <SiteProvider> above it')
  return site
}
