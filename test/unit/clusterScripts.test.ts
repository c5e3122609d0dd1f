// The lifecycle's remote scripts, run for real by bash (through the local transport) against stand-in qsub, qstat,
// qdel and python that record what they were asked: what gets submitted, cancelled and retired for each queue
// state, the lock, and that hostile values stay data.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readApplyOutput, readDownOutput } from '../../src/core/cluster/applyResult';
import {
  ClusterLockedError, DaskNotFoundError, PbsUnavailableError, PythonNotFoundError, SchedulerStartError,
} from '../../src/core/cluster/errors';
import { parseSections } from '../../src/core/cluster/output';
import { applyScript, downScript, statusScript, type ApplyPlan, type ScriptContext } from '../../src/core/cluster/remoteScript';
import { buildSnapshot } from '../../src/core/cluster/snapshot';
import { QsubQueueLimitError } from '../../src/core/pbs/submit';
import type { LocalTransport } from '../../src/core/remote/localTransport';
import { FakeCluster } from './clusterFakes';

const HASH = 'a'.repeat(64);
let f: FakeCluster;
let home: string;
let fake: string;
let transport: LocalTransport;

function ctx(extra: Partial<ScriptContext> = {}): ScriptContext {
  return {
    cluster: 'c', version: '0.1.0', hash: HASH, pythonWord: `"$HOME"/python`, prologue: [], client: 'unit test',
    lockWaitSeconds: 1, lockTtlSeconds: 60, ...extra,
  };
}

const clusterDir = () => f.clusterDir();
const calls = () => f.calls();
const states = (text: string) => f.states(text);
const jobsFile = (text: string) => f.jobsFile(text);

async function apply(plan: Partial<ApplyPlan>, extra: Partial<ScriptContext> = {}) {
  const script = applyScript(ctx(extra), { workerScript: '#!/bin/bash\nsleep 1\n', ...plan });
  const r = await transport.exec(script.command, { timeoutMs: 30_000 });
  return { sections: parseSections(r.stdout, script.marker, 'test', r.stderr), stdout: r.stdout, stderr: r.stderr };
}

const applyCtx = { cluster: 'c', host: 'test', python: 'python3' };

before(() => {
  f = new FakeCluster();
  ({ home, fake, transport } = f);
});

beforeEach(() => f.reset(HASH));

after(() => f.close());

