/**
 * Ctrl-Z for programs that compute without any WASI call (docs/runners.md, "The browser runner"):
 * a browser cannot pause a worker from outside, and the program parks only inside a WASI call
 * (program-worker.ts, `gate`). This rewrite makes every loop of the module count down a new global
 * and, every LOOP_CHECK iterations, call one of the module's own harmless WASI imports
 * (`fd_fdstat_get(-1, 0)`, which only answers EBADF): that call goes through the gate, so a tight
 * loop parks within LOOP_CHECK iterations of Ctrl-Z. No function index moves (no import is
 * added); the new global is the last one. Anything this decoder does not know (an unfamiliar
 * opcode, no such import) leaves the module as it was (`undefined`), and the caller compiles the
 * original: then such a loop runs on until its next WASI call.
 */

/** Loop iterations between two looks at the Ctrl-Z flag. */
export const LOOP_CHECK = 1 << 16

/** Imports that take (fd, ptr) and answer EBADF for fd -1 without touching memory. */
const PROBES = new Set(['fd_fdstat_get', 'fd_prestat_get', 'fd_filestat_get'])

class Bail extends Error {}

class Reader {
  at = 0
  constructor(readonly b: Uint8Array) {}
  byte(): number {
    if (this.at >= this.b.length) throw new Bail('end of module')
    return this.b[this.at++]!
  }
  u32(): number {
    let result = 0
    let shift = 0
    for (;;) {
      const byte = this.byte()
      result += (byte & 0x7f) * 2 ** shift
      shift += 7
      if ((byte & 0x80) === 0) return result
      if (shift > 63) throw new Bail('LEB too long')
    }
  }
  /** A signed LEB of any width, skipped. */
  sleb(): void {
    for (let n = 0; ; n++) {
      if ((this.byte() & 0x80) === 0) return
      if (n > 10) throw new Bail('LEB too long')
    }
  }
  skip(n: number): void {
    this.at += n
    if (this.at > this.b.length) throw new Bail('end of module')
  }
  name(): string {
    const n = this.u32()
    const s = new TextDecoder().decode(this.b.subarray(this.at, this.at + n))
    this.skip(n)
    return s
  }
}

function leb(n: number): number[] {
  const out: number[] = []
  do {
    let byte = n & 0x7f
    n = Math.floor(n / 128)
    if (n !== 0) byte |= 0x80
    out.push(byte)
  } while (n !== 0)
  return out
}

function sleb32(n: number): number[] {
  const out: number[] = []
  for (;;) {
    const byte = n & 0x7f
    n >>= 7
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte)
      return out
    }
    out.push(byte | 0x80)
  }
}

const VALTYPES = new Set([0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f])

function blocktype(r: Reader): void {
  const b = r.b[r.at]
  if (b === 0x40 || (b !== undefined && VALTYPES.has(b))) r.skip(1)
  else r.sleb()
}

function memarg(r: Reader): void {
  const align = r.u32()
  if (align & 0x40) r.u32()
  r.u32()
}

function limits(r: Reader): void {
  const flags = r.byte()
  r.u32()
  if (flags & 1) r.u32()
}

