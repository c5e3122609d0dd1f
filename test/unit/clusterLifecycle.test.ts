// The Cluster API over the local transport with stand-in PBS and python: the deploy-on-first-use path, round trips
// per action, waiting for the scheduler job (progress, timeout, cancellation, a job that dies, one that comes up).
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, ClusterManager } from '../../src/core/cluster/cluster';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import { SchedulerStartError, SchedulerTimeoutError } from '../../src/core/cluster/errors';
import { loadRuntimeBundle } from '../../src/core/cluster/runtimeBundle';
import { AbortedError } from '../../src/core/remote/errors';
import { CountingTransport } from '../sandbox/clusterFixture';
import { FAKE_PYTHON, FakeCluster } from './clusterFakes';

const config = parseClusterConfig('jobqueue: {pbs: {name: c, cores: 2, memory: 1GB, processes: 2, python: ~/python}}');
const bundle = loadRuntimeBundle();
let f: FakeCluster;
let t: CountingTransport;

before(() => {
  f = new FakeCluster();
  t = new CountingTransport(f.transport);
});
beforeEach(() => {
  f.reset(bundle.hash, bundle.version);
  t.reset();
});
after(() => f.close());

test('on an account without the runtime, scale deploys it once and then submits; later scales are one exec each', async () => {
  f.reset();
  const progress: string[] = [];
  const c = new Cluster(t, config, { onProgress: (m) => progress.push(m) });
  const r = await c.scale({ workers: 3 }, { wait: false });
  assert.equal(r.targetJobs, 2, '3 workers at 2 processes per job');
  assert.deepEqual(r.submitted, ['2.gadi-pbs', '3.gadi-pbs']);
  assert.deepEqual(r.scheduler?.action, { kind: 'submitted', jobId: '1.gadi-pbs' });
  assert.deepEqual([t.execs, t.uploads], [4, 1], 'apply (no runtime), check, install, apply');
  assert.ok(progress.some((m) => m.startsWith('Installing the gadi-dask runtime')), progress.join('\n'));
  t.reset();
  const again = await c.scale({ jobs: 5 }, { wait: false });
  assert.deepEqual([t.execs, t.uploads, again.submitted.length], [1, 0, 3]);
  assert.deepEqual(f.calls().filter((x) => x.startsWith('qsub')).slice(-3), Array(3).fill('qsub -W depend=after:1.gadi-pbs worker.pbs'),
    'the scheduler job is still queued: new workers wait for it too');
});

test('the runtime is deployed once per connection for every cluster of a manager', async () => {
  const m = new ClusterManager(t, { runtime: bundle });
  const other = parseClusterConfig('jobqueue: {pbs: {name: d, cores: 1, memory: 1GB, python: ~/python}}');
  await m.cluster(config).up({ wait: false });
  const first = [t.execs, t.uploads];
  t.reset();
  await m.cluster(other).up({ wait: false });
  // The stand-in install has the right manifest but not the files: the check sees that and installs.
  assert.deepEqual(first, [3, 1], 'check, install, apply');
  assert.deepEqual([t.execs, t.uploads], [1, 0], 'the second cluster does not check again');
});

test('waiting for a queued scheduler job reports its state and gives up after the timeout, leaving the job', async () => {
  const progress: string[] = [];
  const c = new Cluster(t, config);
  await assert.rejects(
    c.up({ timeoutMs: 1200, pollMs: 200, onProgress: (m) => progress.push(m) }),
    (e: unknown) => e instanceof SchedulerTimeoutError && e.jobId === '1.gadi-pbs' && /keeps its place in the queue/.test(e.message),
  );
  assert.ok(progress.includes('scheduler job 1.gadi-pbs is queued'), progress.join('\n'));
  assert.equal(f.calls().filter((x) => x.startsWith('qdel')).length, 0);
});

test('the wait can be cancelled', async () => {
  const c = new Cluster(t, config);
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 400);
  const started = Date.now();
  await assert.rejects(c.up({ pollMs: 100, signal: controller.signal }), AbortedError);
  assert.ok(Date.now() - started < 5000);
});

test('a scheduler job that ends before its scheduler runs fails with the end of its log', async () => {
  const c = new Cluster(t, config);
  const up = await c.up({ wait: false });
  assert.equal(up.scheduler.action.kind, 'submitted');
  f.states('1.gadi-pbs F\n');
  writeFileSync(join(f.clusterDir(), 'scheduler-job.log'), 'Traceback...\nModuleNotFoundError: No module named distributed\n');
  await assert.rejects(c.waitForScheduler('1.gadi-pbs', { pollMs: 100 }), (e: unknown) =>
    e instanceof SchedulerStartError && /exited with status 1/.test(e.message) && /No module named distributed/.test(e.message));
});

test('the wait ends when runtime.json says this job\'s scheduler runs and the scheduler file is there', async () => {
  const c = new Cluster(t, config);
  await c.up({ wait: false });
  f.states('1.gadi-pbs R\n');
  const meta = { state: 'running', pbsJobId: '1.gadi-pbs', address: 'tcp://10.0.0.1:8786', placement: 'job', dashboard: { host: '10.0.0.1', port: 8787, url: 'http://10.0.0.1:8787/status' } };
  // An older scheduler's metadata does not count.
  writeFileSync(join(f.clusterDir(), 'runtime.json'), JSON.stringify({ ...meta, pbsJobId: '0.gadi-pbs' }));
  writeFileSync(join(f.clusterDir(), 'scheduler.json'), '{}');
  const waiting = c.waitForScheduler('1.gadi-pbs', { pollMs: 100 });
  setTimeout(() => writeFileSync(join(f.clusterDir(), 'runtime.json'), JSON.stringify(meta)), 300);
  const info = await waiting;
  assert.deepEqual(info, {
    address: 'tcp://10.0.0.1:8786', dashboard: meta.dashboard, jobId: '1.gadi-pbs', placement: 'job', host: undefined,
    schedulerFile: '~/.gadi-dask/clusters/c/scheduler.json',
  });
});

