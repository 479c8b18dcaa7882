/** An accepted upload type, decided from the bytes alone. */
export interface SniffedType {
  contentType: string
  ext: string
  /** Whether browsers may show it inline (images, text) or must download it (PDF). */
  inline: boolean
}

const startsWith = (bytes: Uint8Array, signature: readonly number[], offset = 0) =>
  bytes.length >= offset + signature.length && signature.every((b, i) => bytes[offset + i] === b)
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0))

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
const JPEG = [0xff, 0xd8, 0xff]
const GIF87 = ascii('GIF87a')
const GIF89 = ascii('GIF89a')
const RIFF = ascii('RIFF')
const WEBP = ascii('WEBP')
const PDF = ascii('%PDF-')

/**
 * Markup a browser would sniff as HTML/XML (the WHATWG "identify an unknown type" patterns plus
 * SVG): text starting like this is refused, so no upload can ever become a page on our origin.
 */
const MARKUP =
  /^\s*<(?:!doctype\s+html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p|svg|\?xml|!--)(?:[\s>/]|$)/i

/** Accepted: PNG, JPEG, GIF, WebP, PDF, and plain UTF-8 text that is not markup. */
export const ACCEPTED_TYPES = 'PNG, JPEG, GIF, WebP, PDF or plain UTF-8 text'

/** Tab, LF, CR, FF and ESC (colour codes in logs) are fine in text. */
const TEXT_CONTROLS = new Set([0x09, 0x0a, 0x0d, 0x0c, 0x1b])

function isPlainText(bytes: Uint8Array): boolean {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return false
  }
  // Control characters other than tab, newlines, form feed and ESC mean binary.
  for (const byte of bytes) {
    if ((byte < 0x20 && !TEXT_CONTROLS.has(byte)) || byte === 0x7f) return false
  }
  return !MARKUP.test(text.replace(/^\uFEFF/, '').slice(0, 1024))
}

/** The type of `bytes` from their magic numbers; undefined when it is not an accepted type. */
export function sniff(bytes: Uint8Array): SniffedType | undefined {
  if (startsWith(bytes, PNG)) return { contentType: 'image/png', ext: 'png', inline: true }
  if (startsWith(bytes, JPEG)) return { contentType: 'image/jpeg', ext: 'jpg', inline: true }
  if (startsWith(bytes, GIF87) || startsWith(bytes, GIF89))
    return { contentType: 'image/gif', ext: 'gif', inline: true }
  if (startsWith(bytes, RIFF) && startsWith(bytes, WEBP, 8))
    return { contentType: 'image/webp', ext: 'webp', inline: true }
  if (startsWith(bytes, PDF)) return { contentType: 'application/pdf', ext: 'pdf', inline: false }
  if (bytes.length > 0 && isPlainText(bytes)) {
    return { contentType: 'text/plain; charset=utf-8', ext: 'txt', inline: true }
  }
  return undefined
}

/** A short human description of refused content, for the error message. */
export function describeRefused(bytes: Uint8Array): string {
  if (startsWith(bytes, ascii('MZ'))) return 'a Windows executable'
  if (startsWith(bytes, [0x7f, 0x45, 0x4c, 0x46])) return 'an ELF executable'
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04])) return 'a ZIP archive'
  if (startsWith(bytes, [0x00, 0x61, 0x73, 0x6d])) return 'a WebAssembly module'
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, 1024))
    if (MARKUP.test(text.replace(/^\uFEFF/, ''))) return 'HTML, SVG or XML markup'
  } catch {
    // not text
  }
  return 'an unrecognised binary format'
}
