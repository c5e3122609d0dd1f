// The per-user job ceiling on real OpenPBS, through the real sshd: `gadi-dask scale 400` with the default ceiling is
// refused with nothing submitted, and the agent counts the user's other jobs in PBS against `scheduler.max-jobs`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { JobCeilingError } from '../../src/core/cluster/errors';
import { jobsOf, liveJobsOf, startRealPbs, type RealPbs } from './realPbs';

const USER = 'gdpbsceiling';
let env: RealPbs;

before(async () => {
  env = await startRealPbs(USER);
});
after(() => env?.stop());

test('CLI scale 400 with the default ceiling: refused, naming the ceiling, its source and the setting; PBS has no job', async () => {
  const r = await env.cli(['scale', '400'], env.config('over'));
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /Scaling the cluster to 400 worker jobs is refused: that is above a ceiling of 300 jobs queued or running per user \(the default: .*"Gadi exec max".*; set scheduler\.max-jobs in the cluster config to change it\)\. Nothing was submitted\./);
  assert.deepEqual(jobsOf(USER), [], 'PBS never saw a job of the user');
  assert.equal(existsSync(join(env.sb.home, '.gadi-dask', 'clusters', 'over')), false);
});

test("the user's other jobs count: with scheduler.max-jobs 4 and 3 held jobs, scale 1 (scheduler + worker) submits nothing", async () => {
  const t = env.pool.open(env.sb.alias);
  const others: string[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const q = await t.exec('cd; qsub -h -N other -- /bin/sleep 600');
      assert.equal(q.code, 0, q.stderr);
      others.push(q.stdout.trim());
    }
    const capped = env.cluster('capped', 'scheduler:\n  max-jobs: 4\n');
    await assert.rejects(capped.scale({ jobs: 1 }, { wait: false }), (e: unknown) => e instanceof JobCeilingError &&
      /would make 5 jobs of yours queued or running \(3 now, all clusters and other jobs included, and 2 new\), above a ceiling of 4 jobs/.test(e.message));
    assert.deepEqual(liveJobsOf(USER).map((j) => j.id).sort(), [...others].sort(), 'only the three held jobs: nothing was submitted');
    assert.equal((await capped.status()).jobs.length, 0);
  } finally {
    if (others.length) await t.exec(`qdel ${others.join(' ')}`);
    await t.close();
  }
});
