/**
 * A runner instance in its own process, for the resume test: opens a docker session, types a line,
 * prints `{ sessionId, containerId }` on stdout and waits to be killed (-9) by the test.
 */
import { outputLine, track } from '../../contract.ts'
import { selftestProject } from '../../test-fixtures.ts'
import type { DockerSession } from '../session.ts'
import { requireDockerRunner } from '../test-fixtures.ts'

const runner = await requireDockerRunner({ poolSize: 0 })
const session = (await runner.open({ project: selftestProject(), size: { cols: 80, rows: 24 } })) as DockerSession
const transcript = track(session)
await transcript.waitFor(/\$ $/, 20_000)
session.write('echo before-crash\r')
await transcript.waitFor(outputLine('before-crash'))
await transcript.waitFor(/\$ $/)
console.log(JSON.stringify({ sessionId: session.id, containerId: session.containerId }))
await session.exited