/** Skips one instruction's immediates (its opcode already read); Bail on what it does not know. */
function immediates(r: Reader, op: number) {
  if (op <= 0x01 || op === 0x05 || op === 0x0b || op === 0x0f || op === 0x19 || op === 0x1a || op === 0x1b) return
  if (op >= 0x02 && op <= 0x04) return blocktype(r)
  if (op === 0x06) return blocktype(r)
  if (op === 0x07 || op === 0x08 || op === 0x09 || op === 0x18) return void r.u32()
  if (op === 0x0c || op === 0x0d || op === 0x10 || op === 0x12) return void r.u32()
  if (op === 0x0e) {
    const n = r.u32()
    for (let i = 0; i <= n; i++) r.u32()
    return
  }
  if (op === 0x11 || op === 0x13) {
    r.u32()
    r.u32()
    return
  }
  if (op === 0x1c) return r.skip(r.u32())
  if (op >= 0x20 && op <= 0x26) return void r.u32()
  if (op >= 0x28 && op <= 0x3e) return memarg(r)
  if (op === 0x3f || op === 0x40) return void r.u32()
  if (op === 0x41 || op === 0x42) return r.sleb()
  if (op === 0x43) return r.skip(4)
  if (op === 0x44) return r.skip(8)
  if (op >= 0x45 && op <= 0xc4) return
  if (op === 0xd0) return r.sleb()
  if (op === 0xd1) return
  if (op === 0xd2) return void r.u32()
  if (op === 0xfc) {
    const sub = r.u32()
    if (sub <= 7) return
    if (sub === 8 || sub === 10 || sub === 12 || sub === 14) {
      r.u32()
      r.u32()
      return
    }
    if (sub === 9 || sub === 11 || sub === 13 || (sub >= 15 && sub <= 17)) return void r.u32()
    throw new Bail(`0xfc ${sub}`)
  }
  if (op === 0xfd) {
    const sub = r.u32()
    if (sub <= 0x0b || sub === 0x5c || sub === 0x5d) return memarg(r)
    if (sub === 0x0c || sub === 0x0d) return r.skip(16)
    if (sub >= 0x15 && sub <= 0x22) return r.skip(1)
    if (sub >= 0x54 && sub <= 0x5b) {
      memarg(r)
      r.skip(1)
      return
    }
    if (sub <= 0x113) return
    throw new Bail(`0xfd ${sub}`)
  }
  if (op === 0xfe) {
    const sub = r.u32()
    if (sub === 0x03) return r.skip(1)
    if (sub <= 0x4e) return memarg(r)
    throw new Bail(`0xfe ${sub}`)
  }
  throw new Bail(`opcode ${op}`)
}

/** Section order (custom sections aside), to place a new global section. */
const RANK: Record<number, number> = {
  1: 1,
  2: 2,
  3: 3,
  4: 4,
  5: 5,
  13: 6,
  6: 7,
  7: 8,
  8: 9,
  9: 10,
  12: 11,
  10: 12,
  11: 13,
}

/** The module with its loops gated, or undefined when it cannot be done (see the file's comment). */
export function gateLoops(wasm: Uint8Array): Uint8Array | undefined {
  try {
    return rewrite(wasm)
  } catch (e) {
    if (e instanceof Bail) return undefined
    throw e
  }
}

