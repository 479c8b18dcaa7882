import { A } from '@solidjs/router'
import { PageHead } from '../../lib/head.tsx'
import { ArchitectureDiagram } from './diagram.tsx'

export default function ArchitecturePage() {
  return (
    <div class="page narrow">
      <PageHead
        title="How it works"
        description="How this site runs your programs: one Bun process, a sandboxed terminal per visitor, Docker or WebAssembly."
        path="/architecture"
      />
      <h1>How it works</h1>
      <p class="lead">
        One Bun process serves this site, its API and the live terminals. The same code scales out to several instances
        sharing PostgreSQL, Redis, S3 and Docker engines.
      </p>
      <ArchitectureDiagram />

      <h2>A terminal, from click to pixels</h2>
      <ol class="steps">
        <li>
          <strong>Create a session.</strong> The page asks the API for a session (
          <code>POST /api/v1/terminal/sessions</code>) and gets a single-use, short-lived ticket.
        </li>
        <li>
          <strong>Attach.</strong> The page opens a WebSocket with the ticket. Your keystrokes travel as binary frames;
          resize, acknowledgements and pings as small JSON messages.
        </li>
        <li>
          <strong>Run.</strong> The runner starts your session: a locked-down Docker container (no network, read-only
          root, memory, CPU and process limits), or a WebAssembly shell under WASI that needs no Docker at all. Both
          refuse commands outside the project's allowlist with a clear message.
        </li>
        <li>
          <strong>Stream back.</strong> Output returns as raw bytes that xterm.js decodes and paints. The page
          acknowledges what it has drawn, so a program that prints forever never freezes your tab: the server pauses it
          until the page catches up.
        </li>
        <li>
          <strong>Survive a drop.</strong> If the connection breaks (or you reload the page), the page reconnects with a
          resume token; the session is still there and the recent screen is replayed.
        </li>
      </ol>

      <h2>The rest of the site</h2>
      <ul>
        <li>
          Every API answer has one shape, <code>{'{ data, meta, error }'}</code>, and errors carry a stable code the
          page turns into plain words.
        </li>
        <li>Posts are written in Markdown and rendered to sanitized HTML by the server when they are saved.</li>
        <li>Admins sign in with short-lived access tokens and rotating refresh tokens; signing out revokes both.</li>
        <li>The page runs under a strict Content Security Policy: scripts only from this origin, no inline script.</li>
      </ul>
      <p>
        Ready? <A href="/projects">Open a project</A> and type <code>make</code>.
      </p>
    </div>
  )
}
