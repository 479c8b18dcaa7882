import { resolve } from 'node:path'
import { build, defineConfig, type Plugin } from 'vite'
import solid from 'vite-plugin-solid'
import { compressBuild } from './scripts/compress.ts'

/**
 * Every client build (`bun run build`, the e2e builds) also writes what the API serves it with:
 * the server-render bundle in `<outDir>/server/entry-server.js` (src/entry-server.tsx, same mode)
 * and the `.br`/`.gz` twin of every text asset.
 */
function serverRender(): Plugin {
  let root = ''
  let outDir = ''
  let mode = ''
  let ssr = false
  return {
    name: 'shellfolio:server-render',
    apply: 'build',
    configResolved(config) {
      root = config.root
      outDir = resolve(config.root, config.build.outDir)
      mode = config.mode
      ssr = Boolean(config.build.ssr)
    },
    async closeBundle() {
      if (ssr) return
      await build({
        root,
        mode,
        configFile: resolve(root, 'vite.config.ts'),
        logLevel: 'warn',
        build: { ssr: 'src/entry-server.tsx', outDir: resolve(outDir, 'server'), emptyOutDir: true },
      })
      const { files, before, after } = compressBuild(outDir)
      this.info?.(
        `precompressed ${files} files: ${Math.round(before / 1024)} KiB → ${Math.round(after / 1024)} KiB (br)`,
      )
    },
  }
}

/**
 * The browser runner's workers bundle the server's WASI shell a second time (docs/runners.md, "The
 * browser runner"): its few reads of the project's folder (`node:fs`, `node:path`) go to the
 * project's files fetched by the worker (runner/src/browser/host-fs.ts). Workers only: nothing
 * else in the client may reach Node modules.
 */
function browserRunnerModules(): Plugin {
  const map: Record<string, string> = {
    'node:fs': resolve(import.meta.dirname, '../runner/src/browser/host-fs.ts'),
    'node:path': resolve(import.meta.dirname, '../runner/src/browser/node-path.ts'),
  }
  return {
    name: 'shellfolio:browser-runner-modules',
    enforce: 'pre',
    resolveId(id) {
      return map[id]
    },
  }
}

/** Cross-origin isolation in development, as the API serves it (api/src/web/index.ts). */
const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
}

export default defineConfig({
  worker: {
    format: 'es',
    plugins: () => [browserRunnerModules()],
  },
  // ssr: components compile to hydratable DOM code for the browser and to string templates for the
  // server bundle, which the API imports to render every public page.
  plugins: [solid({ ssr: true }), serverRender()],
  build: {
    target: 'es2022',
    // No inline scripts or styles under our CSP: keep every asset a file.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  ssr: {
    // One self-contained file the API loads with a plain import (solid-js's server build inside).
    noExternal: true,
  },
  server: {
    headers: ISOLATION_HEADERS,
    proxy: {
      '/api': { target: 'http://127.0.0.1:3000', ws: true },
      '/healthz': 'http://127.0.0.1:3000',
    },
  },
})
