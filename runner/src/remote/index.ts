/**
 * Remote runners (DESIGN.md §7 placement): `createRunnerServer` exposes local runners over an
 * internal, authenticated WebSocket (`bun run runner`); `createRemoteRunner` is the Runner the API
 * uses to reach them (`RUNNER_URLS`, `RUNNER_TOKEN`).
 */
export { createRemoteRunner, type RemoteRunnerOptions } from './client.ts'
export type { ClientFrame, HealthBody, ServerFrame } from './protocol.ts'
export { createRunnerServer, type RunnerServerOptions } from './server.ts'
