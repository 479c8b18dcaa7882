import { createContext, onMount, type ParentProps, useContext } from 'solid-js'
import { createStore } from 'solid-js/store'
import { connectAuth, unwrap, v1 } from './api.ts'
import type { Me } from './contract.ts'
import { ApiError } from './errors.ts'
import { TokenKeeper } from './token-keeper.ts'

/**
 * Admin authentication: a store behind a context (`useAuth()`).
 * The access token lives in memory only; the refresh token in sessionStorage so a reload of the
 * tab stays signed in while a new tab, or a closed browser, does not.
 */

interface AuthState {
  status: 'unknown' | 'signed-out' | 'signed-in'
  user: Me | null
}

/** A server render has no session: nobody is signed in there. */
const NO_STORAGE = { getItem: () => null, setItem: () => {}, removeItem: () => {} }

function createAuth() {
  const storage = typeof sessionStorage === 'undefined' ? NO_STORAGE : sessionStorage
  const [state, setState] = createStore<AuthState>({
    status: storage.getItem('shellfolio.refreshToken') ? 'unknown' : 'signed-out',
    user: null,
  })
  const keeper = new TokenKeeper({
    storage,
    rotate: async (refreshToken) => (await unwrap(v1.auth.refresh.post({ refreshToken }))).data,
    classify: (err) => (err instanceof ApiError && err.status >= 400 && err.status < 500 ? 'refused' : 'unreachable'),
    onSignedOut: () => setState({ status: 'signed-out', user: null }),
  })
  const accessToken = () => keeper.accessToken()
  const refresh = () => keeper.refresh()
  const forget = () => {
    keeper.forget()
    setState({ status: 'signed-out', user: null })
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
      keeper.store(pair.data)
      await loadMe()
    },
    async signOut() {
      const refreshToken = keeper.refreshToken
      try {
        await unwrap(v1.auth.logout.post({ refreshToken }))
      } catch {
        // Signing out locally matters more than telling the server; the tokens expire anyway.
      }
      forget()
    },
    /** Restores a session after a reload (refresh token in sessionStorage). */
    async restore() {
      if (!keeper.hasRefreshToken) return
      try {
        if (await refresh()) await loadMe()
        // Refused: the keeper already signed out. Unreachable: keep the token for a later try.
        else setState({ status: 'signed-out', user: null })
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
