import { createSignal, For, onCleanup } from 'solid-js'

/**
 * The on-screen key bar for phones and tablets (shown on coarse pointers, see styles.css): the keys
 * a touch keyboard lacks. Ctrl is sticky: tap it, then a letter on the phone's keyboard sends the
 * control character (Ctrl then c is ^C). Arrows follow the terminal's cursor-key mode, as a
 * hardware keyboard's do in xterm.js. The buttons never take the focus from the terminal, so the
 * phone's keyboard stays open.
 */
export interface KeyBarTarget {
  send(data: string): void
  /** True when the program asked for application cursor keys (DECCKM): arrows send ESC O x. */
  applicationCursor(): boolean
  focus(): void
}

const ARROWS = [
  { label: '←', name: 'Left', code: 'D' },
  { label: '↑', name: 'Up', code: 'A' },
  { label: '↓', name: 'Down', code: 'B' },
  { label: '→', name: 'Right', code: 'C' },
] as const

const CHARS = ['|', '~', '/', '-'] as const

/** A printable key turned into its control character (`c` → ^C, `[` → ESC), or undefined. */
export function controlOf(data: string): string | undefined {
  if (data.length !== 1) return undefined
  const code = data.toUpperCase().charCodeAt(0)
  if (code >= 0x40 && code <= 0x5f) return String.fromCharCode(code & 0x1f) // @ A–Z [ \ ] ^ _
  if (data === '?') return '\x7f'
  return undefined
}

export function createKeyBar(target: KeyBarTarget) {
  const [ctrl, setCtrl] = createSignal(false)

  /** Keys typed on the phone's keyboard pass through here: with Ctrl armed, one becomes a control key. */
  const filter = (data: string): string => {
    if (!ctrl()) return data
    const control = controlOf(data)
    if (control === undefined) return data
    setCtrl(false)
    return control
  }

  const press = (data: string) => {
    target.send(ctrl() ? (controlOf(data) ?? data) : data)
    setCtrl(false)
    target.focus()
  }

  function KeyBar() {
    // A tap must not move the focus (it would close the phone's keyboard): act on pointerdown.
    const key = (label: string, name: string, act: () => void, pressed?: () => boolean) => (
      <button
        type="button"
        class="key"
        aria-label={name}
        aria-pressed={pressed ? pressed() : undefined}
        onPointerDown={(ev) => {
          ev.preventDefault()
          act()
        }}
        onClick={(ev) => {
          // Keyboard or assistive activation (no pointerdown came first).
          if (ev.detail === 0) act()
        }}
      >
        {label}
      </button>
    )
    onCleanup(() => setCtrl(false))
    return (
      <div class="key-bar" role="toolbar" aria-label="Terminal keys">
        {key('Esc', 'Escape', () => press('\x1b'))}
        {key('Tab', 'Tab', () => press('\t'))}
        {key(
          'Ctrl',
          'Control',
          () => {
            setCtrl(!ctrl())
            target.focus()
          },
          ctrl,
        )}
        <For each={ARROWS}>
          {(a) => key(a.label, a.name, () => press(`\x1b${target.applicationCursor() ? 'O' : '['}${a.code}`))}
        </For>
        <For each={CHARS}>{(c) => key(c, c, () => press(c))}</For>
      </div>
    )
  }

  return { KeyBar, filter, ctrl }
}
