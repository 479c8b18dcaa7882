import { runRunnerContract } from '../contract.ts'
import { selftestProject } from '../test-fixtures.ts'
import { createWasiRunner } from './index.ts'

runRunnerContract({
  name: 'wasi',
  create: async () => createWasiRunner(),
  project: selftestProject(),
  timeoutMs: 90_000,
})
