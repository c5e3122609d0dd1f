// `gadi-dask run script.py` on real PBS, through the CLI over SSH as the README gives it: the script's output comes
// back, its `Client()` (no arguments) computes on the secured cluster, and the CLI exits with the script's status,
// which PBS records for the run's job. (That the output streams while the job runs is timed in the sandbox's test.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { until } from '../fixtures/poll';
import { jobsOf, startRealPbs, type RealPbs } from './realPbs';

const USER = 'gdpbsrun';
const NAME = 'runs';
let env: RealPbs;
let config: string;

before(async () => {
  env = await startRealPbs(USER);
  config = env.config(NAME);
});
after(async () => {
  await env?.cli(['down'], config);
  await env?.stop();
});

test('run streams the script\'s output while its job runs and exits with its status', async () => {
  const up = await env.cli(['scale', '1', '--wait', '--timeout', '180'], config);
  assert.equal(up.code, 0, up.stderr);
  const script = join(env.work, 'compute.py');
  writeFileSync(script, [
    'import sys, time',
    'print("started", flush=True)',
    'time.sleep(4)',
    'from dask.distributed import Client',
    'c = Client(timeout=30)',
    'print("result", c.submit(sum, [1, 2, 3]).result(), flush=True)',
    'sys.exit(3)',
  ].join('\n'));
  const r = await env.cli(['run', script], config, 240_000);
  assert.equal(r.code, 3, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^started$/m);
  assert.match(r.stdout, /^result 6$/m);
  // The script's status is written before its job's shell exits: PBS finishes the job a moment later.
  const runs = await until('the run\'s job to finish', async () => {
    const mine = jobsOf(USER).filter((j) => j.name.startsWith(`dask-run-${NAME}-`));
    return mine.length && mine.every((j) => j.state === 'F') ? mine : undefined;
  }, { timeoutMs: 60_000, everyMs: 1000 });
  assert.equal(runs.length, 1, JSON.stringify(runs));
  assert.equal(runs[0]!.attrs.Exit_status, 3);
});
