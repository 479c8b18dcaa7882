import { existsSync, statSync } from 'node:fs'
import { join, normalize, sep } from 'node:path'
import { Elysia } from 'elysia'
import { NotFoundError, ServiceUnavailableError } from '../http/errors.ts'

/** Paths the single-page app must never shadow: unknown ones there get the JSON 404. */
const RESERVED = /^\/(api|healthz|readyz|metrics)(\/|$)/

/** module.web: serves the built SolidJS app from web/dist, with index.html for client routes. */
export function webModule(distDir: string) {
  const file = (path: string): string | undefined => {
    const full = normalize(join(distDir, path))
    if (!full.startsWith(distDir + sep)) return undefined
    return existsSync(full) && statSync(full).isFile() ? full : undefined
  }
  return new Elysia({ name: 'module.web' }).get(
    '/*',
    ({ path, set }) => {
      if (RESERVED.test(path)) throw new NotFoundError(`no route for GET ${path}`)
      const asset = path !== '/' ? file(decodeURIComponent(path)) : undefined
      if (asset) {
        // Vite puts a content hash in every file under assets/: cache those forever.
        set.headers['cache-control'] = path.startsWith('/assets/')
          ? 'public, max-age=31536000, immutable'
          : 'public, max-age=300'
        return Bun.file(asset)
      }
      const index = file('index.html')
      if (!index) throw new ServiceUnavailableError('the web app is not built; run `bun run build`', 'WEB_NOT_BUILT')
      set.headers['cache-control'] = 'no-cache'
      set.headers['content-type'] = 'text/html; charset=utf-8'
      return Bun.file(index)
    },
    { detail: { hide: true } },
  )
}
