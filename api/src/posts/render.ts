import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { Marked } from 'marked'
import sanitizeHtml from 'sanitize-html'

/** The part of highlight.js used here. */
interface Highlighter {
  registerLanguage(name: string, language: unknown): void
  getLanguage(name: string): unknown
  highlight(code: string, options: { language: string; ignoreIllegals: boolean }): { value: string }
}

// why: highlight.js's typings carry `/// <reference lib="dom" />`, which would put the DOM's stream
// types over Bun's in the whole api project; loading it through require keeps them out.
const load = createRequire(import.meta.url)
const hljs = load('highlight.js/lib/core') as Highlighter

// The languages a portfolio of small programs shows; others render as plain (escaped) code.
for (const name of [
  'bash',
  'c',
  'cpp',
  'diff',
  'go',
  'javascript',
  'json',
  'makefile',
  'python',
  'rust',
  'shell',
  'sql',
  'typescript',
  'xml',
  'yaml',
]) {
  hljs.registerLanguage(name, load(`highlight.js/lib/languages/${name}`))
}

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/** A project slug as the projects feature accepts it. */
const SLUG = /^[a-z0-9][a-z0-9-]{0,99}$/
/** The longest command a runnable block may carry (it is typed into a terminal as is). */
export const RUN_BLOCK_MAX_COMMAND = 2000

/** The state of one render: which projects exist, and the nonce that marks the blocks it wrote itself. */
interface RenderState {
  projects: ReadonlySet<string> | undefined
  nonce: string
}
// why: marked's renderer and sanitize-html's transformTags are fixed options; a render is
// synchronous, so the state of the current one is set around it (renderMarkdown) and read here.
let current: RenderState | undefined

/**
 * A fenced block whose info string is `shellfolio project=<slug>`: the command and a Run button
 * that opens the project's terminal in place (the web client's post enhancer reads `data-project`
 * and `data-command`). An unknown or malformed project renders a message instead of the button;
 * the post still renders. See docs/api.md, "Runnable blocks in posts".
 */
function runBlock(info: string, text: string): string {
  const project = /(?:^|\s)project=(\S*)/.exec(info)?.[1] ?? ''
  const command = text.trim().slice(0, RUN_BLOCK_MAX_COMMAND)
  const mark = ` data-sf-run="${current?.nonce ?? ''}"`
  const code = `<pre><code class="language-shell">${escapeHtml(command)}</code></pre>`
  const known = SLUG.test(project) && (current?.projects?.has(project) ?? true)
  if (!known) {
    const name = project ? `“${escapeHtml(project.slice(0, 100))}”` : '(none given)'
    return (
      `<div class="shellfolio-run shellfolio-run-missing"${mark}${SLUG.test(project) ? ` data-project="${project}"` : ''} data-command="${escapeHtml(command)}">` +
      `<p class="shellfolio-run-message"${mark}>This terminal cannot run: unknown project ${name}.</p>${code}</div>\n`
    )
  }
  return (
    `<div class="shellfolio-run"${mark} data-project="${project}" data-command="${escapeHtml(command)}">` +
    `${code}<button type="button" class="shellfolio-run-button"${mark}>Run</button></div>\n`
  )
}

/**
 * Keeps a runnable block's element (and its data attributes) only when this render wrote it: the
 * same markup typed as raw HTML in a post loses them (docs/api.md, "Runnable blocks in posts").
 */
const trustedOnly =
  (keep: readonly string[]): sanitizeHtml.Transformer =>
  (tagName, attribs) => {
    const trusted = current !== undefined && attribs['data-sf-run'] === current.nonce
    if (!trusted) {
      // A forged button becomes plain text in a span; other tags keep none of the block's attributes.
      return { tagName: tagName === 'button' ? 'span' : tagName, attribs: {} }
    }
    const out: Record<string, string> = {}
    for (const name of keep) if (attribs[name] !== undefined) out[name] = attribs[name]
    return { tagName, attribs: out }
  }

// One private instance: the global `marked` is shared mutable state other code could configure.
const markdown = new Marked({
  gfm: true,
  breaks: false,
  async: false,
  renderer: {
    // An image alone in its paragraph is a figure: the page reserves its box before it loads.
    paragraph({ tokens }) {
      const only = tokens.length === 1 && tokens[0]?.type === 'image'
      const inner = this.parser.parseInline(tokens)
      return only ? `<figure>${inner}</figure>\n` : `<p>${inner}</p>\n`
    },
    // Fenced code is highlighted here, on the server, so the page needs no highlighter script.
    code({ text, lang }) {
      const name = (lang ?? '').trim().split(/\s+/)[0]?.toLowerCase() ?? ''
      if (name === 'shellfolio') return runBlock((lang ?? '').trim(), text)
      const language = name && hljs.getLanguage(name) ? name : undefined
      const body = language ? hljs.highlight(text, { language, ignoreIllegals: true }).value : escapeHtml(text)
      const cls = language ? ` class="hljs language-${language}"` : name ? ` class="language-${escapeHtml(name)}"` : ''
      return `<pre><code${cls}>${body}</code></pre>\n`
    },
  },
})

