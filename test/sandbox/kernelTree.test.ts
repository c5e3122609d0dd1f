// The kernel's job beside the cluster's, end to end: the snapshot (what the PBS Jobs tree shows) lists it with role
// kernel while the worker jobs and workers are counted as before; `down --keep-kernel` leaves it running, Cancel Job
// naming another job leaves it alone, and `down` without the flag stops it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Cluster } from '../../src/core/cluster/cluster';
import { KERNEL_ROLE } from '../../src/core/cluster/protocol';
import { parseQstatJson } from '../../src/core/pbs/qstat';
import { shellQuote } from '../../src/core/remote/shellQuote';
import type { Transport } from '../../src/core/remote/transport';
import { cliOverSsh, startSandboxCluster, type SandboxCluster } from './clusterFixture';
import type { Sandbox } from './sandbox';

const USER = 'gdkerntree';
const NAME = 'kerneltree';

let env: SandboxCluster;
let sb: Sandbox;
let t: Transport;
let cluster: Cluster;
let config: string;

before(async () => {
  env = await startSandboxCluster(USER, NAME, "kernel:\n  cores: 1\n  memory: 2GB\n  walltime: '00:20:00'\n");
  ({ sb, transport: t, cluster, config } = env);
});

after(() => env?.close());

/** PBS's own state letter for a job, asked of qstat directly (not through the runtime). */
async function pbsState(id: string): Promise<string> {
  const r = await t.exec(`qstat -x -f -F json ${shellQuote(id)}`, { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const job = parseQstatJson(r.stdout).jobs.find((j) => j.id === id);
  assert.ok(job, `qstat does not know ${id}`);
  return job.state;
}

async function waitForState(id: string, state: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let now = await pbsState(id);
  while (now !== state) {
    assert.ok(Date.now() < deadline, `job ${id} is ${now}, not ${state}, after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 1000));
    now = await pbsState(id);
  }
}

let kernelJob = '';
let workerJob = '';

test('the snapshot lists the kernel\'s job with role kernel, and the worker jobs and workers are counted as before', { timeout: 400_000 }, async () => {
  const up = await cliOverSsh(sb, ['scale', '1', '--wait', '--timeout', '120'], config, 200_000);
  assert.equal(up.code, 0, up.stderr);
  const started = await cluster.startKernel({ timeoutMs: 120_000 });
  assert.equal(started.state, 'running');
  kernelJob = started.jobId!;
  assert.ok(kernelJob);

  const s = await cluster.status();
  assert.deepEqual(s.jobs.map((j) => j.role), ['scheduler', KERNEL_ROLE, 'worker']);
  const kernel = s.jobs[1];
  assert.equal(kernel.id, kernelJob);
  assert.equal(kernel.state, 'R');
  assert.match(kernel.pbs.name, new RegExp(`^dask-kernel-${NAME}-[0-9a-f]{8}$`));
  assert.equal(kernel.pbs.requested.walltimeSeconds, 20 * 60, 'its PBS attributes came with it');
  assert.deepEqual(kernel.workers, []);
  workerJob = s.jobs[2].id;
  assert.equal(s.counts.workerJobs, 1);
  assert.equal(s.counts.queuedWorkerJobs, 0);
  assert.equal(s.counts.workers, 1);
  assert.notEqual(s.scheduler.jobId, kernelJob);

  const status = await cliOverSsh(sb, ['status'], config, 120_000);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^1 worker job\(s\) \(0 queued\), 1 worker\(s\)/m);
  assert.match(status.stdout, new RegExp(`^${kernelJob.replace(/\./g, '\\.')}\\s+kernel\\s+Running`, 'm'));
});

test('down --keep-kernel leaves the kernel\'s job running; Cancel Job naming another job leaves it alone; down stops it', { timeout: 400_000 }, async () => {
  assert.ok(kernelJob && workerJob, 'needs the kernel of the test before');
  const kept = await cliOverSsh(sb, ['down', '--keep-kernel'], config, 200_000);
  assert.equal(kept.code, 0, kept.stderr);
  assert.match(kept.stdout, new RegExp(`The kernel of cluster ${NAME} \\(${kernelJob.replace(/\./g, '\\.')}\\) is still running, as asked`));
  assert.doesNotMatch(kept.stdout, /Kernel stopped/);
  assert.equal(await pbsState(kernelJob), 'R');
  assert.equal((await cluster.kernelStatus()).state, 'running');
  const after = await cluster.status();
  assert.deepEqual(after.jobs.map((j) => [j.id, j.role]), [[kernelJob, KERNEL_ROLE]], 'the cluster\'s own jobs are gone, the kernel\'s is shown');
  assert.equal(after.counts.workerJobs, 0);

  assert.deepEqual(await cluster.cancelKernelJob(workerJob), { id: workerJob, outcome: 'gone' });
  assert.equal(await pbsState(kernelJob), 'R');

  const down = await cliOverSsh(sb, ['down'], config, 200_000);
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, new RegExp(`^Kernel stopped: ${kernelJob.replace(/\./g, '\\.')}$`, 'm'));
  await waitForState(kernelJob, 'F');
  assert.equal((await cluster.kernelStatus()).state, 'none');
  const finished = (await cluster.status()).finishedJobs.find((j) => j.id === kernelJob);
  assert.equal(finished?.role, KERNEL_ROLE);
  assert.match(finished?.end ?? '', /^kernel stopped, its job cancelled/);
});