function rewrite(wasm: Uint8Array): Uint8Array | undefined {
  const sections: { id: number; body: Uint8Array }[] = []
  const r = new Reader(wasm)
  r.skip(8)
  while (r.at < wasm.length) {
    const id = r.byte()
    const size = r.u32()
    sections.push({ id, body: wasm.subarray(r.at, r.at + size) })
    r.skip(size)
  }
  // function types: which are (i32, i32) -> i32
  const probeTypes = new Set<number>()
  const types = sections.find((s) => s.id === 1)
  if (types) {
    const t = new Reader(types.body)
    const n = t.u32()
    for (let i = 0; i < n; i++) {
      if (t.byte() !== 0x60) throw new Bail('type form')
      const params = t.u32()
      const p: number[] = []
      for (let j = 0; j < params; j++) p.push(t.byte())
      const results = t.u32()
      const q: number[] = []
      for (let j = 0; j < results; j++) q.push(t.byte())
      if (p.length === 2 && p[0] === 0x7f && p[1] === 0x7f && q.length === 1 && q[0] === 0x7f) probeTypes.add(i)
    }
  }
  let probe: number | undefined
  let funcImports = 0
  let globalImports = 0
  const imports = sections.find((s) => s.id === 2)
  if (imports) {
    const t = new Reader(imports.body)
    const n = t.u32()
    for (let i = 0; i < n; i++) {
      const module = t.name()
      const field = t.name()
      const kind = t.byte()
      if (kind === 0) {
        const type = t.u32()
        if (probe === undefined && module === 'wasi_snapshot_preview1' && PROBES.has(field) && probeTypes.has(type))
          probe = funcImports
        funcImports++
      } else if (kind === 1) {
        t.byte()
        limits(t)
      } else if (kind === 2) limits(t)
      else if (kind === 3) {
        t.byte()
        t.byte()
        globalImports++
      } else if (kind === 4) {
        t.byte()
        t.u32()
      } else throw new Bail('import kind')
    }
  }
  if (probe === undefined) return undefined
  const code = sections.find((s) => s.id === 10)
  if (!code) return undefined

  // the new global: i32, mutable, starts at LOOP_CHECK
  const globals = sections.find((s) => s.id === 6)
  let definedGlobals = 0
  let globalBody: number[]
  const newGlobal = [0x7f, 0x01, 0x41, ...sleb32(LOOP_CHECK), 0x0b]
  if (globals) {
    const t = new Reader(globals.body)
    definedGlobals = t.u32()
    globalBody = [...leb(definedGlobals + 1), ...Array.from(globals.body.subarray(t.at)), ...newGlobal]
  } else globalBody = [...leb(1), ...newGlobal]
  const g = leb(globalImports + definedGlobals)
  // at every loop's start: if (counter == 0) { counter = LOOP_CHECK; drop(probe(-1, 0)) } counter -= 1
  const check = [
    ...[0x23, ...g, 0x45, 0x04, 0x40], // global.get; i32.eqz; if
    ...[0x41, ...sleb32(LOOP_CHECK), 0x24, ...g], // i32.const LOOP_CHECK; global.set
    ...[0x41, 0x7f, 0x41, 0x00, 0x10, ...leb(probe), 0x1a], // i32.const -1; i32.const 0; call probe; drop
    0x0b, // end
    ...[0x23, ...g, 0x41, 0x01, 0x6b, 0x24, ...g], // global.get; i32.const 1; i32.sub; global.set
  ]

  // copied as slices of the original between the loops' starts, with the check after each
  const checkBytes = Uint8Array.from(check)
  const c = new Reader(code.body)
  const count = c.u32()
  const codeParts: Uint8Array[] = [Uint8Array.from(leb(count))]
  for (let i = 0; i < count; i++) {
    const size = c.u32()
    const end = c.at + size
    const parts: Uint8Array[] = []
    let last = c.at
    let length = 0
    const locals = c.u32()
    for (let j = 0; j < locals; j++) {
      c.u32()
      c.byte()
    }
    while (c.at < end) {
      const op = c.byte()
      immediates(c, op)
      if (op === 0x03) {
        parts.push(code.body.subarray(last, c.at), checkBytes)
        length += c.at - last + checkBytes.length
        last = c.at
      }
    }
    if (c.at !== end) throw new Bail('function size')
    parts.push(code.body.subarray(last, end))
    length += end - last
    codeParts.push(Uint8Array.from(leb(length)), ...parts)
  }

  const out: Uint8Array[] = [wasm.subarray(0, 8)]
  const emit = (id: number, parts: Uint8Array[]) => {
    const size = parts.reduce((n, p) => n + p.length, 0)
    out.push(Uint8Array.from([id, ...leb(size)]), ...parts)
  }
  const globalSection = [Uint8Array.from(globalBody)]
  let globalDone = false
  for (const s of sections) {
    if (!globalDone && s.id !== 0 && (RANK[s.id] ?? 0) > RANK[6]!) {
      emit(6, globalSection)
      globalDone = true
    }
    if (s.id === 6) {
      if (!globalDone) emit(6, globalSection)
      globalDone = true
    } else if (s.id === 10) emit(10, codeParts)
    else emit(s.id, [s.body])
  }
  if (!globalDone) emit(6, globalSection)
  const result = new Uint8Array(out.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of out) {
    result.set(p, at)
    at += p.length
  }
  return result
}
