// The per-user job ceiling: its default and where it comes from, the config key that changes it, the refusal of a
// request that alone passes it (before any command), and the agent's refusal (counting all the user's jobs) as the
// typed error that names the ceiling, its source and the setting.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { AgentFailure } from '../../src/core/cluster/agent';
import { failureError } from '../../src/core/cluster/answers';
import { checkCeiling, jobCeiling, MAX_JOBS_SETTING } from '../../src/core/cluster/ceiling';
import { Cluster } from '../../src/core/cluster/cluster';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import { ConfigFileError, JobCeilingError } from '../../src/core/cluster/errors';
import { GADI_MAX_JOBS_PER_USER, GADI_SUBMISSIONS_PER_MINUTE } from '../../src/core/config/queues';
import type { Transport } from '../../src/core/remote/transport';

const yaml = (scheduler = '') => `jobqueue: {pbs: {name: demo, cores: 4, memory: 16GB, processes: 2}}\n${scheduler}`;
const NAMES_ALL = /ceiling of 300 jobs queued or running per user \(the default: .*Gadi exec max.*; set scheduler\.max-jobs in the cluster config to change it\)/;

describe('the job ceiling', () => {
  test('300 by default, from public Gadi configurations; scheduler.max-jobs changes it', () => {
    assert.equal(GADI_MAX_JOBS_PER_USER, 300);
    assert.equal(MAX_JOBS_SETTING, 'scheduler.max-jobs');
    assert.deepEqual(jobCeiling(parseClusterConfig(yaml())).max, 300);
    const set = jobCeiling(parseClusterConfig(yaml('scheduler: {max-jobs: 500}\n')));
    assert.deepEqual(set, { max: 500, source: 'scheduler.max-jobs in the cluster config' });
    for (const bad of ['0', '-3', '2.5', 'many']) {
      assert.throws(() => parseClusterConfig(yaml(`scheduler: {max-jobs: ${bad}}\n`)), (e: unknown) => e instanceof ConfigFileError && /scheduler\.max-jobs/.test(e.message), bad);
    }
  });

  test('a request above it alone is refused with the ceiling, its source and the setting; at it, it passes', () => {
    const c = jobCeiling(parseClusterConfig(yaml()));
    assert.doesNotThrow(() => checkCeiling(c, 300, 'Scaling cluster demo'));
    assert.throws(() => checkCeiling(c, 400, 'Scaling cluster demo'), (e: unknown) => e instanceof JobCeilingError && e.ceiling === 300 &&
      /^Scaling cluster demo to 400 worker jobs is refused: that is above a /.test(e.message) && NAMES_ALL.test(e.message) && /Nothing was submitted\./.test(e.message));
  });

  test('scale 400, 800 workers and adapt 0 400 are refused before any command reaches the cluster', async () => {
    let calls = 0;
    const counting = { host: 'h', exec: async () => { calls++; throw new Error('no'); }, spawn: () => { calls++; throw new Error('no'); } } as unknown as Transport;
    const cluster = new Cluster(counting, parseClusterConfig(yaml()));
    await assert.rejects(cluster.scale({ jobs: 400 }), (e: unknown) => e instanceof JobCeilingError && NAMES_ALL.test(e.message));
    await assert.rejects(cluster.scale({ workers: 800 }), (e: unknown) => e instanceof JobCeilingError && /to 400 worker jobs/.test(e.message));
    await assert.rejects(cluster.adapt({ minimum: 0, maximum: 400 }), (e: unknown) => e instanceof JobCeilingError && /Adaptive scaling of cluster demo up to 400/.test(e.message));
    assert.equal(calls, 0);
  });

  test('the agent\'s refusal, which counts every live job of the user\'s, says how many and names the ceiling', () => {
    const ceiling = jobCeiling(parseClusterConfig(yaml()));
    const f = new AgentFailure({ ok: false, code: 'ceiling', error: '295 live jobs …', userJobs: 295, adding: 11, ceiling: 300 });
    const e = failureError(f, { cluster: 'demo', host: 'gadi', python: 'python3', ceiling });
    assert.ok(e instanceof JobCeilingError);
    assert.match(e.message, /would make 306 jobs of yours queued or running \(295 now, all clusters and other jobs included, and 11 new\)/);
    assert.match(e.message, NAMES_ALL);
    assert.match(e.message, /Nothing was submitted\./);
  });

  test('the agent paces at the rate this side names (its copy is the same)', () => {
    const py = execFileSync('python3', ['-c', 'from gadi_dask import pacing; print(pacing.GADI_SUBMISSIONS_PER_MINUTE)'],
      { cwd: resolve(__dirname, '..', '..', 'runtime'), encoding: 'utf8' });
    assert.equal(Number(py), GADI_SUBMISSIONS_PER_MINUTE);
    assert.equal(GADI_SUBMISSIONS_PER_MINUTE, 20);
  });
});
