// A config as dask-jobqueue users write them, end to end on the sandbox (real sshd, the PBS emulator running jobs
// for real, Debian's Dask), through the CLI: a prologue item that is a YAML block scalar of two commands, and
// `name: null`. The agent's shell, the scheduler job and the worker job each run both commands, in order; the
// worker's own environment holds what they exported; the script has no `#PBS -N`, and the cluster goes by
// dask-jobqueue's default name.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterSnapshot } from '../../src/core/cluster/snapshot';
import { BLOCK_PROLOGUE, cliArgv, cliAs, processesOf, runAs, smallClusterYaml, workerEnvPython } from './clusterFixture';
import { startSandbox, type Sandbox } from './sandbox';
import { until as poll } from '../fixtures/poll';

const USER = 'gdlines';
const NAME = 'dask-worker'; // dask-jobqueue's default name, which a cluster with `name: null` takes

let sb: Sandbox;
let work: string;
let config: string;

before(async () => {
  sb = await startSandbox({ user: USER });
  work = mkdtempSync(join(tmpdir(), 'prologue-lines-'));
  chmodSync(work, 0o755); // the cluster account reads its config from here
  config = join(work, 'lines.dask-cluster.yaml');
  writeFileSync(config, smallClusterYaml('null', 'unused-with-local', BLOCK_PROLOGUE));
  chmodSync(config, 0o644);
});

after(async () => {
  await sb?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const until = <T>(what: string, probe: () => Promise<T | undefined>) => poll(what, probe, { timeoutMs: 40_000, everyMs: 500 });
const cli = async (args: string[]) => {
  const r = await cliAs(sb, args, config);
  return { ...r, json: () => JSON.parse(r.stdout) };
};
const ranLog = () => {
  try {
    return readFileSync(join(sb.home, 'prologue-ran.log'), 'utf8');
  } catch {
    return '';
  }
};

describe('a block-scalar prologue and name: null', { concurrency: false }, () => {
  test('the job script is dask-jobqueue\'s: no #PBS -N, the two commands on their own lines', async () => {
    const r = await runAs(sb, cliArgv(['job-script', '--config', config])); // no connection needed
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /^#PBS -N/m);
    assert.match(r.stdout, /\nexport GD_FIRST="one two"\necho "\$\{PBS_JOBNAME:-agent\} saw \$GD_FIRST" >>"\$HOME\/prologue-ran.log"\n\nexport GD_THIRD=3\n\/usr\/bin\/python3 -m /);
    assert.match(r.stdout, / --name dask-worker-"\$PBS_JOBID" /);
  });

  test('up: the agent\'s shell and the scheduler job ran both commands', async () => {
    const r = await cli(['up', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.json().scheduler.info.address, /^tls:\/\//);
    const log = ranLog();
    assert.match(log, /^agent saw one two$/m);
    assert.match(log, new RegExp(`^dask-scheduler-${NAME}-[0-9a-f]{8} saw one two$`, 'm'));
  });

  test('scale 1: the worker job ran both, its worker has what they exported, and status names the cluster', async () => {
    const r = await cli(['scale', '1', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const [job] = r.json().submitted as string[];
    const snap: ClusterSnapshot = await until('one worker', async () => {
      const s = await cli(['status', '--json']);
      const j = s.code === 0 ? s.json() : undefined;
      return j?.counts.workers === 1 ? j : undefined;
    });
    assert.equal(snap.cluster, NAME);
    assert.deepEqual(snap.jobs.find((j) => j.id === job)?.workers.map((w) => w.name), [`${NAME}-${job}`]);
    assert.match(ranLog(), new RegExp(`^${NAME}-[0-9a-f]{8} saw one two$`, 'm'), 'the worker job, submitted with qsub -N <cluster>-<hex>');
    const env = await runAs(sb, ['/bin/bash', '-lc', '/usr/bin/python3 -'], workerEnvPython(NAME));
    assert.equal(env.code, 0, env.stderr);
    assert.deepEqual(JSON.parse(env.stdout.trim().split('\n').at(-1)!), [['one two', '3']]);
    const text = await cli(['status']);
    assert.match(text.stdout, new RegExp(`^Cluster ${NAME} on `, 'm'));
  });

  test('down leaves nothing', async () => {
    const r = await cli(['down']);
    assert.equal(r.code, 0, r.stderr);
    await until('no process of the account', async () => (processesOf(sb.uid).filter((p) => p.comm !== 'sshd').length === 0 ? true : undefined));
  });
});
