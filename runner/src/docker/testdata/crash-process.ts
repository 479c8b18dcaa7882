/**
 * An API-like runner process for the restart test: a warm pool plus one live session; prints its
 * instance id once everything runs, then waits to be killed -9.
 */
import { track } from '../../contract.ts'
import { selftestProject } from '../../test-fixtures.ts'
import { poolReady, requireDockerRunner } from '../test-fixtures.ts'

const runner = await requireDockerRunner({ poolSize: 2 })
const session = await runner.open({ project: selftestProject(), size: { cols: 80, rows: 24 } })
await track(session).waitFor(/\$ $/, 20_000)
await poolReady(runner.pool, 2)
console.log(JSON.stringify({ instanceId: runner.instanceId, pooled: runner.pool.ready() }))
await session.exited
