import { For, Match, Switch } from 'solid-js'
import { inline } from '../../components/inline-markdown.tsx'

/**
 * A live preview of the markdown being typed, built as DOM nodes — never innerHTML — so nothing the
 * author types can run. It covers the common subset (headings, paragraphs, lists, quotes, code,
 * emphasis, links); raw HTML shows as text. The server's sanitized rendering (shown after save) is
 * the real thing.
 */

type Block =
  | { kind: 'heading'; level: number; text: string }
  | { kind: 'code'; text: string }
  | { kind: 'list'; ordered: boolean; items: string[] }
  | { kind: 'quote'; text: string }
  | { kind: 'rule' }
  | { kind: 'para'; text: string }

export function parseBlocks(markdown: string): Block[] {
  const lines = markdown.replace(/\r\n?/g, '\n').split('\n')
  const blocks: Block[] = []
  let i = 0
  while (i < lines.length) {
    const line = lines[i]!
    if (line.trim() === '') {
      i++
      continue
    }
    const fence = /^(```|~~~)/.exec(line)
    if (fence) {
      const body: string[] = []
      i++
      while (i < lines.length && !lines[i]!.startsWith(fence[1]!)) body.push(lines[i++]!)
      i++
      blocks.push({ kind: 'code', text: body.join('\n') })
      continue
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line)
    if (heading) {
      blocks.push({ kind: 'heading', level: heading[1]!.length, text: heading[2]! })
      i++
      continue
    }
    if (/^(\*\s*\*\s*\*|-\s*-\s*-)[\s*-]*$/.test(line)) {
      blocks.push({ kind: 'rule' })
      i++
      continue
    }
    const item = /^\s*([-*+]|\d+[.)])\s+/
    if (item.test(line)) {
      const ordered = /^\s*\d/.test(line)
      const items: string[] = []
      while (i < lines.length && item.test(lines[i]!)) items.push(lines[i++]!.replace(item, ''))
      blocks.push({ kind: 'list', ordered, items })
      continue
    }
    if (line.startsWith('>')) {
      const body: string[] = []
      while (i < lines.length && lines[i]!.startsWith('>')) body.push(lines[i++]!.replace(/^>\s?/, ''))
      blocks.push({ kind: 'quote', text: body.join(' ') })
      continue
    }
    const body: string[] = []
    while (i < lines.length && lines[i]!.trim() !== '' && !/^(#{1,6}\s|```|~~~|>)/.test(lines[i]!))
      body.push(lines[i++]!)
    blocks.push({ kind: 'para', text: body.join(' ') })
  }
  return blocks
}

export function MarkdownPreview(props: { markdown: string }) {
  const blocks = () => parseBlocks(props.markdown)
  return (
    <div class="prose">
      <For each={blocks()} fallback={<p class="muted">Nothing to preview yet.</p>}>
        {(b) => (
          <Switch>
            <Match when={b.kind === 'heading' && b}>
              {(h) => {
                const level = h().level
                const content = inline(h().text)
                return level <= 1 ? (
                  <h1>{content}</h1>
                ) : level === 2 ? (
                  <h2>{content}</h2>
                ) : level === 3 ? (
                  <h3>{content}</h3>
                ) : (
                  <h4>{content}</h4>
                )
              }}
            </Match>
            <Match when={b.kind === 'code' && b}>
              {(c) => (
                <pre>
                  <code>{c().text}</code>
                </pre>
              )}
            </Match>
            <Match when={b.kind === 'list' && b}>
              {(l) =>
                l().ordered ? (
                  <ol>
                    <For each={l().items}>{(it) => <li>{inline(it)}</li>}</For>
                  </ol>
                ) : (
                  <ul>
                    <For each={l().items}>{(it) => <li>{inline(it)}</li>}</For>
                  </ul>
                )
              }
            </Match>
            <Match when={b.kind === 'quote' && b}>{(q) => <blockquote>{inline(q().text)}</blockquote>}</Match>
            <Match when={b.kind === 'rule'}>
              <hr />
            </Match>
            <Match when={b.kind === 'para' && b}>{(p) => <p>{inline(p().text)}</p>}</Match>
          </Switch>
        )}
      </For>
    </div>
  )
}
