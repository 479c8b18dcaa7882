/**
 * An API-like runner process for the restart test: a warm pool plus one live session; prints its
 * instance id once everything runs, then waits to be killed -9.
 */
import { track } from '../../contract.ts'
import { requireDockerRunner, selftestProject } from '../fixture.ts'

const runner = await requireDockerRunner({ poolSize: 2 })
await runner.start()
const session = await runner.open({ project: selftestProject(), size: { cols: 80, rows: 24 } })
await track(session).waitFor(/\$ $/, 20_000)
const deadline = Date.now() + 30_000
while (runner.pooled < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
console.log(JSON.stringify({ instanceId: runner.instanceId, pooled: runner.pooled }))
await session.exited