/** What every heading id in rendered Markdown starts with (as on GitHub). */
export const HEADING_ID_PREFIX = 'user-content-'

/**
 * A heading keeps an `id` (a link target within the post) only as `user-content-<id>`: a written id
 * can then never take the name of an element of the page around it (`root`, `site-data`, a form
 * field's label target) and confuse the page's script (DOM clobbering). Ids that are not short
 * words are dropped.
 */
function prefixId(tagName: string, attribs: sanitizeHtml.Attributes): sanitizeHtml.Tag {
  const { id, ...rest } = attribs
  const bare = id?.startsWith(HEADING_ID_PREFIX) ? id.slice(HEADING_ID_PREFIX.length) : id
  if (!bare || !/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(bare)) return { tagName, attribs: rest }
  return { tagName, attribs: { ...rest, id: `${HEADING_ID_PREFIX}${bare}` } }
}

/**
 * The allowlist the rendered HTML must fit. Anything else (script, style, iframe, svg, form,
 * event handler attributes, style attributes) is dropped; URLs may only be http(s), mailto or
 * relative — never javascript:, data: or vbscript:.
 */
const SANITIZE: sanitizeHtml.IOptions = {
  allowedTags: [
    'h1',
    'h2',
    'h3',
    'h4',
    'h5',
    'h6',
    'p',
    'br',
    'hr',
    'blockquote',
    'pre',
    'code',
    'kbd',
    'samp',
    'em',
    'strong',
    'del',
    's',
    'sup',
    'sub',
    'a',
    'img',
    'ul',
    'ol',
    'li',
    'table',
    'thead',
    'tbody',
    'tr',
    'th',
    'td',
    'input',
    'details',
    'summary',
    'figure',
    'figcaption',
    // Syntax highlighting (classes hljs-*, see allowedClasses).
    'span',
    // Runnable blocks (runBlock): only with the render's nonce, see trustedOnly.
    'div',
    'button',
  ],
  allowedAttributes: {
    a: ['href', 'title', 'rel'],
    img: ['src', 'alt', 'title', 'width', 'height', 'loading'],
    code: ['class'],
    th: ['align'],
    td: ['align'],
    ol: ['start'],
    // GFM task lists render disabled checkboxes.
    input: ['type', 'checked', 'disabled'],
    h1: ['id'],
    h2: ['id'],
    h3: ['id'],
    h4: ['id'],
    div: ['class', 'data-project', 'data-command'],
    button: ['type', 'class'],
    p: ['class'],
  },
  allowedClasses: {
    code: ['hljs', /^language-[A-Za-z0-9_+-]{1,32}$/],
    span: [/^hljs-[a-z_-]{1,40}$/],
    div: ['shellfolio-run', 'shellfolio-run-missing'],
    button: ['shellfolio-run-button'],
    p: ['shellfolio-run-message'],
  },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesByTag: { img: ['http', 'https'] },
  allowedSchemesAppliedToAttributes: ['href', 'src', 'cite'],
  allowProtocolRelative: false,
  disallowedTagsMode: 'discard',
  // Text inside dropped script/style/textarea... is dropped too, not shown as text.
  nonTextTags: ['script', 'style', 'textarea', 'option', 'noscript', 'title', 'iframe', 'svg', 'math', 'template'],
  transformTags: {
    h1: prefixId,
    h2: prefixId,
    h3: prefixId,
    h4: prefixId,
    a: (tagName, attribs) => ({ tagName, attribs: { ...attribs, rel: 'noopener noreferrer' } }),
    img: (tagName, attribs) => ({ tagName, attribs: { ...attribs, loading: 'lazy' } }),
    div: trustedOnly(['class', 'data-project', 'data-command']),
    button: trustedOnly(['type', 'class']),
    p: trustedOnly(['class']),
  },
  exclusiveFilter: (frame) =>
    (frame.tag === 'input' && frame.attribs.type !== 'checkbox') || (frame.tag === 'img' && !frame.attribs.src),
}

export interface RenderOptions {
  /**
   * The slugs of the live projects: a runnable block naming another one renders as "unknown
   * project". Unset: every well-formed slug is taken as known.
   */
  projects?: ReadonlySet<string> | undefined
}

/**
 * Markdown (GitHub-flavoured: tables, task lists, fenced code highlighted on the server, runnable
 * ```` ```shellfolio project=<slug> ```` blocks) to sanitized HTML; run once on write, the result is
 * stored and served as is. The admin editor's preview calls the same function (POST
 * /api/v1/site/preview), so preview and page cannot differ.
 */
export function renderMarkdown(source: string, options: RenderOptions = {}): string {
  const previous = current
  current = { projects: options.projects, nonce: randomBytes(16).toString('base64url') }
  try {
    const html = markdown.parse(source, { async: false }) as string
    return sanitizeHtml(html, SANITIZE).trim()
  } finally {
    current = previous
  }
}
