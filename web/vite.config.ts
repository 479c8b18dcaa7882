import { defineConfig } from 'vite'
import solid from 'vite-plugin-solid'

export default defineConfig({
  // ssr: components compile to hydratable DOM code for the browser and to string templates for the
  // server bundle (web/src/entry-server.tsx), which the API imports to render every public page.
  plugins: [solid({ ssr: true })],
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
    proxy: {
      '/api': { target: 'http://127.0.0.1:3000', ws: true },
      '/healthz': 'http://127.0.0.1:3000',
    },
  },
})
