// Scale holds its size (the sandbox: real sshd, the PBS emulator running jobs for real, Debian's Dask), through the
// CLI as the cluster account: a worker job deleted by hand is replaced by the scheduler's controller and the
// replacement is journaled; the size held is the one last set, by whoever; a worker prologue that fails is tried at
// most three times in a row, then `status` says why with the job's own error output and nothing more is submitted.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterSnapshot } from '../../src/core/cluster/snapshot';
import { cliAs, runAs, smallClusterYaml } from './clusterFixture';
import { journaledWorkers, pbsWorkerJobs } from './holdWorkload';
import { startSandbox, type Sandbox } from './sandbox';
import { until as poll } from '../fixtures/poll';

const USER = 'gdhold';

let sb: Sandbox;
let work: string;

before(async () => {
  sb = await startSandbox({ user: USER });
  work = mkdtempSync(join(tmpdir(), 'hold-size-'));
  chmodSync(work, 0o755); // the cluster account reads its configs from here
});

after(async () => {
  await sb?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function configFile(name: string, extra = ''): string {
  const path = join(work, `${name}.dask-cluster.yaml`);
  writeFileSync(path, smallClusterYaml(name, 'unused-with-local', extra));
  chmodSync(path, 0o644);
  return path;
}

const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000) => poll(what, probe, { timeoutMs, everyMs: 1000 });

async function cli(config: string, args: string[]) {
  const r = await cliAs(sb, args, config);
  return { ...r, json: () => JSON.parse(r.stdout) };
}

async function status(config: string): Promise<ClusterSnapshot> {
  const r = await cli(config, ['status', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return r.json();
}

describe('a held size', { concurrency: false }, () => {
  const name = 'hold';
  let config: string;
  before(() => {
    config = configFile(name);
  });
  after(async () => {
    await cli(config, ['down']);
  });

  test('scale 2 --wait holds 2 jobs, and status says so', async () => {
    const r = await cli(config, ['scale', '2', '--wait', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json().holding, 2);
    const s = await until('the controller reports 2 running', async () => {
      const snap = await status(config);
      return snap.adaptive?.hold && snap.adaptive.running === 2 ? snap : undefined;
    });
    assert.equal(s.adaptive?.min, 2);
    const text = await cli(config, ['status']);
    assert.match(text.stdout, /^Target: holding 2 jobs: 2 running/m);
  });

  test('a worker job deleted by hand is replaced, and the replacement is journaled', async () => {
    const before = (await status(config)).jobs.filter((j) => j.role === 'worker' && j.stateInfo.phase === 'running').map((j) => j.id);
    assert.equal(before.length, 2);
    const victim = before[0];
    const del = await runAs(sb, ['/bin/bash', '-lc', `qdel ${victim}`]);
    assert.equal(del.code, 0, del.stderr);
    const started = Date.now();
    const replacement = await until('a replacement job', async () => {
      const fresh = journaledWorkers(sb.home, name).filter((id) => !before.includes(id));
      return fresh.length ? fresh : undefined;
    }, 40_000);
    const seconds = (Date.now() - started) / 1000;
    assert.equal(replacement.length, 1, 'one job replaces one job');
    assert.ok(seconds < 30, `replaced within a controller period and a qstat (${seconds.toFixed(1)} s)`);
    const s = await until('two workers again', async () => {
      const snap = await status(config);
      return snap.counts.workers === 2 && snap.adaptive?.running === 2 ? snap : undefined;
    }, 60_000);
    assert.ok(s.jobs.some((j) => j.id === replacement[0] && j.workers.length === 1), 'the replacement runs the new worker');
    assert.deepEqual(journaledWorkers(sb.home, name).sort(), (await pbsWorkerJobs(sb, name)).map((j) => j.id), 'every worker job PBS has is in the journal');
  });

  test('the size held is the one last set: scale 1 from another client', async () => {
    const r = await cli(config, ['scale', '1', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json().holding, 1);
    const s = await until('the controller holds 1', async () => {
      const snap = await status(config);
      return snap.adaptive?.min === 1 && snap.counts.workerJobs === 1 ? snap : undefined;
    });
    assert.equal(s.adaptive?.max, 1);
    await new Promise((done) => setTimeout(done, 15_000)); // two controller periods: nothing comes back
    const later = await status(config);
    assert.equal(later.counts.workerJobs, 1);
  });

  test('cancelling a worker job from the tree lowers the size held instead of being replaced', async () => {
    const [job] = (await status(config)).jobs.filter((j) => j.role === 'worker').map((j) => j.id);
    const r = await cli(config, ['cancel', job, '--yes']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stderr, /Cluster hold now holds 0 worker jobs/);
    await new Promise((done) => setTimeout(done, 15_000));
    const s = await status(config);
    assert.equal(s.counts.workerJobs, 0, 'the cancelled job is not replaced');
  });
});

describe('a worker prologue that fails', { concurrency: false }, () => {
  const name = 'holdfail';
  let config: string;
  before(() => {
    // Only the worker jobs fail, as when a module their node needs is missing; the scheduler's job starts.
    config = configFile(name, `    job-script-prologue:
      - 'case "$PBS_JOBNAME" in ${name}-*) echo "ERROR: Unable to locate a modulefile for netcdf/9.9" >&2; exit 3;; esac'
`);
  });
  after(async () => {
    await cli(config, ['down']);
  });

  test('is tried three times in a row, then status shows the job\'s error output and nothing more is submitted', async () => {
    const r = await cli(config, ['scale', '1', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const s = await until('the controller stops replacing', async () => {
      const snap = await status(config);
      return snap.adaptive?.givenUp ? snap : undefined;
    }, 180_000);
    assert.match(s.adaptive!.givenUp!.reason, /3 jobs in a row ended before any worker connected/);
    const text = await until('the job\'s error output in status', async () => {
      const t = (await cli(config, ['status'])).stdout;
      return /netcdf\/9\.9/.test(t) ? t : undefined;
    });
    assert.match(text, /Stopped replacing jobs: .*Fix the cause, then scale again\./);
    assert.match(text, /\| ERROR: Unable to locate a modulefile for netcdf\/9\.9/);
    assert.equal(journaledWorkers(sb.home, name).length, 3);
    await new Promise((done) => setTimeout(done, 40_000)); // past every back-off the controller would have had
    assert.equal(journaledWorkers(sb.home, name).length, 3, 'no fourth job');
    assert.equal((await pbsWorkerJobs(sb, name)).length, 3);
    const journal = readFileSync(join(sb.home, '.gadi-dask', 'clusters', name, 'journal.jsonl'), 'utf8');
    assert.match(journal, /"op":"target-given-up"/, 'the journal records why');
  });
});
