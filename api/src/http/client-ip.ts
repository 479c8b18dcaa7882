/**
 * The client's IP address. Behind `hops` trusted reverse proxies, each proxy appends the address it
 * saw to X-Forwarded-For, so the client is the entry `hops` places from the right; anything further
 * left was written by the client and is never trusted.
 */
export function clientIp(request: Request, socketIp: string | undefined, hops: number): string {
  if (hops > 0) {
    const forwarded = (request.headers.get('x-forwarded-for') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
    const candidate = forwarded[forwarded.length - hops]
    if (candidate && /^[0-9a-fA-F.:]{2,45}$/.test(candidate)) return candidate
  }
  return socketIp ?? 'unknown'
}
