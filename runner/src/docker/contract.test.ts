import { runRunnerContract } from '../contract.ts'
import { selftestProject } from '../test-fixtures.ts'
import { requireDockerRunner } from './test-fixtures.ts'

runRunnerContract({
  name: 'docker',
  create: () => requireDockerRunner({ poolSize: 2 }),
  project: selftestProject(),
})
