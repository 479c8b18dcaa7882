/**
 * The admin's tokens and their rotation, without Solid or the DOM (unit-tested in web/e2e):
 * the access token in memory, the refresh token in a Storage (sessionStorage in the browser), and
 * ONE in-flight refresh shared by every caller — concurrent 401s must not each rotate the refresh
 * token (the server's reuse detection would revoke the whole family).
 */

export interface TokenPairLike {
  accessToken: string
  refreshToken: string
  expiresIn: number
}

/** Why a refresh failed: `refused` (the server said no: sign out) or `unreachable` (try later). */
export type RefreshFailure = 'refused' | 'unreachable'

export interface TokenKeeperOptions {
  storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>
  /** Calls POST /auth/refresh and returns the new pair (throws on failure). */
  rotate(refreshToken: string): Promise<TokenPairLike>
  /** Decides whether a failed rotation means "signed out" or "try again later". */
  classify(err: unknown): RefreshFailure
  /** Called when the refresh token was refused (the store signs out). */
  onSignedOut(): void
  now?: () => number
}

const REFRESH_KEY = 'shellfolio.refreshToken'
/** Refresh this long before the access token expires, so a request never carries a stale one. */
const EARLY_MS = 15_000

export class TokenKeeper {
  private access: string | undefined
  private accessExpiresAt = 0
  private inflight: Promise<boolean> | undefined
  private readonly now: () => number

  constructor(private readonly options: TokenKeeperOptions) {
    this.now = options.now ?? Date.now
  }

  get hasRefreshToken(): boolean {
    return this.options.storage.getItem(REFRESH_KEY) !== null
  }

  get refreshToken(): string | undefined {
    return this.options.storage.getItem(REFRESH_KEY) ?? undefined
  }

  store(pair: TokenPairLike): void {
    this.access = pair.accessToken
    this.accessExpiresAt = this.now() + pair.expiresIn * 1000
    this.options.storage.setItem(REFRESH_KEY, pair.refreshToken)
  }

  forget(): void {
    this.access = undefined
    this.accessExpiresAt = 0
    this.options.storage.removeItem(REFRESH_KEY)
  }

  /** Rotates the tokens; concurrent callers share the same attempt. False when it failed. */
  refresh(): Promise<boolean> {
    this.inflight ??= (async () => {
      const refreshToken = this.refreshToken
      if (!refreshToken) return false
      try {
        this.store(await this.options.rotate(refreshToken))
        return true
      } catch (err) {
        // A transport failure keeps the refresh token for the next try; a refusal signs out.
        if (this.options.classify(err) === 'refused') {
          this.forget()
          this.options.onSignedOut()
        }
        return false
      }
    })().finally(() => {
      this.inflight = undefined
    })
    return this.inflight
  }

  /** A usable access token, refreshing first when it is missing or about to expire. */
  async accessToken(): Promise<string | undefined> {
    if (this.inflight) await this.inflight
    if (this.access && this.now() < this.accessExpiresAt - EARLY_MS) return this.access
    if (!this.hasRefreshToken) return undefined
    await this.refresh()
    return this.access
  }
}
