// On real OpenPBS, through the CLI over SSH: a prologue item that is a YAML block scalar of two commands, and
// `name: null`. The agent's shell, the scheduler job and the worker job each ran both commands, in order; the
// worker has what they exported; PBS names the jobs for the cluster, which goes by dask-jobqueue's default name.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BLOCK_PROLOGUE, workerEnvPython } from '../sandbox/clusterFixture';
import { liveJobsOf, startRealPbs, type RealPbs } from './realPbs';

const USER = 'gdpbslines';
const NAME = 'dask-worker'; // the name a cluster with `name: null` takes
let env: RealPbs;
let config: string;

before(async () => {
  env = await startRealPbs(USER);
  config = env.config('null', BLOCK_PROLOGUE); // the file's `name: null`
});
after(() => env?.stop());

const ranLog = () => readFileSync(join(env.sb.home, 'prologue-ran.log'), 'utf8');

describe('a block-scalar prologue and name: null on real PBS', { concurrency: false }, () => {
  test('up, then scale 1 --wait: one worker joins', async () => {
    const up = await env.cli(['up'], config);
    assert.equal(up.code, 0, up.stderr);
    const r = await env.cli(['scale', '1', '--wait', '--json'], config);
    assert.equal(r.code, 0, r.stderr);
    const jobs = liveJobsOf(USER);
    assert.deepEqual(jobs.map((j) => j.name.replace(/-[0-9a-f]{8}$/, '-<hex>')).sort(), [`dask-scheduler-${NAME}-<hex>`, `${NAME}-<hex>`]);
  });

  test('the agent, the scheduler job and the worker job each ran both commands of the block', () => {
    const log = ranLog();
    assert.match(log, /^agent saw one two$/m);
    assert.match(log, new RegExp(`^dask-scheduler-${NAME}-[0-9a-f]{8} saw one two$`, 'm'));
    assert.match(log, new RegExp(`^${NAME}-[0-9a-f]{8} saw one two$`, 'm'));
  });

  test("the worker's environment holds what the block and the next item exported", async () => {
    const t = env.pool.open(env.sb.alias);
    const r = await t.exec('/usr/bin/python3 -', { stdin: workerEnvPython(NAME), timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').at(-1)!), [['one two', '3']]);
  });

  test('status names the cluster; down leaves no job of it', async () => {
    const s = await env.cli(['status'], config);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, new RegExp(`^Cluster ${NAME} on `, 'm'));
    const d = await env.cli(['down'], config);
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(liveJobsOf(USER).map((j) => `${j.id} ${j.state}`), []);
  });
});
