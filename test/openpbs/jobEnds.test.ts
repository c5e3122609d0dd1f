// How jobs end on real PBS, read by the same core the tree and the report use: a job killed at its walltime, a
// deleted running job's exiting phase (R, then E, then F with SIGTERM's status), the efficiency figures against what the
// job itself measured, `qstat -x` history in the cluster's report, and the journal after a link drop mid-scale.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster } from '../../src/core/cluster/cluster';
import { jobEfficiency } from '../../src/core/pbs/efficiency';
import { parseQstatJson, type PbsJob } from '../../src/core/pbs/qstat';
import { describeExitStatus } from '../../src/core/pbs/states';
import type { Transport } from '../../src/core/remote/transport';
import { until } from '../fixtures/poll';
import { jobsOf, liveJobsOf, pbs, startRealPbs, type RealPbs } from './realPbs';

const USER = 'gdpbsends';
let env: RealPbs;
let t: Transport;

before(async () => {
  env = await startRealPbs(USER);
  t = env.pool.open(env.sb.alias);
});
after(() => env?.stop());

/** qstat's history of one job as the core reads it. */
function finished(id: string): PbsJob {
  const [job] = parseQstatJson(pbs('qstat', ['-x', '-f', '-F', 'json', id]).stdout).jobs;
  assert.ok(job, `qstat -x knows ${id}`);
  return job;
}

const finishedState = (id: string) =>
  until(`${id} to finish`, () => (pbs('qstat', ['-x', '-f', '-F', 'json', id]).stdout.includes('"job_state":"F"') ? true : undefined), { timeoutMs: 90_000, everyMs: 500 });

test('a job killed at its walltime reads as killed by PBS for its walltime', async () => {
  const r = await t.exec("cd; qsub -l walltime=00:00:03 -N wall -- /bin/sleep 300");
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  await finishedState(id);
  const job = finished(id);
  assert.equal(job.exitStatus, -29);
  assert.match(describeExitStatus(job.exitStatus!), /walltime exceeded/);
  assert.ok(job.stateInfo.finished);
});

test('the efficiency figures are within 20 % of the CPU time the job itself measured', async () => {
  // Busy for 8 s of CPU, then prints what the process used by its own count.
  const burn = 'import os, time\nt = time.process_time()\nwhile time.process_time() - t < 8: pass\nu = os.times()\nprint("used", u.user + u.system)\n';
  await t.upload(burn, `${env.sb.home}/burn.py`);
  const r = await t.exec(`cd; qsub -l walltime=00:02:00 -N burn -j oe -o burn.out -- /usr/bin/python3 ${env.sb.home}/burn.py`);
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  await finishedState(id);
  const measured = Number(/used ([\d.]+)/.exec(await until('the job output', async () => (await t.exec('cat burn.out')).stdout || undefined, { timeoutMs: 30_000 }))![1]);
  const e = jobEfficiency(finished(id));
  assert.ok(measured >= 7.5, `the job measured ${measured} s of CPU`);
  assert.ok(Math.abs(e.cputSeconds! - measured) <= 0.2 * measured, `PBS says ${e.cputSeconds} s of CPU, the job measured ${measured} s`);
  assert.ok(e.walltimeSeconds! >= measured * 0.8, `walltime ${e.walltimeSeconds} s`);
  assert.ok(e.cpu! > 0.2 && e.cpu! <= 1.2, `CPU efficiency ${e.cpu}`);
});

