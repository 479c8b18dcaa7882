import type { JSX } from 'solid-js'

const SAFE_URL = /^(https?:\/\/|\/|#|mailto:)/i

/** Inline markdown → nodes: `code`, **strong**, *em*, [text](url) (http(s), relative, mailto only). */
export function inline(text: string): JSX.Element[] {
  const out: JSX.Element[] = []
  const re = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\*[^*]+\*|_[^_]+_)|(\[[^\]]+\]\([^)\s]+\))/g
  let last = 0
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) out.push(text.slice(last, m.index))
    const token = m[0]
    if (m[1]) out.push(<code>{token.slice(1, -1)}</code>)
    else if (m[2]) out.push(<strong>{token.slice(2, -2)}</strong>)
    else if (m[3]) out.push(<em>{token.slice(1, -1)}</em>)
    else {
      const [, label, href] = /^\[([^\]]+)\]\(([^)\s]+)\)$/.exec(token)!
      out.push(SAFE_URL.test(href!) ? <a href={href}>{label}</a> : `[${label}](${href})`)
    }
    last = m.index + token.length
  }
  if (last < text.length) out.push(text.slice(last))
  return out
}

/** Text with inline markdown (`code`, emphasis, links) rendered as nodes, never as HTML. */
export function InlineMarkdown(props: { text: string }) {
  return <>{inline(props.text)}</>
}