describe('apply script', () => {
  test('a runtime with another hash is reported, and nothing is locked or submitted', async () => {
    const { sections } = await apply({ scaleTo: 3 }, { hash: 'b'.repeat(64) });
    assert.equal(readApplyOutput(sections, applyCtx).needsRuntime, true);
    assert.deepEqual(calls(), []);
    assert.equal(existsSync(join(clusterDir(), '.lock')), false);
  });

  test('scale from nothing: the scheduler job first, then N workers that depend on it, in one script', async () => {
    const { sections } = await apply({ scaleTo: 3, ensureScheduler: { placement: 'job', script: '#!/bin/bash\n#PBS -N s\n' } });
    const out = readApplyOutput(sections, applyCtx);
    assert.deepEqual(out.scheduler, { kind: 'submitted', jobId: '1.gadi-pbs' });
    assert.deepEqual(out.submitted, ['2.gadi-pbs', '3.gadi-pbs', '4.gadi-pbs']);
    const qsubs = calls().filter((c) => c.startsWith('qsub'));
    assert.deepEqual(qsubs, ['qsub scheduler.pbs', ...Array(3).fill('qsub -W depend=after:1.gadi-pbs worker.pbs')]);
    assert.ok(calls().includes('python env'), 'python and Dask were checked before the scheduler job was submitted');
    const jobs = readFileSync(join(clusterDir(), 'jobs'), 'utf8').trim().split('\n').map((l) => l.split(' ').slice(0, 2).join(' '));
    assert.deepEqual(jobs, ['1.gadi-pbs scheduler', '2.gadi-pbs worker', '3.gadi-pbs worker', '4.gadi-pbs worker']);
    assert.equal(readFileSync(join(clusterDir(), 'worker.pbs'), 'utf8'), '#!/bin/bash\nsleep 1\n');
    assert.equal(existsSync(join(clusterDir(), '.lock')), false, 'the lock is released');
  });

  test('scale up on a running cluster submits only the difference, without a dependency', async () => {
    states('1.gadi-pbs R\n2.gadi-pbs R\n3.gadi-pbs Q\n4.gadi-pbs F\n');
    jobsFile('1.gadi-pbs scheduler 1\n2.gadi-pbs worker 1\n3.gadi-pbs worker 1\n4.gadi-pbs worker 1\n');
    writeFileSync(join(fake, 'seq'), '4');
    const { sections } = await apply({ scaleTo: 5, ensureScheduler: { placement: 'job', script: 'x' } });
    const out = readApplyOutput(sections, applyCtx);
    assert.deepEqual(out.scale, { before: 2, queued: 1, running: 1, target: 5 });
    assert.deepEqual(out.scheduler, { kind: 'job-exists', jobId: '1.gadi-pbs', state: 'R' });
    assert.deepEqual(out.submitted, ['5.gadi-pbs', '6.gadi-pbs', '7.gadi-pbs']);
    assert.deepEqual(calls().filter((c) => c.startsWith('qsub')), Array(3).fill('qsub worker.pbs'));
    assert.equal(calls().filter((c) => c.startsWith('qstat')).length, 1, 'one qstat for all jobs');
    assert.ok(!calls().includes('python env'), 'no Python check when the scheduler job exists');
  });

  test('scale down cancels queued jobs newest first, then retires running ones through the runtime', async () => {
    states('1.gadi-pbs R\n2.gadi-pbs R\n3.gadi-pbs R\n4.gadi-pbs Q\n5.gadi-pbs H\n');
    jobsFile('1.gadi-pbs scheduler 1\n2.gadi-pbs worker 1\n3.gadi-pbs worker 1\n4.gadi-pbs worker 1\n5.gadi-pbs worker 1\n');
    const { sections } = await apply({ scaleTo: 1 });
    const out = readApplyOutput(sections, applyCtx);
    assert.deepEqual(calls().filter((c) => !c.startsWith('qstat')), [
      'qdel 5.gadi-pbs 4.gadi-pbs',
      'python retire --name c --count 1 --qdel 2.gadi-pbs 3.gadi-pbs',
    ]);
    assert.deepEqual(out.cancelled.map((c) => [c.id, c.outcome]), [['5.gadi-pbs', 'deleted'], ['4.gadi-pbs', 'deleted'], ['3.gadi-pbs', 'deleted']]);
    assert.deepEqual(out.submitted, []);
  });

  test('scale to the current size changes nothing', async () => {
    states('2.gadi-pbs R\n3.gadi-pbs Q\n');
    jobsFile('2.gadi-pbs worker 1\n3.gadi-pbs worker 1\n');
    const out = readApplyOutput((await apply({ scaleTo: 2 })).sections, applyCtx);
    assert.deepEqual([out.submitted, out.cancelled], [[], []]);
    assert.deepEqual(calls().filter((c) => !c.startsWith('qstat')), []);
  });

  test('Gadi\'s silent exit 32 stops the submissions and becomes QsubQueueLimitError', async () => {
    states('1.gadi-pbs R\n');
    jobsFile('1.gadi-pbs scheduler 1\n');
    writeFileSync(join(fake, 'qsub.rc'), '32');
    const out = readApplyOutput((await apply({ scaleTo: 4, ensureScheduler: { placement: 'job', script: 'x' } })).sections, applyCtx);
    assert.equal(calls().filter((c) => c.startsWith('qsub')).length, 1, 'the first refusal stops the rest');
    assert.equal(out.submitErrors.length, 1);
    assert.ok(out.submitErrors[0] instanceof QsubQueueLimitError);
    assert.match(out.submitErrors[0].message, /gadi-dask lint/);
  });

  test('when PBS does not answer, nothing is submitted or cancelled', async () => {
    states('2.gadi-pbs R\n');
    jobsFile('2.gadi-pbs worker 1\n');
    writeFileSync(join(fake, 'qstat.fail'), '');
    const { sections } = await apply({ scaleTo: 5 });
    assert.throws(() => readApplyOutput(sections, applyCtx), (e: unknown) => e instanceof PbsUnavailableError && /cannot connect to server/.test(e.message));
    assert.deepEqual(calls().filter((c) => !c.startsWith('qstat')), []);
  });

  test('no Dask after the prologue: nothing submitted, the error names the fix and quotes the prologue', async () => {
    writeFileSync(join(fake, 'nodask'), '');
    const { sections } = await apply(
      { scaleTo: 2, ensureScheduler: { placement: 'job', script: 'x' } },
      { prologue: ['echo "ERROR: Unable to locate a modulefile for python3/9.9" >&2'] },
    );
    assert.throws(() => readApplyOutput(sections, applyCtx), (e: unknown) =>
      e instanceof DaskNotFoundError && /job-script-prologue/.test(e.message) && /Unable to locate a modulefile/.test(e.message));
    assert.deepEqual(calls().filter((c) => c.startsWith('qsub')), []);
  });

  test('a python that does not exist is PythonNotFoundError', async () => {
    const { sections } = await apply({ scaleTo: 1, ensureScheduler: { placement: 'job', script: 'x' } }, { pythonWord: '/no/such/python3' });
    assert.throws(() => readApplyOutput(sections, { ...applyCtx, python: '/no/such/python3' }),
      (e: unknown) => e instanceof PythonNotFoundError && e.message.includes('/no/such/python3'));
  });

  test('a held lock makes a second client wait, then fail with who holds it', async () => {
    mkdirSync(join(clusterDir(), '.lock'), { recursive: true });
    writeFileSync(join(clusterDir(), '.lock', 'owner'), `${process.pid} ${'elsewhere'} ${Math.floor(Date.now() / 1000) + 600} gadi-dask on laptop\n`);
    const started = Date.now();
    const { sections } = await apply({ scaleTo: 1 });
    assert.ok(Date.now() - started >= 900, 'it waited for the lock');
    assert.throws(() => readApplyOutput(sections, applyCtx), (e: unknown) => e instanceof ClusterLockedError && /gadi-dask on laptop/.test(e.message));
    assert.ok(existsSync(join(clusterDir(), '.lock')), 'another client\'s lock is left alone');
  });

  test('a lock whose owner died on this host is taken over', async () => {
    mkdirSync(join(clusterDir(), '.lock'), { recursive: true });
    const hostname = (await transport.exec('echo $HOSTNAME')).stdout.trim().split('\n').at(-1);
    writeFileSync(join(clusterDir(), '.lock', 'owner'), `999999 ${hostname} ${Math.floor(Date.now() / 1000) + 600} dead client\n`);
    const out = readApplyOutput((await apply({ scaleTo: 1 })).sections, applyCtx);
    assert.deepEqual(out.submitted, ['1.gadi-pbs']);
  });

  test('adapt on writes adapt.json with the live worker jobs; scale turns it off again', async () => {
    states('2.gadi-pbs R\n3.gadi-pbs F\n');
    jobsFile('2.gadi-pbs worker 1\n3.gadi-pbs worker 1\n');
    const on = readApplyOutput((await apply({ adapt: { jsonHead: '{"min":1,"max":4,"jobs":[' } })).sections, applyCtx);
    assert.equal(on.adaptAdopted, 1);
    assert.deepEqual(JSON.parse(readFileSync(join(clusterDir(), 'adapt.json'), 'utf8')), { min: 1, max: 4, jobs: ['2.gadi-pbs'] });
    // Adaptivity submitted 4 itself; scaling must count it and take it over.
    writeFileSync(join(clusterDir(), 'adapt-state.json'), JSON.stringify({ jobs: [{ id: '4.gadi-pbs', state: 'pending' }] }, null, 2));
    states('2.gadi-pbs R\n3.gadi-pbs F\n4.gadi-pbs Q\n');
    const off = readApplyOutput((await apply({ scaleTo: 2 })).sections, applyCtx);
    assert.equal(off.adaptWasOn, true);
    assert.equal(existsSync(join(clusterDir(), 'adapt.json')), false);
    assert.deepEqual(off.submitted, [], 'the adaptive job counts towards the two');
    assert.match(readFileSync(join(clusterDir(), 'jobs'), 'utf8'), /^4\.gadi-pbs worker/m);
  });

  test('hostile values reach the commands as data, never as shell', async () => {
    const evil = `x'"; touch ${home}/pwned; echo "$(touch ${home}/pwned2)\``;
    const { sections } = await apply(
      { scaleTo: 1, ensureScheduler: { placement: 'login', args: ['--interface', evil] }, workerScript: evil },
      { client: evil, prologue: [] },
    );
    assert.throws(() => readApplyOutput(sections, applyCtx), (e: unknown) => e instanceof SchedulerStartError && /bad interface/.test(e.message));
    assert.equal(existsSync(join(home, 'pwned')), false);
    assert.equal(existsSync(join(home, 'pwned2')), false);
    assert.equal(readFileSync(join(clusterDir(), 'worker.pbs'), 'utf8'), evil, 'the script arrives byte for byte');
    assert.ok(calls().some((c) => c === `python scheduler --interface ${evil} --detach --wait 60`), calls().join('\n'));
  });

  test('job ids that are not PBS ids are never passed on', async () => {
    jobsFile('$(touch pwned) worker 1\n2.gadi-pbs;rm worker 1\n5.gadi-pbs worker 1\n');
    states('5.gadi-pbs R\n');
    await apply({ scaleTo: 1 });
    assert.deepEqual(calls().filter((c) => c.startsWith('qstat')), ['qstat -f 5.gadi-pbs']);
  });
});

