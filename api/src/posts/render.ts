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
      const language = name && hljs.getLanguage(name) ? name : undefined
      const body = language ? hljs.highlight(text, { language, ignoreIllegals: true }).value : escapeHtml(text)
      const cls = language ? ` class="hljs language-${language}"` : name ? ` class="language-${escapeHtml(name)}"` : ''
      return `<pre><code${cls}>${body}</code></pre>\n`
    },
  },
})

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
  },
  allowedClasses: { code: ['hljs', /^language-[A-Za-z0-9_+-]{1,32}$/], span: [/^hljs-[a-z_-]{1,40}$/] },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesByTag: { img: ['http', 'https'] },
  allowedSchemesAppliedToAttributes: ['href', 'src', 'cite'],
  allowProtocolRelative: false,
  disallowedTagsMode: 'discard',
  // Text inside dropped script/style/textarea... is dropped too, not shown as text.
  nonTextTags: ['script', 'style', 'textarea', 'option', 'noscript', 'title', 'iframe', 'svg', 'math', 'template'],
  transformTags: {
    a: (tagName, attribs) => ({ tagName, attribs: { ...attribs, rel: 'noopener noreferrer' } }),
    img: (tagName, attribs) => ({ tagName, attribs: { ...attribs, loading: 'lazy' } }),
  },
  exclusiveFilter: (frame) =>
    (frame.tag === 'input' && frame.attribs.type !== 'checkbox') || (frame.tag === 'img' && !frame.attribs.src),
}

/**
 * Markdown (GitHub-flavoured: tables, task lists, fenced code highlighted on the server) to
 * sanitized HTML; run once on write, the result is stored and served as is. The admin editor's
 * preview calls the same function (POST /api/v1/site/preview), so preview and page cannot differ.
 */
export function renderMarkdown(source: string): string {
  const html = markdown.parse(source, { async: false }) as string
  return sanitizeHtml(html, SANITIZE).trim()
}
