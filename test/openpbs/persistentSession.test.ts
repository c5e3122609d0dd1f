// placement: persistent-session on real OpenPBS: the scheduler runs in the stand-in session (its own sshd on
// another loopback address, reached by the nested ssh), in no PBS job; real PBS's commands work inside the session
// (the scheduler's own controller submits a worker with qsub from there); it outlives the walltime its job would
// have had; down cancels the jobs and stops the scheduler, and leaves the session running.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectClient, runAs } from '../sandbox/clusterFixture';
import { jobsOf, liveJobsOf, startRealPbs, type RealPbs } from './realPbs';

const USER = 'gdpbssession';
const NAME = 'longlived';
const WALLTIME_SECONDS = 40;
let env: RealPbs;
let config: string;

before(async () => {
  env = await startRealPbs(USER);
  config = env.config(NAME, 'scheduler:\n  placement: persistent-session\n  session: {name: dask, project: ab12}\n');
  // The walltime a scheduler job would have had (the workers').
  writeFileSync(config, readFileSync(config, 'utf8').replace("walltime: '00:20:00'", `walltime: '00:00:${WALLTIME_SECONDS}'`));
});
after(async () => {
  try {
    await env?.cli(['down'], config);
  } finally {
    await env?.stop();
  }
});

const meta = () => JSON.parse(readFileSync(join(env.sb.home, '.gadi-dask', 'clusters', NAME, 'runtime.json'), 'utf8')) as Record<string, unknown>;
const sessionSshd = () => Number(readFileSync(join(env.sb.home, '.pbs-emulator', 'sessions', 'sshd.pid'), 'utf8'));
const alive = (pid: number) => existsSync(`/proc/${pid}`);

describe('a scheduler in a persistent session on real PBS', { concurrency: false }, () => {
  let upAt = 0;
  let pid = 0;

  test('up starts the session and runs the scheduler there, in no PBS job', async () => {
    upAt = Date.now();
    const r = await env.cli(['up'], config);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\(persistent session dask\)/);
    const m = meta();
    assert.equal(m.placement, 'persistent-session');
    assert.equal(m.pbsJobId, null);
    pid = Number(m.pid);
    assert.ok(alive(pid));
    assert.deepEqual(jobsOf(USER).map((j) => j.name), [], 'no job of the user in PBS');
  });

  test('the scheduler\'s controller submits with real qsub from inside the session; the worker joins', async () => {
    const r = await env.cli(['adapt', '1', '1'], config);
    assert.equal(r.code, 0, r.stderr);
    const deadline = Date.now() + 120_000;
    let workers = 0;
    while (Date.now() < deadline && workers < 1) {
      const c = await runAs(env.sb, ['/usr/bin/python3', '-'], `import json\n${connectClient(NAME)}print(json.dumps(len(c.scheduler_info()["workers"])))\nc.close()\n`);
      workers = c.code === 0 ? Number(c.stdout.trim().split('\n').pop()) : 0;
      if (workers < 1) await new Promise((resolve) => setTimeout(resolve, 2000));
    }
    assert.equal(workers, 1);
    const jobs = liveJobsOf(USER);
    assert.equal(jobs.length, 1, JSON.stringify(jobs.map((j) => [j.id, j.name, j.state])));
    const off = await env.cli(['adapt', 'off'], config);
    assert.equal(off.code, 0, off.stderr);
  });

  test('the scheduler outlives the walltime its job would have had; a client computes on it', async () => {
    const wait = upAt + (WALLTIME_SECONDS + 15) * 1000 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    assert.ok(alive(pid));
    // The first worker's job ends at its walltime; a fresh one joins the same scheduler.
    const deadline = Date.now() + 90_000;
    while (liveJobsOf(USER).length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.deepEqual(liveJobsOf(USER).map((j) => j.id), [], 'the first worker\'s job has ended');
    assert.ok(alive(pid), 'the scheduler outlived it');
    const scale = await env.cli(['scale', '1', '--wait'], config);
    assert.equal(scale.code, 0, scale.stderr);
    const c = await runAs(env.sb, ['/usr/bin/python3', '-'], `${connectClient(NAME)}print(c.submit(sum, [1, 2, 3]).result(timeout=60))\nc.close()\n`);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(c.stdout.trim().split('\n').pop(), '6');
  });

  test('down cancels the jobs and stops the scheduler; the session runs on, and down says so', async () => {
    const sshd = sessionSshd();
    const r = await env.cli(['down'], config);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /The persistent session dask \(dask\.gdpbssession\.ab12\.ps\.gadi\.nci\.org\.au\) is still running/);
    assert.ok(!alive(pid));
    assert.ok(alive(sshd));
    assert.deepEqual(liveJobsOf(USER), []);
  });
});
