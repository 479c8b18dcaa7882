/**
 * The Docker back end of the runner interface (docs/runners.md).
 *
 *   const runner = new DockerRunner({ poolSize: 2, runtime: 'auto' })
 *   if (await runner.available()) { const session = await runner.open({ project, size }) }
 */
export { CommandLineTracker, type PromptKind } from './line-tracker.ts'
export { DockerRunner, type DockerRunnerOptions } from './runner.ts'
export {
  chooseRuntime,
  engineRuntimes,
  parseSandboxRuntime,
  RUNSC_SETUP,
  SANDBOX_RUNTIME_SETTINGS,
  type SandboxRuntime,
  type SandboxRuntimeSetting,
} from './runtime.ts'
export {
  DEFAULT_LIMITS,
  LABEL_EXPIRES,
  LABEL_MANAGED,
  LABEL_OWNER,
  LABEL_SESSION,
  reapOrphans,
  type SandboxLimits,
} from './sandbox.ts'
export { DockerSession } from './session.ts'
