// The per-user job ceiling and the pace of a large submission, through the sandbox's real sshd and PBS emulator:
// `scale 400` is refused with nothing submitted (not even a connection made); the agent counts the user's jobs of
// other clusters too; more than 20 new jobs go 20 at once, then at the pace asked for, with progress saying so, and
// a Cancel still ends the submission between two qsubs. Every qsub leaves a timestamped line (a login-PATH wrapper),
// and every job is submitted held (-h): it holds its place in PBS's count and runs nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from '../../src/core/cluster/cluster';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import { JobCeilingError } from '../../src/core/cluster/errors';
import { refusingPrompt } from '../../src/core/remote/prompt';
import { SshTransportPool } from '../../src/core/remote/sshTransport';
import { until } from '../fixtures/poll';
import { cliAs, liveWorkerJobs, smallClusterYaml } from './clusterFixture';
import { startSandbox, type Sandbox } from './sandbox';

const USER = 'gdceiling';

let sb: Sandbox;
let pool: SshTransportPool;
let work: string;
let qsubLog: string;

before(async () => {
  sb = await startSandbox({ user: USER });
  pool = new SshTransportPool({ prompt: refusingPrompt, agent: null, sshConfig: { configFile: sb.sshConfigPath, systemConfigFile: null } });
  work = mkdtempSync(join(tmpdir(), 'ceiling-'));
  chmodSync(work, 0o755); // the cluster account reads its config from here
  qsubLog = join(sb.home, 'qsub.log');
  sb.wrapCommand('qsub', `date +%s.%N >> ${qsubLog}\nexec ${sb.realCommand('qsub')} -h "$@"\n`);
});

after(async () => {
  sb?.unwrapCommand('qsub');
  await pool?.close();
  await sb?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The times (s) of every qsub run since the log was last cleared. */
const qsubTimes = (): number[] => (existsSync(qsubLog) ? readFileSync(qsubLog, 'utf8').trim().split('\n').filter(Boolean).map(Number) : []);

const cluster = (name: string, extra = '', submitRate?: number) =>
  new Cluster(pool.open(sb.alias), parseClusterConfig(smallClusterYaml(name, sb.alias, extra)), { submitRate });

describe('the job ceiling and the pace of submissions', { concurrency: false }, () => {
  test('CLI scale 400 with the default ceiling: refused with the ceiling, its source and the setting; nothing submitted', async () => {
    const name = 'over';
    const config = join(work, `${name}.dask-cluster.yaml`);
    writeFileSync(config, smallClusterYaml(name, 'unused-with-local'));
    chmodSync(config, 0o644);
    const r = await cliAs(sb, ['scale', '400'], config);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /Scaling the cluster to 400 worker jobs is refused: that is above a ceiling of 300 jobs queued or running per user/);
    assert.match(r.stderr, /\(the default: the per-user cap of public Gadi workflow configurations \("Gadi exec max"\); set scheduler\.max-jobs in the cluster config to change it\)/);
    assert.match(r.stderr, /Nothing was submitted\./);
    assert.deepEqual(qsubTimes(), [], 'no qsub ran');
    assert.equal(existsSync(join(sb.home, '.gadi-dask', 'clusters', name)), false, 'the cluster was not even created');
  });

  test("the agent counts the user's jobs of other clusters: a scale that would pass scheduler.max-jobs submits nothing", async () => {
    const other = cluster('others');
    const capped = cluster('capped', 'scheduler:\n  max-jobs: 4\n');
    try {
      const r = await other.scale({ jobs: 2 }, { wait: false });
      assert.equal(r.submitted.length, 2);
      const before = qsubTimes().length; // the scheduler's job and two workers'
      assert.equal(before, 3);
      await assert.rejects(capped.scale({ jobs: 1 }, { wait: false }), (e: unknown) => e instanceof JobCeilingError &&
        /would make 5 jobs of yours queued or running \(3 now, all clusters and other jobs included, and 2 new\), above a ceiling of 4 jobs queued or running per user \(scheduler\.max-jobs in the cluster config\)\. Nothing was submitted\./.test(e.message));
      assert.equal(qsubTimes().length, before, 'no qsub ran for the refused scale');
      assert.deepEqual(await liveWorkerJobs(pool.open(sb.alias), 'capped'), []);
      assert.equal((await capped.status()).jobs.length, 0);
      // Scaling the other cluster down is never refused, and makes room.
      await other.scale({ jobs: 1 }, { wait: false });
      const ok = await capped.scale({ jobs: 1 }, { wait: false });
      assert.equal(ok.submitted.length, 1);
    } finally {
      await capped.down();
      await other.down();
      rmSync(qsubLog, { force: true });
    }
  });

  test('23 new jobs: 20 at once, then 3 at the pace asked for (60 a minute here, 20 by default), progress saying why', async () => {
    const c = cluster('paced', '', 60);
    const progress: string[] = [];
    try {
      const r = await c.scale({ jobs: 23 }, { wait: false, onProgress: (m) => progress.push(m) });
      assert.equal(r.submitted.length, 23);
      assert.ok(progress.includes('Pacing the submissions: 20 of 23 worker jobs submitted, the rest at 60 a minute (Gadi takes at most 20 qsubs a minute from one user)'),
        progress.join('\n'));
      const times = qsubTimes().slice(1); // after the scheduler's job
      assert.equal(times.length, 23);
      const paced = times.slice(19).map((t, i, a) => (i ? t - a[i - 1]! : 0)).slice(1);
      assert.ok(paced.every((gap) => gap >= 0.95), `paced qsubs a second apart: ${paced.map((g) => g.toFixed(2)).join(', ')}`);
      assert.ok(times[19]! - times[0]! < paced.reduce((a, b) => a + b, 0) * 19 / 3, 'the first 20 were not paced');
      assert.deepEqual(await liveWorkerJobs(pool.open(sb.alias), 'paced'), [...r.submitted].sort());
    } finally {
      await c.down();
      rmSync(qsubLog, { force: true });
    }
  });

  test('a Cancel while the submission is paced ends it before the next qsub; what was submitted is all there is', async () => {
    const c = cluster('stopped', '', 6); // ten seconds between two paced qsubs
    const progress: string[] = [];
    const controller = new AbortController();
    try {
      const scaling = c.scale({ jobs: 25 }, { wait: false, signal: controller.signal, onProgress: (m) => progress.push(m) });
      await until('the pacing to begin', () => progress.some((m) => m.startsWith('Pacing the submissions')), { timeoutMs: 120_000, everyMs: 50 });
      controller.abort();
      const asked = Date.now();
      const r = await scaling;
      assert.ok(Date.now() - asked < 5000, `stopped within the wait, not after it (${Date.now() - asked} ms)`);
      assert.equal(r.stopped, true);
      assert.ok([20, 21].includes(r.submitted.length), `${r.submitted.length} submitted`);
      assert.deepEqual(await liveWorkerJobs(pool.open(sb.alias), 'stopped'), [...r.submitted].sort());
    } finally {
      await c.down();
      rmSync(qsubLog, { force: true });
    }
  });
});
