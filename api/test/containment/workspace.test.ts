import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import {
  compileProgram,
  expectContained,
  MiB,
  PLACEMENTS,
  type Stack,
  sessionTreeRss,
  startStack,
  underAttack,
  Visitor,
} from './kit.ts'

/**
 * Issue 14, item 4: no workspace limit, and program memory beyond the cap. Files a program wrote
 * were copied back into the API's memory (three 100 MiB files: +848 MB for the rest of the
 * session), and 700 MiB written to a program's /tmp grew its host process to 1.5 GB.
 */
const BIG_FILES =
  'int main(void){static char b[65536];char n[]="big0";for(int k=0;k<3;k++){n[3]=(char)(48+k);FILE*f=fopen(n,"w");if(!f){puts("open-refused");return 1;}for(int i=0;i<1600;i++)if(fwrite(b,1,65536,f)!=65536){puts("write-refused");fclose(f);return 1;}fclose(f);}puts("wrote-300MiB");return 0;}'
const BIG_TMP =
  'int main(void){static char b[65536];FILE*f=fopen("/tmp/huge","w");if(!f){puts("open-refused");return 1;}for(int i=0;i<11200;i++)if(fwrite(b,1,65536,f)!=65536){puts("write-refused");fclose(f);return 1;}fclose(f);puts("wrote-700MiB");return 0;}'

/**
 * What the sessions' process tree (session and program hosts; not the shared compiler processes) may
 * grow by while one program writes: the program host's cap (640 MiB RSS, sampled every 150 ms, so a
 * fast writer passes it by up to what it writes in one interval before it is killed), the warm
 * program host started to replace the one taken, and the session host's workspace
 * (docs/budgets.md). Measured peaks: 0.5–0.94 GiB.
 */
const TREE_BUDGET = 1024 * MiB

describe.each(PLACEMENTS)('containment 4: workspace and program memory (%s)', (placement) => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(placement)
  }, 180_000)
  afterAll(() => stack?.stop(), 60_000)

  test('three 100 MiB files and 700 MiB in /tmp: refused or contained, the API does not grow', async () => {
    const victim = await Visitor.open(stack, { record: true })
    const attacker = await Visitor.open(stack)
    await compileProgram(attacker, 'big', BIG_FILES)
    await compileProgram(attacker, 'tmpfill', BIG_TMP)
    const treeBefore = sessionTreeRss(stack.workerPid)
    let treePeak = treeBefore
    const sampler = setInterval(() => {
      treePeak = Math.max(treePeak, sessionTreeRss(stack.workerPid))
    }, 200)
    let out = ''
    const m = await underAttack(stack, async () => {
      const running = attacker.run('./big; ls -l; ./tmpfill', 180_000)
      await victim.keepsAnswering(4_000)
      out = await running
      // The session lives on with what it wrote (or was refused): the API must not hold it.
      await victim.keepsAnswering(2_000)
    })
    clearInterval(sampler)
    expectContained(m)
    expect(out).toMatch(/refused|No space|quota|limit/i)
    expect(treePeak - treeBefore).toBeLessThan(TREE_BUDGET)
    await attacker.responsive('attacker-alive')
    expect(victim.all).not.toContain('big0')
    attacker.close()
    victim.close()
  }, 420_000)
})