test('status and down are one exec each', async () => {
  const c = new Cluster(t, config);
  await c.scale({ jobs: 2 }, { wait: false });
  t.reset();
  const s = await c.status();
  assert.equal(t.execs, 1);
  assert.deepEqual(s.jobs.map((j) => j.role), ['scheduler', 'worker', 'worker']);
  t.reset();
  const d = await c.down();
  assert.equal(t.execs, 1);
  assert.deepEqual(d.cancelled.map((x) => x.id), ['1.gadi-pbs', '2.gadi-pbs', '3.gadi-pbs']);
});

test('cancelJobs is one exec: queued jobs and the scheduler are qdel\'ed, running workers retired first, others refused', async () => {
  f.states('1.gadi-pbs R\n2.gadi-pbs Q\n3.gadi-pbs R\n4.gadi-pbs F\n9.gadi-pbs Q\n');
  f.jobsFile('1.gadi-pbs scheduler 1\n2.gadi-pbs worker 1\n3.gadi-pbs worker 1\n4.gadi-pbs worker 1\n');
  const progress: string[] = [];
  const c = new Cluster(t, config, { runtime: bundle });
  const r = await c.cancelJobs(['3.gadi-pbs', '9.gadi-pbs', '2.gadi-pbs', '4.gadi-pbs'], { onProgress: (m) => progress.push(m) });
  assert.equal(t.execs, 1);
  assert.deepEqual(r.cancelled.map((x) => [x.id, x.outcome]), [
    ['3.gadi-pbs', 'deleted'], ['9.gadi-pbs', 'error'], ['2.gadi-pbs', 'deleted'], ['4.gadi-pbs', 'gone'],
  ], 'in the order asked');
  assert.match(r.cancelled[1].message ?? '', /not a job of cluster c/);
  assert.deepEqual(f.calls().filter((x) => !x.startsWith('qstat')), ['qdel 2.gadi-pbs', 'python retire --name c --count 1 --qdel 3.gadi-pbs']);
  assert.ok(progress.includes('Cancelled 2 job(s): 3.gadi-pbs, 2.gadi-pbs'), progress.join('\n'));
  assert.ok(!existsSync(join(f.clusterDir(), 'adapt-cancelled')), 'no note for adaptivity when it was never used');
  t.reset();
  const sched = await c.cancelJobs(['1.gadi-pbs']);
  assert.deepEqual(sched.cancelled.map((x) => [x.id, x.outcome]), [['1.gadi-pbs', 'deleted']]);
  assert.equal(f.calls().at(-1), 'qdel 1.gadi-pbs', 'the scheduler has no workers to retire');
});

test('cancelJobs cancels running workers with qdel when the runtime gives no answer, and refuses bad ids before any exec', async () => {
  f.states('3.gadi-pbs R\n');
  f.jobsFile('3.gadi-pbs worker 1\n');
  writeFileSync(join(f.home, 'python'), '#!/bin/bash\necho "Traceback: boom"\nexit 1\n');
  try {
    const r = await new Cluster(t, config, { runtime: bundle }).cancelJobs(['3.gadi-pbs']);
    assert.deepEqual(r.cancelled.map((x) => [x.id, x.outcome]), [['3.gadi-pbs', 'deleted']]);
    assert.ok(r.warnings.some((w) => /without handing their data over/.test(w)), r.warnings.join('\n'));
    assert.equal(f.calls().at(-1), 'qdel 3.gadi-pbs');
  } finally {
    writeFileSync(join(f.home, 'python'), FAKE_PYTHON);
  }
  t.reset();
  await assert.rejects(new Cluster(t, config).cancelJobs(['3.gadi-pbs; rm -rf ~']), RangeError);
  assert.equal(t.execs, 0);
});

test('cancelJobs on a cluster without a directory answers an error per job, cancelling nothing', async () => {
  f.states('5.gadi-pbs Q\n');
  const r = await new Cluster(t, config, { runtime: bundle }).cancelJobs(['5.gadi-pbs']);
  assert.deepEqual(r.cancelled.map((x) => x.outcome), ['error']);
  assert.deepEqual(f.calls().filter((x) => x.startsWith('qdel')), []);
});

test('with adaptivity on, the jobs cancelled are noted for its launcher, so it neither counts them nor backs off', async () => {
  f.states('2.gadi-pbs Q\n3.gadi-pbs R\n4.gadi-pbs R\n');
  f.jobsFile('4.gadi-pbs worker 1\n');
  writeFileSync(join(f.clusterDir(), 'adapt.json'), '{"min":0,"max":4,"jobs":[]}');
  writeFileSync(join(f.clusterDir(), 'adapt-state.json'), '{"jobs":[{"id":"2.gadi-pbs","state":"pending"},{"id":"3.gadi-pbs","state":"running"}]}');
  const r = await new Cluster(t, config, { runtime: bundle }).cancelJobs(['2.gadi-pbs', '3.gadi-pbs']);
  assert.deepEqual(r.cancelled.map((x) => x.outcome), ['deleted', 'deleted'], 'jobs adaptivity submitted are the cluster\'s too');
  assert.equal(readFileSync(join(f.clusterDir(), 'adapt-cancelled'), 'utf8'), '2.gadi-pbs\n3.gadi-pbs\n');
  assert.ok(existsSync(join(f.clusterDir(), 'adapt.json')), 'adaptivity stays on');
});
