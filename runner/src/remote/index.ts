/**
 * Remote runners (placement, docs/runners.md): `createRunnerServer` exposes this host's runners over an
 * internal WebSocket (`bun run runner`) and registers its capacity and health in Redis;
 * `createRemotePool` is what the API uses to place sessions on those services (`RUNNER_URLS`),
 * with signed single-use grants derived from the shared `RUNNER_TOKEN`.
 */

export { createGrantVerifier, GRANT_TTL_MS, type Grant, type GrantBody, signGrant } from './grant.ts'
export type { ClientFrame, RunnerInfo, ServerFrame } from './protocol.ts'
export {
  createRedisRegistration,
  type Registration,
  type RegistryReader,
  readRegistrations,
} from './registration.ts'
export {
  createRemotePool,
  type RemotePool,
  type RemotePoolOptions,
  type RemoteRunner,
  type ServiceState,
} from './runner.ts'
export { createRunnerServer, type RunnerServer, type RunnerServerOptions } from './server.ts'
export { RemoteSession } from './session.ts'
