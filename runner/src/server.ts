/**
 * `bun run runner`: a runner service for API instances that should hold no Docker access
 * (DESIGN.md §7). This is the runner package's own entry point, so it reads its environment here:
 *   RUNNER_TOKEN (required, ≥ 32 chars)   RUNNER_HOST (127.0.0.1)   RUNNER_PORT (4100)
 *   RUNNERS (wasi,docker)   SANDBOX_IMAGE   DOCKER_POOL_SIZE (2)
 * The API reaches it with RUNNER_URLS=ws://host:4100 and the same RUNNER_TOKEN.
 */

import { createRunnerServer } from './remote/server.ts'
import type { Runner } from './types.ts'

const env = process.env
const fail = (message: string): never => {
  console.error(`shellfolio runner: ${message}`)
  process.exit(78)
}
const token = env.RUNNER_TOKEN ?? ''
if (token.length < 32) fail('RUNNER_TOKEN is required (at least 32 characters)')
const port = Number(env.RUNNER_PORT ?? 4100)
if (!Number.isInteger(port) || port < 0 || port > 65535) fail('RUNNER_PORT: expected a port number')
const poolSize = Number(env.DOCKER_POOL_SIZE ?? 2)
if (!Number.isInteger(poolSize) || poolSize < 0 || poolSize > 64) fail('DOCKER_POOL_SIZE: expected 0 to 64')
const kinds = (env.RUNNERS ?? 'wasi,docker').split(',').map((k) => k.trim())
for (const k of kinds) if (k !== 'wasi' && k !== 'docker') fail(`RUNNERS: unknown runner ${JSON.stringify(k)}`)

const runners: Runner[] = []
if (kinds.includes('wasi')) runners.push((await import('./wasi/index.ts')).createWasiRunner())
if (kinds.includes('docker')) {
  const { DockerRunner } = await import('./docker/index.ts')
  const docker = new DockerRunner({ poolSize, ...(env.SANDBOX_IMAGE ? { image: env.SANDBOX_IMAGE } : {}) })
  const reason = await docker.unavailableReason()
  if (reason) console.error(`shellfolio runner: docker is not available yet: ${reason}`)
  else void docker.start()
  runners.push(docker)
}

const server = createRunnerServer({ runners, token, hostname: env.RUNNER_HOST ?? '127.0.0.1', port })
console.error(`shellfolio runner: serving ${kinds.join(', ')} at ${server.url}`)

let stopping = false
const stop = async () => {
  if (stopping) return
  stopping = true
  await server.close()
  process.exit(0)
}
process.on('SIGTERM', () => void stop())
process.on('SIGINT', () => void stop())
