import { createContext, onMount, type ParentProps, useContext } from 'solid-js'
import { createStore } from 'solid-js/store'
import { connectAuth, unwrap, v1 } from './api.ts'
import type { Me, TokenPair } from './contract.ts'
import { ApiError } from './errors.ts'

/**
 * Admin authentication: a store behind a context (`useAuth()`).
 * The access token lives in memory only; the refresh token in sessionStorage so a reload of the
 * tab stays signed in while a new tab, or a closed browser, does not.
 */

const REFRESH_KEY = 'shellfolio.refreshToken'
/** Refresh this long before the access token expires, so a request never carries a stale one. */
const EARLY_MS = 15_000

interface AuthState {
  status: 'unknown' | 'signed-out' | 'signed-in'
  user: Me | null
}

interface Tokens {
  access?: string
  accessExpiresAt: number
}

function createAuth() {
  const [state, setState] = createStore<AuthState>({
    status: sessionStorage.getItem(REFRESH_KEY) ? 'unknown' : 'signed-out',
    user: null,
  })
  const tokens: Tokens = { accessExpiresAt: 0 }
  let inflight: Promise<boolean> | undefined

  const store = (pair: TokenPair) => {
    tokens.access = pair.accessToken
    tokens.accessExpiresAt = Date.now() + pair.expiresIn * 1000
    sessionStorage.setItem(REFRESH_KEY, pair.refreshToken)
  }
  const forget = () => {
    tokens.access = undefined
    tokens.accessExpiresAt = 0
    sessionStorage.removeItem(REFRESH_KEY)
    setState({ status: 'signed-out', user: null })
  }

  /** One refresh at a time: concurrent 401s all wait on the same rotation (reuse detection). */
  const refresh = (): Promise<boolean> => {
    inflight ??= (async () => {
      const refreshToken = sessionStorage.getItem(REFRESH_KEY)
      if (!refreshToken) return false
      try {
        const pair = await unwrap(v1.auth.refresh.post({ refreshToken }))
        store(pair.data)
        return true
      } catch (err) {
        // A transport failure keeps the refresh token for the next try; a refusal signs out.
        if (err instanceof ApiError && err.status >= 400 && err.status < 500) forget()
        return false
      }
    })().finally(() => {
      inflight = undefined
    })
    return inflight
  }

  const accessToken = async (): Promise<string | undefined> => {
    if (inflight) await inflight
    if (tokens.access && Date.now() < tokens.accessExpiresAt - EARLY_MS) return tokens.access
    if (!sessionStorage.getItem(REFRESH_KEY)) return undefined
    await refresh()
    return tokens.access
  }

  connectAuth({ accessToken, refresh })

  const loadMe = async () => {
    const me = await unwrap(v1.auth.me.get())
    setState({ status: 'signed-in', user: me.data })
  }

  return {
    state,
    accessToken,
    refresh,
    async signIn(email: string, password: string) {
      const pair = await unwrap(v1.auth.token.post({ email, password }))
      store(pair.data)
      await loadMe()
    },
    async signOut() {
      const refreshToken = sessionStorage.getItem(REFRESH_KEY) ?? undefined
      try {
        await unwrap(v1.auth.logout.post({ refreshToken }))
      } catch {
        // Signing out locally matters more than telling the server; the tokens expire anyway.
      }
      forget()
    },
    /** Restores a session after a reload (refresh token in sessionStorage). */
    async restore() {
      if (!sessionStorage.getItem(REFRESH_KEY)) return
      try {
        if (await refresh()) await loadMe()
        else forget()
      } catch {
        forget()
      }
    },
  }
}

type Auth = ReturnType<typeof createAuth>

const AuthContext = createContext<Auth>()

export function AuthProvider(props: ParentProps) {
  const auth = createAuth()
  onMount(() => void auth.restore())
  return <AuthContext.Provider value={auth}>{props.children}</AuthContext.Provider>
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext)
  if (!auth) throw new Error('useAuth() needs an <AuthProvider> above it')
  return auth
}
