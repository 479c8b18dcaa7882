import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { BACKENDS, type Backend, openBackend } from '../../test/harness.ts'
import { AsciicastRecorder, parseAsciicast } from './recording.ts'
import { createSessionRegistry, type SessionRecord } from './registry.ts'
import { Scrollback } from './scrollback.ts'
import { TicketStore } from './tickets.ts'

const enc = (s: string) => new TextEncoder().encode(s)
const dec = (b: Uint8Array) => new TextDecoder().decode(b)

describe.each(BACKENDS)('tickets and the session registry (%s)', (kind) => {
  let backend: Backend
  beforeAll(async () => {
    backend = await openBackend(kind)
  })
  afterAll(() => backend.close())

  const payload = { sessionId: crypto.randomUUID(), project: 'calc', runner: 'wasi' as const, ip: '198.51.100.7' }

  test('a ticket redeems exactly once, on any instance', async () => {
    const store = new TicketStore(backend.cache, 30_000)
    const { ticket, expiresAt } = await store.issue(payload)
    expect(ticket).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const peer = new TicketStore(await backend.openPeerCache(), 30_000)
    // Two instances race for the same ticket: exactly one wins.
    const results = await Promise.all([store.redeem(ticket), peer.redeem(ticket), peer.redeem(ticket)])
    expect(results.filter((r) => r !== null)).toEqual([{ ...payload, expiresAt }])
    expect(await store.redeem(ticket)).toBeNull()
  })

  test('an expired ticket is refused (injected clock)', async () => {
    let now = Date.now()
    const store = new TicketStore(backend.cache, 30_000, () => now)
    const { ticket } = await store.issue(payload)
    now += 30_001
    expect(await store.redeem(ticket)).toBeNull()
  })

  test('an expired ticket is gone from the cache (real TTL)', async () => {
    const store = new TicketStore(backend.cache, 60)
    const { ticket } = await store.issue(payload)
    const key = `terminal:ticket:${new Bun.CryptoHasher('sha256').update(ticket).digest('base64url')}`
    expect(await backend.cache.get(key)).not.toBeNull()
    const deadline = Date.now() + 3000
    while ((await backend.cache.get(key)) !== null && Date.now() < deadline) await Bun.sleep(10)
    expect(await store.redeem(ticket)).toBeNull()
  })

  test('malformed and unknown tickets are refused without touching the cache', async () => {
    const store = new TicketStore(backend.cache, 30_000)
    expect(await store.redeem('')).toBeNull()
    expect(await store.redeem('../../etc/passwd')).toBeNull()
    expect(await store.redeem('A'.repeat(43))).toBeNull()
  })

  const record = (id: string, ip: string, staleAt = Date.now() + 60_000): SessionRecord => ({
    id,
    project: 'calc',
    runner: 'wasi',
    ip,
    instance: 'i-1',
    status: 'attached',
    startedAt: Date.now(),
    expiresAt: Date.now() + 60_000,
    staleAt,
  })

  test('reserve enforces the per-IP and the global cap atomically across instances', async () => {
    const a = createSessionRegistry(backend.cache)
    const b = createSessionRegistry(await backend.openPeerCache())
    const ip = `203.0.113.${Math.floor(Math.random() * 200)}`
    const caps = { perIp: 3, global: 1000 }
    // Ten concurrent reservations from one IP on two instances: exactly three succeed.
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).reserve(record(crypto.randomUUID(), ip), caps)),
    )
    expect(results.filter((r) => r === 'ok')).toHaveLength(3)
    expect(results.filter((r) => r === 'ip')).toHaveLength(7)
    const total = (await a.list()).length
    expect(await a.reserve(record(crypto.randomUUID(), '192.0.2.1'), { perIp: 3, global: total })).toBe('global')
    const mine = (await b.list()).filter((r) => r.ip === ip)
    expect(mine).toHaveLength(3)
    for (const r of mine) await a.remove(r.id)
    expect((await b.list()).filter((r) => r.ip === ip)).toEqual([])
  })

  test('stale records (expired ticket, dead instance) are ignored and free their slot', async () => {
    let now = Date.now()
    const reg = createSessionRegistry(await backend.openPeerCache(), () => now)
    const ip = '203.0.113.250'
    const caps = { perIp: 1, global: 1000 }
    const first = record(crypto.randomUUID(), ip, now + 100)
    expect(await reg.reserve(first, caps)).toBe('ok')
    expect(await reg.reserve(record(crypto.randomUUID(), ip), caps)).toBe('ip')
    expect(await reg.get(first.id)).toEqual(first)
    now += 200
    expect(await reg.get(first.id)).toBeNull()
    expect((await reg.list()).find((r) => r.id === first.id)).toBeUndefined()
    const second = record(crypto.randomUUID(), ip, now + 60_000)
    expect(await reg.reserve(second, caps)).toBe('ok')
    await reg.remove(second.id)
  })
})

