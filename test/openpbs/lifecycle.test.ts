// A cluster's whole life on real OpenPBS, through the real sshd, with the CLI as the README gives it: up (the
// scheduler in its own job) → `scale 2 --wait` (no other option) → the tree's snapshot → cancel one job → scale 1
// (a worker retired, and read as retired) → scale 0 → down, with nothing of the cluster left in PBS. The cluster
// speaks TLS (the default), and no job attribute or process shows its keys.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster } from '../../src/core/cluster/cluster';
import { until } from '../fixtures/poll';
import { isLoopback } from '../sandbox/sandbox';
import { TLS_CERT_FILE, TLS_KEY_FILE } from '../../src/core/cluster/names';
import { inPrivateNetns, jobsOf, liveJobsOf, PBS_SERVER, startRealPbs, type RealPbs } from './realPbs';

const USER = 'gdpbslife';
const NAME = 'life';
let env: RealPbs;
let config: string;
let cluster: Cluster;

before(async () => {
  env = await startRealPbs(USER);
  config = env.config(NAME);
  cluster = env.cluster(NAME);
});
after(() => env?.stop());

const ours = () => liveJobsOf(USER).filter((j) => j.name.startsWith(`${NAME}-`) || j.name.startsWith(`dask-scheduler-${NAME}-`));

describe('a cluster on real PBS, through the CLI over SSH', { concurrency: false }, () => {
  test('the layer runs in its own network namespace', () => {
    assert.ok(inPrivateNetns());
  });

  test('up starts the scheduler in its own PBS job', async () => {
    const r = await env.cli(['up'], config);
    assert.equal(r.code, 0, r.stderr);
    const jobs = ours();
    assert.equal(jobs.length, 1, JSON.stringify(jobs.map((j) => [j.id, j.name, j.state])));
    assert.match(jobs[0]!.id, new RegExp(`^\\d+\\.${PBS_SERVER}$`));
    assert.match(jobs[0]!.name, new RegExp(`^dask-scheduler-${NAME}-[0-9a-f]{8}$`));
    assert.equal(jobs[0]!.state, 'R');
  });

  test('scale 2 --wait, with no other option, returns once two workers joined', async () => {
    const r = await env.cli(['scale', '2', '--wait'], config);
    assert.equal(r.code, 0, r.stderr);
    const snap = await cluster.status();
    assert.equal(snap.counts.workers, 2, JSON.stringify(snap.counts));
    assert.equal(ours().length, 3);
  });

  test("the tree's snapshot: states, queue, walltime and node from real PBS", async () => {
    const snap = await cluster.status();
    assert.equal(snap.scheduler.state, 'running');
    assert.match(snap.scheduler.address!, /^tls:\/\//, 'the cluster speaks TLS by default');
    assert.ok(isLoopback(new URL(snap.scheduler.address!.replace(/^tls:/, 'http:')).hostname), snap.scheduler.address);
    const workers = snap.jobs.filter((j) => j.role === 'worker');
    assert.equal(workers.length, 2);
    for (const j of workers) {
      assert.equal(j.state, 'R');
      assert.equal(j.pbs.queue, 'normal');
      assert.equal(j.pbs.requested.walltimeSeconds, 20 * 60);
      assert.deepEqual(j.pbs.nodes, [PBS_SERVER]);
      assert.equal(j.workers.length, 1, `one Dask worker inside ${j.id}`);
      assert.equal(j.workers[0]!.name, `${NAME}-${j.id}`);
    }
  });

  test('no job attribute (qstat -f shows Variable_List) and no argv or environment carries the cluster\'s keys', () => {
    const dir = join(env.sb.home, '.gadi-dask', 'clusters', NAME);
    const secrets = ['PRIVATE KEY', 'BEGIN CERTIFICATE', ...[TLS_KEY_FILE, TLS_CERT_FILE].map((f) =>
      readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => l && !l.startsWith('-----'))[2]!.slice(0, 40))];
    const jobs = jobsOf(USER);
    assert.ok(jobs.some((j) => 'Variable_List' in j.attrs), 'qstat -f gives the jobs\' attributes');
    const attributes = JSON.stringify(jobs.map((j) => j.attrs));
    for (const s of secrets) assert.ok(!attributes.includes(s), `a job attribute shows ${s}`);
    for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
      for (const what of ['cmdline', 'environ']) {
        let text = '';
        try {
          text = readFileSync(`/proc/${pid}/${what}`, 'latin1');
        } catch {
          continue; // gone meanwhile
        }
        for (const s of secrets) assert.ok(!text.includes(s), `/proc/${pid}/${what} shows ${s}`);
      }
    }
  });

  test('scale 1 retires a worker: it is not counted from then on, and once it ends it reads as retired', async () => {
    const r = await env.cli(['scale', '1'], config);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await cluster.status()).counts.workerJobs, 1);
    const retired = await until('the retired job to finish', async () => {
      const snap = await cluster.status();
      return snap.finishedJobs.find((j) => j.role === 'worker');
    }, { timeoutMs: 60_000, everyMs: 500 });
    assert.ok([0, 143, 271].includes(retired.pbs.exitStatus!), `exit status ${retired.pbs.exitStatus}`);
    assert.match(retired.end ?? '', /^retired/, retired.end);
  });

  test('cancel one job of the cluster', async () => {
    const worker = ours().find((j) => !j.name.startsWith('dask-scheduler-'))!;
    const r = await env.cli(['cancel', worker.id, '--yes'], config);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!ours().some((j) => j.id === worker.id && j.state === 'Q'));
  });

  test('scale 0, then down: nothing of the cluster left in PBS', async () => {
    const zero = await env.cli(['scale', '0'], config);
    assert.equal(zero.code, 0, zero.stderr);
    const down = await env.cli(['down'], config);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(ours().map((j) => `${j.id} ${j.state}`), []);
  });
});
