import { beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import fixture from './public-reads.openapi.json'

/**
 * The public reads answer with bodies prepared once per cached read (api/src/lib/conditional.ts)
 * instead of letting Elysia validate and serialize each response; their OpenAPI description must
 * not move. public-reads.openapi.json is main's document before that change (the four public GET
 * operations and every posts.* and projects.* schema), generated the same way as here.
 *
 * Each document comes from a fresh process: Elysia marks `additionalProperties: false` on a model
 * when it compiles a route naming it, and the models are shared by every app of a process, so what
 * other tests served would leak into the document.
 */
const PATHS = ['/api/v1/posts', '/api/v1/posts/{slug}', '/api/v1/projects', '/api/v1/projects/{slug}']

const SCRIPT = `
import { createApp } from './src/app.ts'
import { openBackend, req, testDeps } from './test/harness.ts'
const backend = await openBackend('embedded')
const document = async (before) => {
  const app = createApp(testDeps(backend))
  for (const path of before) await app.handle(req(path))
  return (await app.handle(req('/api/openapi.json'))).json()
}
// The fresh document first: nothing of this process has compiled a route yet.
const fresh = await document([])
const afterReads = await document(JSON.parse(process.argv[1]))
process.stdout.write(JSON.stringify({ fresh, afterReads }))
await backend.close()
process.exit(0)
`

type Doc = { paths: Record<string, { get: unknown }>; components: { schemas: Record<string, unknown> } }

/** The OpenAPI document of a fresh process's first app, and of a second app that first served `reads`. */
async function documents(reads: string[]): Promise<{ fresh: Doc; afterReads: Doc }> {
  const proc = Bun.spawn(['bun', '-e', SCRIPT, JSON.stringify(reads)], {
    cwd: join(import.meta.dir, '../..'),
    env: { ...process.env, APP_ENV: 'test' },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  if (code !== 0) throw new Error(`the document script exited with ${code}:\n${err}`)
  return JSON.parse(out) as { fresh: Doc; afterReads: Doc }
}

const publicReads = (doc: Doc) => ({
  paths: Object.fromEntries(PATHS.map((p) => [p, { get: doc.paths[p]?.get }])),
  schemas: Object.fromEntries(Object.entries(doc.components.schemas).filter(([k]) => /^(posts|projects)\./.test(k))),
})

describe('OpenAPI document', () => {
  let docs: { fresh: Doc; afterReads: Doc }
  beforeAll(async () => {
    docs = await documents(['/api/v1/posts?limit=20', '/api/v1/posts/a', '/api/v1/projects', '/api/v1/projects/a'])
  }, 60_000)

  test('the public reads are described exactly as before', () => {
    expect(publicReads(docs.fresh)).toEqual(fixture)
  })

  test('serving the public reads first leaves the document as main left it', () => {
    // main marked exactly these four (the models its public routes name directly); the prepared
    // bodies must add none (their validators are built from copies of the models).
    const marked = ['posts.page', 'posts.error', 'projects.page', 'projects.error']
    const expected = structuredClone(fixture) as ReturnType<typeof publicReads> & { schemas: Record<string, object> }
    for (const name of marked) expected.schemas[name] = { ...expected.schemas[name], additionalProperties: false }
    expect(publicReads(docs.afterReads)).toEqual(expected)
  })
})