describe('scrollback', () => {
  test('keeps everything under capacity', () => {
    const s = new Scrollback(1024)
    s.append(enc('hello '))
    s.append(enc('world'))
    expect(dec(s.snapshot())).toBe('hello world')
  })

  test('trimmed replay never starts inside an escape sequence or a UTF-8 character', () => {
    const s = new Scrollback(8 * 1024)
    // Lines full of colour sequences and multi-byte characters, far more than the capacity.
    const line = (i: number) => `\x1b[38;5;${i % 256}mé→${i}✓\x1b[0m \x1b]0;title ${i}\x07 text\r\n`
    let all = ''
    for (let i = 0; i < 5000; i++) {
      const l = line(i)
      all += l
      // Feed in awkward pieces: split inside sequences and characters.
      const bytes = enc(l)
      s.append(bytes.subarray(0, 3))
      s.append(bytes.subarray(3, 7))
      s.append(bytes.subarray(7))
    }
    const snap = s.snapshot()
    expect(snap.length).toBeLessThanOrEqual(8 * 1024)
    expect(snap.length).toBeGreaterThan(6 * 1024)
    const text = new TextDecoder('utf-8', { fatal: true }).decode(snap)
    expect(all.endsWith(text)).toBe(true)
    // It starts at the beginning of a line, i.e. at an ESC that opens a whole sequence.
    expect(text.startsWith('\x1b[38;5;')).toBe(true)
  })

  test('a single chunk larger than the capacity keeps a clean tail', () => {
    const s = new Scrollback(4096)
    const big = enc(`${'\x1b[1mbold\x1b[0m é\n'.repeat(2000)}`)
    s.append(big)
    const snap = s.snapshot()
    expect(snap.length).toBeLessThanOrEqual(4096)
    const text = new TextDecoder('utf-8', { fatal: true }).decode(snap)
    expect(text.startsWith('\x1b[1mbold')).toBe(true)
  })
})

describe('asciicast recorder', () => {
  test('header, output and resize events; UTF-8 split across chunks is whole', () => {
    let now = 1_000_000
    const rec = new AsciicastRecorder({ cols: 80, rows: 24 }, 1024 * 1024, { now: () => now })
    const bytes = enc('né')
    rec.output(bytes.subarray(0, 2))
    now += 1500
    rec.output(bytes.subarray(2))
    rec.resize(120, 40)
    const cast = parseAsciicast(dec(rec.toBytes()))
    expect(cast.header).toEqual({ version: 2, width: 80, height: 24, timestamp: 1000, env: { TERM: 'xterm-256color' } })
    expect(cast.events).toEqual([
      [0, 'o', 'n'],
      [1.5, 'o', 'é'],
      [1.5, 'r', '120x40'],
    ])
  })

  test('the size cap stops recording with a final marker', () => {
    const rec = new AsciicastRecorder({ cols: 80, rows: 24 }, 8192)
    let sent = 0
    for (let i = 0; i < 1000; i++) {
      const chunk = enc(`line ${i} ${'x'.repeat(50)}\r\n`)
      sent += chunk.length
      rec.output(chunk)
    }
    const file = rec.toBytes()
    expect(file.length).toBeLessThanOrEqual(8192)
    expect(rec.truncated).toBe(true)
    const cast = parseAsciicast(dec(file))
    expect(cast.events.at(-1)?.slice(1)).toEqual(['m', 'recording truncated: size limit reached'])
    expect(rec.bytesOut).toBe(sent)
  })
})

describe('projects from the database', () => {
  let backend: Backend
  beforeAll(async () => {
    backend = await openBackend('embedded')
  })
  afterAll(() => backend.close())

  test('sources resolve under wasm-projects/ only; deleted projects are unknown', async () => {
    const { projects } = await import('../db/schema/index.ts')
    const { createProjectsService } = await import('../projects/service.ts')
    const { createReadCache } = await import('../lib/read-cache.ts')
    const { terminalProjects } = await import('./projects.ts')
    const { noneAvailable } = await import('./runners.ts')
    const policy = { allow: ['ls'] }
    await backend.database.db.insert(projects).values([
      { slug: 'ok', title: 'ok', sourcePath: 'wasm-projects/calc', policy, runners: ['wasi'] },
      { slug: 'escape', title: 'x', sourcePath: '../../etc', policy, runners: ['wasi'] },
      { slug: 'gone', title: 'x', sourcePath: 'calc', policy, runners: ['wasi'], deletedAt: new Date() },
    ])
    const reads = createReadCache({ cache: backend.cache, namespace: 'projects' })
    const service = createProjectsService({
      db: backend.database.db,
      reads,
      flags: { isEnabled: async () => true },
      runnerAvailability: async () => noneAvailable(),
    })
    const resolve = terminalProjects(service)
    expect(await resolve('ok')).toMatchObject({ slug: 'ok', policy, runners: ['wasi'] })
    expect((await resolve('ok'))?.sourceDir).toEndWith('/wasm-projects/calc')
    expect(await resolve('escape')).toBeNull()
    expect(await resolve('gone')).toBeNull()
    expect(await resolve('missing')).toBeNull()
    await reads.close()
  })
})
