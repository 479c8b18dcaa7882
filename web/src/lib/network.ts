import { createSignal } from 'solid-js'

/**
 * Whether the browser can reach the server: `navigator.onLine` plus what the last request saw
 * (onLine is true on a LAN without internet, so a failed fetch also counts).
 */
// A server render (Bun has a `navigator` without `onLine`) always counts as online.
const [online, setOnline] = createSignal(typeof window === 'undefined' ? true : navigator.onLine)

if (typeof window !== 'undefined') {
  window.addEventListener('online', () => setOnline(true))
  window.addEventListener('offline', () => setOnline(false))
}

export { online }

/** Called by the API client after every attempt. */
export function reportReachable(reachable: boolean): void {
  setOnline(reachable && navigator.onLine)
}
