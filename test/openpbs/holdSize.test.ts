// A held size on real PBS, through the CLI over SSH: a worker job deleted by hand is replaced and journaled; worker
// jobs of 4 minutes are handed over ahead of their retirement while a computation on scattered data runs (the
// sandbox runs the same through three walltimes on the emulator); a worker prologue that fails stops after three
// jobs with its error output. GADI_DASK_HOLD_MINUTES sets the computation's length (default 4: two retirements).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { until } from '../fixtures/poll';
import { runAs } from '../sandbox/clusterFixture';
import { capacity, holdWorkloadPython, journaledWorkers, type HoldRun } from '../sandbox/holdWorkload';
import { jobsOf, liveJobsOf, startRealPbs, type RealPbs } from './realPbs';

const USER = 'gdpbshold';
const MINUTES = Number(process.env.GADI_DASK_HOLD_MINUTES ?? 4);
let env: RealPbs;

before(async () => {
  env = await startRealPbs(USER);
});
after(() => env?.stop());

const workersOf = (name: string) => jobsOf(USER).filter((j) => new RegExp(`^${name}-[0-9a-f]{8}$`).test(j.name));

describe('a held size of 4-minute jobs', { concurrency: false }, () => {
  const NAME = 'held';
  let config: string;
  before(() => {
    config = env.config(NAME, "scheduler:\n  walltime: '01:00:00'\n");
    writeFileSync(config, readFileSync(config, 'utf8').replace("walltime: '00:20:00'", "walltime: '00:04:00'"));
  });
  after(async () => {
    await env.cli(['down'], config);
  });

  test('a worker job deleted by hand is replaced within a controller period, and journaled', async () => {
    const up = await env.cli(['scale', '2', '--wait', '--timeout', '180'], config);
    assert.equal(up.code, 0, up.stderr);
    const [victim] = liveJobsOf(USER).filter((j) => j.name.startsWith(`${NAME}-`)).map((j) => j.id);
    const before = new Set(journaledWorkers(env.sb.home, NAME));
    const started = Date.now();
    const del = await runAs(env.sb, ['/bin/bash', '-lc', `qdel ${victim}`]);
    assert.equal(del.code, 0, del.stderr);
    const fresh = await until('a replacement', async () => {
      const ids = journaledWorkers(env.sb.home, NAME).filter((id) => !before.has(id));
      return ids.length ? ids : undefined;
    }, { timeoutMs: 60_000, everyMs: 500 });
    const seconds = (Date.now() - started) / 1000;
    const log = readFileSync(join(env.sb.home, '.gadi-dask', 'clusters', NAME, 'adapt-state.json'), 'utf8');
    process.stdout.write(`real PBS: a worker job deleted by hand was replaced in ${seconds.toFixed(1)} s\n`);
    assert.equal(fresh.length, 1);
    assert.ok(seconds < 30, `replaced after ${seconds.toFixed(1)} s (qdel at ${new Date(started).toISOString()}); the controller's state:\n${log}`);
  });

  test(`the computation runs ${MINUTES} minutes through the jobs' retirements with 2 workers`, { timeout: (MINUTES + 8) * 60_000 }, async () => {
    const r = await runAs(env.sb, ['/bin/bash', '-lc', '/usr/bin/python3 -'], holdWorkloadPython(NAME, MINUTES * 60));
    const last = r.stdout.trim().split('\n').pop() ?? '';
    assert.ok(last.startsWith('{'), `the client's answer: ${r.stdout.slice(-500)}\n${r.stderr.slice(-3000)}`);
    const run: HoldRun = JSON.parse(last);
    const cap = capacity(run.samples, 2);
    const jobs = workersOf(NAME);
    const ended = jobs.filter((j) => j.state === 'F').length;
    process.stdout.write(`real PBS, held 2 for ${cap.seconds} s: 2 workers ${(cap.full * 100).toFixed(1)} % of seconds, fewest ${cap.fewest}, ` +
      `longest dip ${cap.longestDip} s; ${jobs.length} jobs submitted, ${ended} ended\n`);
    assert.equal(run.error, null, `the computation failed: ${run.error}`);
    assert.equal(run.result, run.expected);
    assert.ok(cap.fewest >= 1, 'at least one worker always');
    assert.ok(cap.full >= 0.9, `two workers at least 90 % of the time (${(cap.full * 100).toFixed(1)} %)`);
    assert.ok(ended >= 3, `jobs retired at their lifetime and were replaced (${ended} ended)`);
    assert.deepEqual(journaledWorkers(env.sb.home, NAME), jobs.map((j) => j.id).sort(), 'every worker job PBS has is journaled');
    const down = await env.cli(['down'], config);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(liveJobsOf(USER).map((j) => j.id), []);
  });
});

describe('a worker prologue that fails on real PBS', { concurrency: false }, () => {
  const NAME = 'heldfail';
  let config: string;
  before(() => {
    config = env.config(NAME, `    job-script-prologue:
      - 'case "$PBS_JOBNAME" in ${NAME}-*) echo "ERROR: Unable to locate a modulefile for netcdf/9.9" >&2; exit 3;; esac'
`);
  });
  after(async () => {
    await env.cli(['down'], config);
  });

  test('stops after three jobs, and status shows the error PBS copied back', async () => {
    const r = await env.cli(['scale', '1'], config);
    assert.equal(r.code, 0, r.stderr);
    const text = await until('status to say the controller stopped', async () => {
      const s = await env.cli(['status'], config);
      return /Stopped replacing jobs/.test(s.stdout) && /netcdf\/9\.9/.test(s.stdout) ? s.stdout : undefined;
    }, { timeoutMs: 240_000, everyMs: 3000 });
    assert.match(text, /3 jobs in a row ended before any worker connected/);
    assert.equal(workersOf(NAME).length, 3);
    await new Promise((done) => setTimeout(done, 30_000));
    assert.equal(workersOf(NAME).length, 3, 'no fourth job');
  });
});
