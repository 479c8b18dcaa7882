/**
 * `head`, `tail` and `wc`: the filters a pipeline ends in (`ls | head`, `./calc < f | wc -l`). They
 * read their files or their standard input (the pipe's bytes, bounded by `PIPE_BYTES` in
 * shell.ts) and work on bytes, never on a decoded copy of a whole file.
 */
import type { BuiltinContext } from './builtins.ts'
import { FsError } from './memfs.ts'
import { onlcr } from './tty.ts'

export const FILTER_NAMES = ['head', 'tail', 'wc']

export type Filter = (args: string[], ctx: BuiltinContext, stdin: Uint8Array | undefined) => Promise<number>

export const FILTERS = new Map<string, Filter>([
  ['head', (args, ctx, stdin) => headTail('head', args, ctx, stdin)],
  ['tail', (args, ctx, stdin) => headTail('tail', args, ctx, stdin)],
  ['wc', wc],
])

const CHUNK = 64 * 1024

async function out(ctx: BuiltinContext, bytes: Uint8Array, state: { lastCr: boolean }): Promise<void> {
  for (let at = 0; at < bytes.length; at += CHUNK) {
    const chunk = onlcr(bytes.subarray(at, at + CHUNK), state)
    if (ctx.writeAsync) await ctx.writeAsync(chunk)
    else ctx.write(chunk)
  }
}

/** The inputs: each file named, or standard input (an empty one at a terminal: nothing to read). */
function inputs(
  name: string,
  files: string[],
  ctx: BuiltinContext,
  stdin: Uint8Array | undefined,
): { label: string; data: Uint8Array | undefined }[] {
  if (files.length === 0) return [{ label: '', data: stdin ?? new Uint8Array(0) }]
  return files.map((f) => {
    try {
      const path = ctx.fs.resolve(ctx.cwd, f)
      if (ctx.fs.isDir(path)) {
        ctx.print(`${name}: ${f}: Is a directory\n`)
        return { label: f, data: undefined }
      }
      return { label: f, data: ctx.fs.readFile(path) }
    } catch (e) {
      if (!(e instanceof FsError)) throw e
      ctx.print(`${name}: cannot open '${f}' for reading: No such file or directory\n`)
      return { label: f, data: undefined }
    }
  })
}

async function headTail(
  name: 'head' | 'tail',
  args: string[],
  ctx: BuiltinContext,
  stdin: Uint8Array | undefined,
): Promise<number> {
  let lines = 10
  let bytes: number | undefined
  const files: string[] = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    let value: string | undefined
    let flag: string | undefined
    if (/^-[0-9]+$/.test(a)) [flag, value] = ['n', a.slice(1)]
    else if (a === '-n' || a === '-c') [flag, value] = [a[1], args[++i]]
    else if (/^-[nc].+/.test(a)) [flag, value] = [a[1], a.slice(2)]
    else if (a.startsWith('-') && a !== '-') {
      ctx.print(`${name}: invalid option -- '${a.slice(1)}'\nusage: ${name} [-n LINES | -c BYTES] [FILE]...\n`)
      return 1
    } else files.push(a)
    if (flag !== undefined) {
      if (value === undefined || !/^[0-9]+$/.test(value)) {
        ctx.print(`${name}: invalid number of ${flag === 'n' ? 'lines' : 'bytes'}: '${value ?? ''}'\n`)
        return 1
      }
      const n = Math.min(Number(value), Number.MAX_SAFE_INTEGER)
      if (flag === 'n') {
        lines = n
        bytes = undefined
      } else bytes = n
    }
  }
  let status = 0
  const state = { lastCr: false }
  const all = inputs(name, files, ctx, stdin)
  for (const [index, { label, data }] of all.entries()) {
    if (!data) {
      status = 1
      continue
    }
    if (all.length > 1) ctx.print(`${index > 0 ? '\n' : ''}==> ${label} <==\n`)
    await out(ctx, slice(name, data, lines, bytes), state)
  }
  return status
}

function slice(name: 'head' | 'tail', data: Uint8Array, lines: number, bytes: number | undefined): Uint8Array {
  if (bytes !== undefined)
    return name === 'head' ? data.subarray(0, bytes) : data.subarray(Math.max(0, data.length - bytes))
  if (name === 'head') {
    let at = 0
    for (let n = 0; n < lines; n++) {
      const nl = data.indexOf(0x0a, at)
      if (nl < 0) return data
      at = nl + 1
    }
    return data.subarray(0, at)
  }
  if (lines === 0) return data.subarray(data.length)
  // from the end: a last line without a newline counts as a line
  let at = data.length - (data[data.length - 1] === 0x0a ? 1 : 0)
  for (let n = 0; n < lines; n++) {
    const nl = data.lastIndexOf(0x0a, at - 1)
    if (nl < 0) return data
    at = nl
  }
  return data.subarray(at + 1)
}

async function wc(args: string[], ctx: BuiltinContext, stdin: Uint8Array | undefined): Promise<number> {
  const shown = new Set<string>()
  const files: string[] = []
  for (const a of args) {
    if (/^-[lwc]+$/.test(a)) for (const f of a.slice(1)) shown.add(f)
    else if (a.startsWith('-') && a !== '-') {
      ctx.print(`wc: invalid option -- '${a.slice(1)}'\nusage: wc [-l] [-w] [-c] [FILE]...\n`)
      return 1
    } else files.push(a)
  }
  const which = shown.size === 0 ? ['l', 'w', 'c'] : ['l', 'w', 'c'].filter((f) => shown.has(f))
  let status = 0
  const rows: { counts: number[]; label: string }[] = []
  const total = [0, 0, 0]
  for (const { label, data } of inputs('wc', files, ctx, stdin)) {
    if (!data) {
      status = 1
      continue
    }
    const counts = count(data)
    counts.forEach((c, i) => {
      total[i]! += c
    })
    rows.push({ counts, label })
  }
  if (rows.length > 1) rows.push({ counts: total, label: 'total' })
  // GNU wc's layout: one count of one input alone; else columns as wide as the largest number
  // (at least 7 when reading standard input)
  const pick = (counts: number[]) => which.map((f) => counts[['l', 'w', 'c'].indexOf(f)]!)
  const alone = which.length === 1 && rows.length === 1
  const width = alone
    ? 0
    : Math.max(files.length === 0 ? 7 : 1, ...rows.flatMap((r) => pick(r.counts).map((n) => String(n).length)))
  let text = ''
  for (const r of rows) {
    const cols = pick(r.counts).map((n) => String(n).padStart(width))
    text += `${cols.join(' ')}${r.label ? ` ${r.label}` : ''}\n`
  }
  ctx.print(text)
  return status
}

function count(data: Uint8Array): number[] {
  let lines = 0
  let words = 0
  let inWord = false
  for (const b of data) {
    if (b === 0x0a) lines++
    const space = b === 0x20 || (b >= 0x09 && b <= 0x0d)
    if (!space && !inWord) words++
    inWord = !space
  }
  return [lines, words, data.length]
}
