/** `bun run typecheck`: tsc --noEmit over every workspace. */
let failed = false
for (const ws of ['api', 'runner', 'web']) {
  const proc = Bun.spawn(['bun', 'x', 'tsc', '--noEmit', '-p', ws], { stdout: 'inherit', stderr: 'inherit' })
  const code = await proc.exited
  console.log(`typecheck ${ws}: ${code === 0 ? 'ok' : 'failed'}`)
  failed ||= code !== 0
}
process.exit(failed ? 1 : 0)
