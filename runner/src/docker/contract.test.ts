import { runRunnerContract } from '../contract.ts'
import { requireDockerRunner, selftestProject } from './fixture.ts'

runRunnerContract({
  name: 'docker',
  create: () => requireDockerRunner({ poolSize: 2 }),
  project: selftestProject(),
})
