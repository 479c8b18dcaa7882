import { runRunnerContract } from '../contract.ts'
import { createWasiRunner } from './index.ts'
import { selftestProject } from './test-fixtures.ts'

runRunnerContract({
  name: 'wasi',
  create: async () => createWasiRunner(),
  project: selftestProject(),
  timeoutMs: 90_000,
})
