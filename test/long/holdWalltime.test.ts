// A held size through three walltimes (the sandbox: real sshd, the PBS emulator enforcing walltimes, Debian's Dask):
// worker jobs of 4 minutes, the scheduler's job of an hour, scale 2, and a computation of 12 minutes on scattered
// data. Successors are submitted ahead of each retirement, so the result is the one computed without a cluster, at
// least one worker is always there and two for 90 % of the seconds; every job PBS ran is journaled; down leaves none.
// GADI_DASK_HOLD_MINUTES shortens the run while working on it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliAs, runAs, smallClusterYaml } from '../sandbox/clusterFixture';
import { capacity, holdWorkloadPython, journaledWorkers, pbsWorkerJobs, type HoldRun } from '../sandbox/holdWorkload';
import { startSandbox, type Sandbox } from '../sandbox/sandbox';

const USER = 'gdwall';
const NAME = 'wall';
const MINUTES = Number(process.env.GADI_DASK_HOLD_MINUTES ?? 12);

let sb: Sandbox;
let work: string;
let config: string;

before(async () => {
  sb = await startSandbox({ user: USER });
  work = mkdtempSync(join(tmpdir(), 'hold-walltime-'));
  chmodSync(work, 0o755);
  config = join(work, `${NAME}.dask-cluster.yaml`);
  const yaml = smallClusterYaml(NAME, 'unused-with-local', "scheduler:\n  walltime: '01:00:00'\n").replace("walltime: '00:20:00'", "walltime: '00:04:00'");
  writeFileSync(config, yaml);
  chmodSync(config, 0o644);
});

after(async () => {
  await sb?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const cli = (args: string[]) => cliAs(sb, args, config);

test(`scale 2 holds 2 workers through ${MINUTES} minutes of 4-minute jobs`, { timeout: (MINUTES + 10) * 60_000 }, async () => {
  const scaled = await cli(['scale', '2', '--wait']);
  assert.equal(scaled.code, 0, scaled.stderr);
  const r = await runAs(sb, ['/bin/bash', '-lc', '/usr/bin/python3 -'], holdWorkloadPython(NAME, MINUTES * 60));
  const last = r.stdout.trim().split('\n').pop() ?? '';
  assert.ok(last.startsWith('{'), `the client's answer: ${r.stdout.slice(-500)}\n${r.stderr.slice(-3000)}`);
  const run: HoldRun = JSON.parse(last);
  const pbs = await pbsWorkerJobs(sb, NAME);
  const cap = capacity(run.samples, 2);
  const ended = pbs.filter((j) => j.state === 'F').length;
  process.stdout.write(`held 2 for ${cap.seconds} s: 2 workers ${(cap.full * 100).toFixed(1)} % of seconds, fewest ${cap.fewest}, ` +
    `longest dip ${cap.longestDip} s; ${pbs.length} jobs submitted, ${ended} ended (${((pbs.length - 2) / Math.max(1, ended)).toFixed(2)} submitted per job ended); ${run.rounds} rounds\n`);
  assert.equal(run.error, null, `the computation failed: ${run.error}`);
  assert.equal(run.result, run.expected, 'the same result as without a cluster');
  assert.ok(cap.seconds >= MINUTES * 60 * 0.9, `sampled every second (${cap.seconds} samples)`);
  assert.ok(cap.fewest >= 1, 'at least one worker always');
  assert.ok(cap.full >= 0.9, `two workers at least 90 % of the time (${(cap.full * 100).toFixed(1)} %)`);
  assert.ok(ended >= 2 * Math.floor(MINUTES / 4), `the jobs did end at their lifetime (${ended} ended)`);
  assert.ok(pbs.length - 2 <= ended + 2, `one successor for each job that ended, never two (${pbs.length} submitted, ${ended} ended)`);
  assert.deepEqual(journaledWorkers(sb.home, NAME), pbs.map((j) => j.id), 'every worker job PBS ran is journaled');
  const down = await cli(['down']);
  assert.equal(down.code, 0, down.stderr);
  const left = (await pbsWorkerJobs(sb, NAME)).filter((j) => j.state !== 'F');
  assert.deepEqual(left, [], 'down leaves no job');
});
