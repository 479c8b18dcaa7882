import { For } from 'solid-js'

interface Box {
  id: string
  x: number
  y: number
  w: number
  h: number
  title: string
  lines: string[]
  tone: 'client' | 'api' | 'store' | 'runner'
}

const BOXES: Box[] = [
  {
    id: 'browser',
    x: 20,
    y: 20,
    w: 300,
    h: 92,
    title: 'Browser',
    lines: ['SolidJS site · xterm.js', 'Eden Treaty client'],
    tone: 'client',
  },
  {
    id: 'admin',
    x: 440,
    y: 20,
    w: 300,
    h: 92,
    title: 'Admin',
    lines: ['/admin: posts, media, flags', 'sessions, recordings'],
    tone: 'client',
  },
  {
    id: 'api',
    x: 20,
    y: 180,
    w: 720,
    h: 108,
    title: 'API — Elysia on Bun',
    lines: [
      'plugin.http: request ids, CSP, errors → { data, meta, error }',
      'auth · posts · projects · media · flags · terminal · health · web',
    ],
    tone: 'api',
  },
  { id: 'db', x: 20, y: 356, w: 160, h: 84, title: 'PostgreSQL', lines: ['or PGlite'], tone: 'store' },
  { id: 'cache', x: 200, y: 356, w: 160, h: 84, title: 'Redis', lines: ['or in-process'], tone: 'store' },
  { id: 's3', x: 380, y: 356, w: 160, h: 84, title: 'S3', lines: ['or DATA_DIR files'], tone: 'store' },
  { id: 'runner', x: 560, y: 356, w: 180, h: 84, title: 'Runner', lines: ['one interface'], tone: 'runner' },
  { id: 'docker', x: 430, y: 500, w: 150, h: 70, title: 'docker', lines: ['a container each'], tone: 'runner' },
  { id: 'wasi', x: 600, y: 500, w: 140, h: 70, title: 'wasi', lines: ['shell + WASM'], tone: 'runner' },
]

interface Arrow {
  d: string
  label?: string
  lx?: number
  ly?: number
  dashed?: boolean
}

const ARROWS: Arrow[] = [
  { d: 'M110 112 V180', label: 'HTTPS · JSON', lx: 118, ly: 150 },
  { d: 'M250 112 V180', label: 'WebSocket', lx: 258, ly: 150, dashed: true },
  { d: 'M590 112 V180', label: 'JWT (access + refresh)', lx: 598, ly: 150 },
  { d: 'M100 288 V356' },
  { d: 'M280 288 V356' },
  { d: 'M460 288 V356' },
  { d: 'M650 288 V356', dashed: true },
  { d: 'M610 440 L520 500', dashed: true },
  { d: 'M675 440 L670 500', dashed: true },
]

/** How Shellfolio fits together, drawn inline (no external image; follows the page's colours). */
export function ArchitectureDiagram() {
  return (
    <figure class="diagram">
      <svg
        viewBox="0 0 760 590"
        role="img"
        aria-labelledby="diagram-title diagram-desc"
        xmlns="http://www.w3.org/2000/svg"
      >
        <title id="diagram-title">Shellfolio architecture</title>
        <desc id="diagram-desc">
          The browser and the admin talk to one Elysia API over HTTPS with JSON envelopes; terminals use a WebSocket.
          The API stores data in PostgreSQL or PGlite, caches in Redis or in process, keeps media in S3 or on disk, and
          runs sessions through the runner interface, backed by Docker containers or WebAssembly under WASI.
        </desc>
        <defs>
          <marker
            id="arrow"
            viewBox="0 0 10 10"
            refX="9"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto-start-reverse"
          >
            <path d="M0 0 L10 5 L0 10 z" class="diagram-arrowhead" />
          </marker>
        </defs>
        <For each={ARROWS}>
          {(a) => (
            <>
              <path
                d={a.d}
                class={a.dashed ? 'diagram-line dashed' : 'diagram-line'}
                marker-end="url(#arrow)"
                marker-start="url(#arrow)"
              />
              {a.label && (
                <text x={a.lx} y={a.ly} class="diagram-label">
                  {a.label}
                </text>
              )}
            </>
          )}
        </For>
        <For each={BOXES}>
          {(b) => (
            <g class={`diagram-box ${b.tone}`}>
              <rect x={b.x} y={b.y} width={b.w} height={b.h} rx="10" />
              <text x={b.x + 14} y={b.y + 28} class="diagram-title">
                {b.title}
              </text>
              <For each={b.lines}>
                {(line, i) => (
                  <text x={b.x + 14} y={b.y + 52 + i() * 20} class="diagram-text">
                    {line}
                  </text>
                )}
              </For>
            </g>
          )}
        </For>
      </svg>
      <figcaption>
        Solid lines: HTTP requests. Dashed: the live terminal path, from your keystrokes to a sandbox and back.
      </figcaption>
    </figure>
  )
}
