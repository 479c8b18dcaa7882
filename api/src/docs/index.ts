import { openapi } from '@elysiajs/openapi'
import { Elysia } from 'elysia'
import { installFastFormats } from '../http/formats.ts'

// Importing the plugin has just registered its Zod-backed format checkers over TypeBox's registry;
// put the precompiled ones back before any route validates a value (api/src/http/formats.ts).
installFastFormats()

// The docs page loads its script from our origin so it works under the strict CSP
// (the plugin's bundled UIs inline scripts and load them from a CDN).
const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shellfolio API</title><link rel="stylesheet" href="/api/docs/docs.css"></head>
<body><main><h1>Shellfolio API</h1><p>Machine-readable: <a href="/api/openapi.json">/api/openapi.json</a></p>
<div id="routes">Loading…</div></main><script src="/api/docs/docs.js"></script></body></html>`

const SCRIPT = `(async () => {
  const root = document.getElementById('routes')
  const res = await fetch('/api/openapi.json')
  const spec = await res.json()
  root.textContent = ''
  for (const [path, ops] of Object.entries(spec.paths || {})) {
    for (const [method, op] of Object.entries(ops)) {
      const details = document.createElement('details')
      const summary = document.createElement('summary')
      const m = document.createElement('code')
      m.className = 'm ' + method
      m.textContent = method.toUpperCase()
      const p = document.createElement('code')
      p.textContent = ' ' + path + ' '
      summary.append(m, p, document.createTextNode(op.summary || ''))
      const pre = document.createElement('pre')
      pre.textContent = JSON.stringify({ parameters: op.parameters, requestBody: op.requestBody, responses: op.responses }, null, 2)
      details.append(summary, pre)
      root.append(details)
    }
  }
})()`

const STYLE = `body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1b1f24}
details{border-bottom:1px solid #ddd;padding:.4rem 0}summary{cursor:pointer}pre{background:#f5f5f5;padding:.5rem;overflow:auto}
.m{display:inline-block;min-width:4.5rem;font-weight:700}.get{color:#05642f}.post{color:#0b4fa8}.delete{color:#a11}.patch,.put{color:#7a4b00}`

/** module.docs: OpenAPI JSON generated from the route schemas, and a small CSP-safe viewer. */
export function docsModule() {
  return new Elysia({ name: 'module.docs' })
    .use(
      openapi({
        provider: null,
        path: '/api/docs',
        specPath: '/api/openapi.json',
        exclude: { paths: [/^\/api\/docs/, '/*'] },
        documentation: {
          info: {
            title: 'Shellfolio API',
            version: '1.0.0',
            description:
              'Portfolio, blog and live terminals. Every JSON response is an envelope { data, meta, error }.',
          },
          components: {
            securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
          },
        },
      }),
    )
    .get(
      '/api/docs',
      ({ set }) => {
        set.headers['content-type'] = 'text/html; charset=utf-8'
        return PAGE
      },
      { detail: { hide: true } },
    )
    .get(
      '/api/docs/docs.js',
      ({ set }) => {
        set.headers['content-type'] = 'text/javascript; charset=utf-8'
        return SCRIPT
      },
      { detail: { hide: true } },
    )
    .get(
      '/api/docs/docs.css',
      ({ set }) => {
        set.headers['content-type'] = 'text/css; charset=utf-8'
        return STYLE
      },
      { detail: { hide: true } },
    )
}