describe('status and down scripts', () => {
  test('status reads the jobs file, one qstat -x for all jobs, and the probe; a missing cluster says so', async () => {
    let script = statusScript(ctx(), 5);
    let r = await transport.exec(script.command);
    let snap = buildSnapshot({ cluster: 'c', host: 'test', workerPrefix: 'c', sections: parseSections(r.stdout, script.marker, 'status') });
    assert.equal(snap.exists, false);
    assert.deepEqual(calls(), []);

    states('1.gadi-pbs R\n2.gadi-pbs Q\n3.gadi-pbs F\n');
    jobsFile('1.gadi-pbs scheduler 100\n2.gadi-pbs worker 100\n3.gadi-pbs worker 100\n');
    script = statusScript(ctx(), 5);
    r = await transport.exec(script.command);
    snap = buildSnapshot({ cluster: 'c', host: 'test', workerPrefix: 'c', sections: parseSections(r.stdout, script.marker, 'status') });
    assert.deepEqual(calls().filter((c) => c.startsWith('qstat')), ['qstat -x -f -F json 1.gadi-pbs 2.gadi-pbs 3.gadi-pbs']);
    assert.deepEqual(snap.jobs.map((j) => [j.id, j.role, j.state]), [['1.gadi-pbs', 'scheduler', 'R'], ['2.gadi-pbs', 'worker', 'Q']]);
    assert.deepEqual(snap.finishedJobs.map((j) => j.id), ['3.gadi-pbs']);
    assert.equal(snap.scheduler.state, 'starting', 'its job runs, the scheduler file is not there yet');
    assert.equal(snap.jobs[1].submittedAt?.getTime(), 100_000);
  });

  test('down stops through the runtime, cancels what is still queued or running, and cleans up', async () => {
    states('1.gadi-pbs R\n2.gadi-pbs Q\n3.gadi-pbs F\n');
    jobsFile('1.gadi-pbs scheduler 1\n2.gadi-pbs worker 1\n3.gadi-pbs worker 1\n');
    writeFileSync(join(clusterDir(), 'adapt.json'), '{}');
    const script = downScript(ctx(), 10, false);
    const r = await transport.exec(script.command);
    const out = readDownOutput(parseSections(r.stdout, script.marker, 'down'), applyCtx);
    assert.deepEqual(calls().filter((c) => !c.startsWith('qstat')), ['python shutdown --name c --timeout 10', 'qdel 1.gadi-pbs 2.gadi-pbs']);
    assert.deepEqual(out.cancelled.map((c) => c.id), ['1.gadi-pbs', '2.gadi-pbs']);
    assert.equal(existsSync(join(clusterDir(), 'jobs')), false);
    assert.equal(existsSync(join(clusterDir(), 'adapt.json')), false);
    assert.ok(existsSync(clusterDir()), 'without purge the directory (and job output) stays');

    const purge = downScript(ctx(), 10, true);
    const p = readDownOutput(parseSections((await transport.exec(purge.command)).stdout, purge.marker, 'down'), applyCtx);
    assert.equal(p.purged, true);
    assert.equal(existsSync(clusterDir()), false);
  });
});
