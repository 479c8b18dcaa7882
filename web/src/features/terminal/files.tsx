import type { Terminal } from '@xterm/xterm'
import { createSignal, type JSX, Show } from 'solid-js'
import { messageForCode } from '../../lib/errors.ts'

/**
 * Files in and out of the live session (docs/api.md, "Terminal files"): an upload button and a
 * drop zone over the terminal send files into the session's project folder, and `download FILE`
 * in the shell prints an OSC 6974 sequence this module turns into a download through the API.
 * Both carry the session's resume token, the same secret that reattaches the terminal.
 */

/** `ESC ] 6974 ; download ; <base64 path relative to ~> BEL` (docs/terminal-protocol.md, "Files"). */
const DOWNLOAD_OSC = 6974
/** Mirrors FILE_LIMITS (runner/src/files.ts): refused here before anything is sent. */
const MAX_FILES = 10
const MAX_FILE_BYTES = 8 * 1024 * 1024
const MAX_UPLOAD_BYTES = 32 * 1024 * 1024

export interface FileSession {
  sessionId: string
  resumeToken: string
}

interface Envelope {
  data?: { dir: string; files: { name: string; bytes: number }[] } | null
  error?: { code: string; message: string } | null
}

const mib = (n: number) =>
  n < 1024 * 1024 ? `${Math.max(1, Math.round(n / 1024))} KiB` : `${Math.round((n / 1048576) * 10) / 10} MiB`

/**
 * The transfer state and actions for one panel. `session()` is the attached session (undefined
 * while none is); the outcome of the last transfer is `status()` (shown in the status bar).
 */
export function createFileTransfer(opts: { session: () => FileSession | undefined; term: Terminal }) {
  const [status, setStatus] = createSignal<{ text: string; error: boolean } | undefined>()
  const [busy, setBusy] = createSignal(false)
  const url = (s: FileSession) => `/api/v1/terminal/sessions/${encodeURIComponent(s.sessionId)}/files`
  const say = (text: string, error = false) => {
    setStatus({ text, error })
  }

  async function upload(list: FileList | File[]): Promise<void> {
    const files = [...list]
    const s = opts.session()
    if (!s) return say('start a terminal session first, then upload', true)
    if (files.length === 0) return
    if (files.length > MAX_FILES) return say(`upload refused: at most ${MAX_FILES} files at once`, true)
    const big = files.find((f) => f.size > MAX_FILE_BYTES)
    if (big) return say(`upload refused: ${big.name} is larger than ${mib(MAX_FILE_BYTES)}`, true)
    const total = files.reduce((n, f) => n + f.size, 0)
    if (total > MAX_UPLOAD_BYTES) return say(`upload refused: more than ${mib(MAX_UPLOAD_BYTES)} in all`, true)
    const form = new FormData()
    for (const f of files) form.append('file', f, f.name)
    setBusy(true)
    setStatus({
      text: `uploading ${files.length === 1 ? files[0]?.name : `${files.length} files`} (${mib(total)})…`,
      error: false,
    })
    try {
      const res = await fetch(url(s), { method: 'POST', body: form, headers: { 'x-resume-token': s.resumeToken } })
      const body = (await res.json().catch(() => ({}))) as Envelope
      if (!res.ok || !body.data) {
        const code = body.error?.code ?? `HTTP_${res.status}`
        return say(`upload refused: ${messageForCode(code, body.error?.message)}`, true)
      }
      const where = `~${body.data.dir ? `/${body.data.dir}` : ''}`
      say(`uploaded ${body.data.files.map((f) => f.name).join(', ')} to ${where}`)
    } catch {
      say('upload failed: the network dropped; try again', true)
    } finally {
      setBusy(false)
    }
  }

  async function download(path: string): Promise<void> {
    const s = opts.session()
    if (!s) return
    setStatus({ text: `downloading ~/${path}…`, error: false })
    try {
      const res = await fetch(`${url(s)}?path=${encodeURIComponent(path)}`, {
        headers: { 'x-resume-token': s.resumeToken },
      })
      if (!res.ok) {
        const body = (await res.json().catch(() => ({}))) as Envelope
        const code = body.error?.code ?? `HTTP_${res.status}`
        return say(`download refused: ${messageForCode(code, body.error?.message)}`, true)
      }
      const blob = await res.blob()
      const a = document.createElement('a')
      a.href = URL.createObjectURL(blob)
      a.download = path.slice(path.lastIndexOf('/') + 1) || 'download'
      document.body.append(a)
      a.click()
      a.remove()
      setTimeout(() => URL.revokeObjectURL(a.href), 60_000)
      setStatus({ text: `downloaded ~/${path} (${mib(blob.size)})`, error: false })
    } catch {
      say('download failed: the network dropped; try again', true)
    }
  }

  // `download FILE` in the shell: the path is only ever sent back to the API, which confines it.
  const osc = opts.term.parser.registerOscHandler(DOWNLOAD_OSC, (data) => {
    const m = /^download;([A-Za-z0-9+/=]{1,2048})$/.exec(data)
    if (!m) return true
    let path: string
    try {
      path = new TextDecoder().decode(Uint8Array.from(atob(m[1] as string), (c) => c.charCodeAt(0)))
    } catch {
      return true
    }
    void download(path)
    return true
  })

  return { upload, download, status, busy, dispose: () => osc.dispose() }
}

export type FileTransfer = ReturnType<typeof createFileTransfer>

/** The upload button and the last transfer's outcome, for the terminal's status bar. */
export function FilesControl(props: { files: FileTransfer; enabled: boolean }): JSX.Element {
  let input!: HTMLInputElement
  return (
    <span class="terminal-files">
      <input
        ref={input}
        type="file"
        multiple
        hidden
        data-testid="terminal-upload-input"
        onChange={(e) => {
          const list = e.currentTarget.files
          if (list) void props.files.upload(list)
          e.currentTarget.value = ''
        }}
      />
      <button
        type="button"
        class="button small"
        disabled={!props.enabled || props.files.busy()}
        title="Upload files into the project folder (or drop them on the terminal)"
        onClick={() => input.click()}
      >
        {props.files.busy() ? 'Uploading…' : 'Upload'}
      </button>
      <Show when={props.files.status()}>
        {(s) => (
          <span class={s().error ? 'error-text' : 'muted'} role="status" data-testid="terminal-files-status">
            {s().text}
          </span>
        )}
      </Show>
    </span>
  )
}

/** Drag and drop onto the terminal frame; `dragging()` shows the drop hint. Returns the detach function. */
export function createDropZone(files: FileTransfer, enabled: () => boolean) {
  const [dragging, setDragging] = createSignal(false)
  const hasFiles = (e: DragEvent) => [...(e.dataTransfer?.types ?? [])].includes('Files')
  const over = (e: DragEvent) => {
    if (!enabled() || !hasFiles(e)) return
    e.preventDefault()
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy'
    setDragging(true)
  }
  const leave = () => setDragging(false)
  const dropped = (e: DragEvent) => {
    setDragging(false)
    if (!enabled() || !e.dataTransfer?.files.length) return
    e.preventDefault()
    void files.upload(e.dataTransfer.files)
  }
  return {
    dragging,
    attach(el: HTMLElement): () => void {
      el.addEventListener('dragover', over)
      el.addEventListener('dragleave', leave)
      el.addEventListener('drop', dropped)
      return () => {
        el.removeEventListener('dragover', over)
        el.removeEventListener('dragleave', leave)
        el.removeEventListener('drop', dropped)
      }
    },
  }
}