describe('a cluster worker deleted by hand', { concurrency: false }, () => {
  const NAME = 'ends';
  let config: string;
  let cluster: Cluster;
  before(() => {
    config = env.config(NAME);
    cluster = env.cluster(NAME);
  });

  test('goes R → E → F; once it leaves R it is not counted, then it is finished, killed by SIGTERM', async () => {
    const up = await env.cli(['scale', '1', '--wait', '--timeout', '120'], config);
    assert.equal(up.code, 0, up.stderr);
    // Without a size held, so that no replacement comes into the count (holdSize.test.ts has the replacement).
    const off = await env.cli(['adapt', 'off'], config);
    assert.equal(off.code, 0, off.stderr);
    const worker = liveJobsOf(USER).find((j) => j.name.startsWith(`${NAME}-`))!;
    const del = await t.exec(`qdel ${worker.id}`);
    assert.equal(del.code, 0, del.stderr);
    const seen: string[] = [];
    await until(`${worker.id} to finish`, async () => {
      const snap = await cluster.status();
      const job = snap.jobs.concat(snap.finishedJobs).find((j) => j.id === worker.id);
      const pbsState = jobsOf(USER).find((j) => j.id === worker.id)?.state ?? '?';
      seen.push(`${pbsState}/${snap.counts.workerJobs}`);
      if (pbsState === 'E' || pbsState === 'F') assert.equal(snap.counts.workerJobs, 0, `a job in ${pbsState} is counted: ${seen.join(' ')}`);
      return pbsState === 'F' && job?.state === 'F' ? job : undefined;
    }, { timeoutMs: 60_000, everyMs: 200 });
    // PBS's record of the SIGTERM (256 + 15), or the shell's passing on of its worker's death by it (128 + 15):
    // which one depends on who of the two the signal ends first.
    const job = finished(worker.id);
    assert.ok([271, 143].includes(job.exitStatus!), `exit status ${job.exitStatus}`);
    assert.match(describeExitStatus(job.exitStatus!), /SIGTERM/);
  });

  test("qstat -x history: the cluster's report lists the finished jobs with what they used", async () => {
    const r = await env.cli(['report', '--json'], config);
    assert.equal(r.code, 0, r.stderr);
    const ids = jobsOf(USER).filter((j) => j.name.startsWith(`${NAME}-`)).map((j) => j.id);
    for (const id of ids) assert.ok(r.stdout.includes(id), `the report names ${id}`);
  });

  test('a link dropped mid-scale: the agent finishes, the journal and PBS agree on exactly the jobs asked for', async () => {
    // A slow server: each qsub takes a second, so the drop lands between two submissions.
    writeFileSync(join(env.sb.home, 'pbs-delay-qsub'), '1\n');
    env.sb.wrapCommand('qsub', readFileSync(join(__dirname, 'wrapper.sh'), 'utf8'));
    const cli = spawn(process.execPath, ['--import', require.resolve('tsx'), join(__dirname, '..', '..', 'src', 'cli', 'cli.ts'),
      'scale', '3', '--no-wait', '--config', config, '--ssh-config', env.sb.sshConfigPath], { stdio: 'ignore' });
    const exited = new Promise<number | null>((done) => cli.on('close', done));
    await until('the first new worker job in PBS', () => liveJobsOf(USER).filter((j) => j.name.startsWith(`${NAME}-`)).length >= 2 || undefined, { timeoutMs: 60_000, everyMs: 100 });
    await env.sb.killSessions();
    const code = await Promise.race([exited, new Promise((done) => setTimeout(() => done('still running'), 60_000))]);
    assert.notEqual(code, 'still running', 'the CLI exits after its link dropped');
    await until('three worker jobs', () => liveJobsOf(USER).filter((j) => j.name.startsWith(`${NAME}-`)).length === 3 || undefined, { timeoutMs: 60_000, everyMs: 500 });
    env.sb.unwrapCommand('qsub');
    const snap = await cluster.status();
    const live = liveJobsOf(USER).filter((j) => j.name.startsWith(`${NAME}-`)).map((j) => j.id).sort();
    assert.deepEqual(snap.jobs.filter((j) => j.role === 'worker').map((j) => j.id).sort(), live);
    const again = await env.cli(['scale', '3', '--no-wait'], config);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(liveJobsOf(USER).filter((j) => j.name.startsWith(`${NAME}-`)).length, 3, 'nothing submitted twice');
    const down = await env.cli(['down'], config);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(liveJobsOf(USER).map((j) => j.id), []);
  });
});
