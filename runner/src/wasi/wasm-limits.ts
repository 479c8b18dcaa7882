/**
 * Caps a module's linear memory by rewriting its memory limits (defined or imported memory).
 * why: @wasmer/sdk 0.16 has no per-process memory option, and an uncapped wasm32 program can grow
 * to 4 GiB of host memory; with a declared maximum, `memory.grow` fails and malloc returns NULL.
 */
export function capMemory(wasm: Uint8Array, maxBytes: number): Uint8Array {
  if (!isWasm(wasm)) throw new Error('not a WebAssembly module')
  const maxPages = Math.max(1, Math.floor(maxBytes / 65536))
  const out: ArrayLike<number>[] = [wasm.subarray(0, 8)]
  let at = 8
  while (at < wasm.length) {
    const id = wasm[at]!
    const [size, sizeLen] = readLeb(wasm, at + 1)
    const start = at + 1 + sizeLen
    const body = wasm.subarray(start, start + size)
    if (id === 5) out.push(section(5, patchMemorySection(body, maxPages)))
    else if (id === 2) out.push(section(2, patchImportSection(body, maxPages)))
    else out.push(wasm.subarray(at, start + size))
    at = start + size
  }
  const total = out.reduce((n, part) => n + part.length, 0)
  const result = new Uint8Array(total)
  let pos = 0
  for (const part of out) {
    result.set(part, pos)
    pos += part.length
  }
  return result
}

export function isWasm(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d
}

function section(id: number, body: number[]): number[] {
  return [id, ...writeLeb(body.length), ...body]
}

function readLeb(bytes: Uint8Array, at: number): [number, number] {
  let result = 0
  let shift = 0
  let len = 0
  for (;;) {
    const b = bytes[at + len]
    if (b === undefined) throw new Error('truncated wasm module')
    len++
    result += (b & 0x7f) * 2 ** shift
    shift += 7
    if ((b & 0x80) === 0) return [result, len]
  }
}

function writeLeb(value: number): number[] {
  const out: number[] = []
  let v = value
  do {
    let b = v % 128
    v = Math.floor(v / 128)
    if (v > 0) b |= 0x80
    out.push(b)
  } while (v > 0)
  return out
}

/** Reads one `limits` at `at`; returns the rewritten bytes and the bytes consumed. */
function patchLimits(bytes: Uint8Array, at: number, maxPages: number): [number[], number] {
  const flags = bytes[at]!
  let pos = at + 1
  const [min, minLen] = readLeb(bytes, pos)
  pos += minLen
  let max: number | undefined
  if (flags & 1) {
    const [m, mLen] = readLeb(bytes, pos)
    max = m
    pos += mLen
  }
  if (flags & 4) return [[...bytes.subarray(at, pos)], pos - at] // memory64: leave alone
  const capped = Math.max(min, Math.min(max ?? maxPages, maxPages))
  return [[flags | 1, ...writeLeb(min), ...writeLeb(capped)], pos - at]
}

function patchMemorySection(body: Uint8Array, maxPages: number): number[] {
  const [count, countLen] = readLeb(body, 0)
  const out = [...writeLeb(count)]
  let at = countLen
  for (let i = 0; i < count; i++) {
    const [limits, used] = patchLimits(body, at, maxPages)
    out.push(...limits)
    at += used
  }
  return out
}

function patchImportSection(body: Uint8Array, maxPages: number): number[] {
  const [count, countLen] = readLeb(body, 0)
  const out = [...writeLeb(count)]
  let at = countLen
  for (let i = 0; i < count; i++) {
    const start = at
    for (let name = 0; name < 2; name++) {
      const [len, lenLen] = readLeb(body, at)
      at += lenLen + len
    }
    const kind = body[at]!
    at++
    out.push(...body.subarray(start, at))
    if (kind === 0) {
      const [, l] = readLeb(body, at)
      out.push(...body.subarray(at, at + l))
      at += l
    } else if (kind === 1) {
      // table: reftype + limits
      const flags = body[at + 1]!
      let end = at + 2
      end += readLeb(body, end)[1]
      if (flags & 1) end += readLeb(body, end)[1]
      out.push(...body.subarray(at, end))
      at = end
    } else if (kind === 2) {
      const [limits, used] = patchLimits(body, at, maxPages)
      out.push(...limits)
      at += used
    } else if (kind === 3) {
      out.push(body[at]!, body[at + 1]!) // global: valtype + mutability
      at += 2
    } else if (kind === 4) {
      // tag: attribute + type index
      const [, l] = readLeb(body, at + 1)
      out.push(...body.subarray(at, at + 1 + l))
      at += 1 + l
    } else {
      throw new Error(`unknown import kind ${kind}`)
    }
  }
  return out
}
