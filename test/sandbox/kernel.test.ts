// Acceptance for the kernel next to the cluster (command line): `gadi-dask kernel start` puts a Jupyter server with
// an IPython kernel in its own PBS job; the laptop reaches it only through the SSH connection (Transport.forward),
// with the token read over that connection, and speaks the Jupyter protocol with @jupyterlab/services: a cell's
// `Client()` with no arguments computes on the cluster's TLS workers. The token is in no process's argv and in no
// PBS attribute; the server refuses a request without it; stop and down leave no kernel job.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Cluster } from '../../src/core/cluster/cluster';
import { shellQuote } from '../../src/core/remote/shellQuote';
import type { ForwardHandle, Transport } from '../../src/core/remote/transport';
import { cliOverSsh, smallClusterYaml, startSandboxCluster, type SandboxCluster } from './clusterFixture';
import { runCell } from './jupyterCell';
import type { Sandbox } from './sandbox';

const USER = 'gdkernel';
const NAME = 'kernelside';

let env: SandboxCluster;
let sb: Sandbox;
let t: Transport;
let cluster: Cluster;
let dir: string;
let config: string;
let fwd: ForwardHandle | undefined;

before(async () => {
  env = await startSandboxCluster(USER, NAME, "kernel:\n  cores: 1\n  memory: 2GB\n  walltime: '00:20:00'\n");
  ({ sb, transport: t, cluster, config } = env);
  dir = dirname(config);
});

after(async () => {
  await fwd?.close();
  await env?.close();
});

/** PBS's states of the user's kernel jobs, with each job's full `qstat -f` text. */
async function kernelJobs(): Promise<{ live: string[]; qstatText: string }> {
  const r = await t.exec('for id in $(qselect -u "$USER"); do qstat -f "$id"; done', { timeoutMs: 60_000 });
  const live: string[] = [];
  for (const block of r.stdout.split(/\n(?=Job Id: )/)) {
    const id = /^Job Id: (\S+)/.exec(block)?.[1];
    if (id && new RegExp(`Job_Name = dask-kernel-${NAME}-`).test(block) && !/job_state = [FX]/.test(block)) live.push(id);
  }
  return { live, qstatText: r.stdout };
}

test('kernel start, a cell computes on the cluster through the forwarded server, the token never shows', { timeout: 400_000 }, async () => {
  const up = await cliOverSsh(sb, ['scale', '1', '--wait', '--timeout', '120'], config, 200_000);
  assert.equal(up.code, 0, up.stderr);

  const started = await cliOverSsh(sb, ['kernel', 'start', '--timeout', '120'], config, 200_000);
  assert.equal(started.code, 0, started.stderr);
  assert.match(started.stdout, /^Kernel: job \S+ running\nListening on 127\.0\.0\.1:\d+/m);
  const status = await cluster.kernelStatus();
  assert.equal(status.state, 'running');
  assert.equal(status.host, '127.0.0.1');
  const shown = await cliOverSsh(sb, ['kernel', 'status'], config, 60_000);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, new RegExp(`Listening on 127\\.0\\.0\\.1:${status.port}`));

  // The token, read over the same connection; 0600.
  const token = (await t.exec(`cat ${shellQuote(cluster.kernelTokenPath.replace(/^~\//, ''))}`, { timeoutMs: 30_000 })).stdout.trim();
  assert.match(token, /^[0-9a-f]{64}$/);
  const mode = (await t.exec(`stat -c %a ${shellQuote(cluster.kernelTokenPath.replace(/^~\//, ''))}`, { timeoutMs: 30_000 })).stdout.trim();
  assert.equal(mode, '600');

  fwd = await t.forward('127.0.0.1', status.port!);
  const base = `http://127.0.0.1:${fwd.localPort}/`;
  const refused = await fetch(`${base}api/kernels`);
  assert.equal(refused.status, 403, 'a request without the token is refused');

  const cell = await runCell(fwd.localPort, token, 'from dask.distributed import Client; c = Client(); print(c.submit(sum, [1, 2, 3]).result())');
  assert.equal(cell.status, 'ok', cell.error);
  assert.equal(cell.stdout.trim(), '6');

  // Neither argv (every process on the machine) nor any PBS attribute of the kernel's job holds the token.
  const ps = await t.exec('ps -eo args', { timeoutMs: 30_000 });
  assert.ok(ps.stdout.length > 0);
  assert.ok(!ps.stdout.includes(token), 'a process\'s argv shows the token');
  const jobs = await kernelJobs();
  assert.equal(jobs.live.length, 1, jobs.qstatText);
  assert.ok(!jobs.qstatText.includes(token), 'qstat -f shows the token');

  // Started again while it runs: the same kernel.
  const again = await cluster.startKernel();
  assert.equal(again.jobId, status.jobId);

  const stopped = await cliOverSsh(sb, ['kernel', 'stop'], config, 60_000);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.match(stopped.stdout, new RegExp(`Kernel stopped: ${status.jobId!.replace(/\./g, '\\.')}`));
  assert.deepEqual((await kernelJobs()).live, []);
  await fwd.close();
  fwd = undefined;
});

test('down stops a running kernel with the cluster', { timeout: 300_000 }, async () => {
  const started = await cluster.startKernel({ timeoutMs: 120_000 });
  assert.equal(started.state, 'running');
  assert.equal((await kernelJobs()).live.length, 1);
  const down = await cliOverSsh(sb, ['down'], config, 200_000);
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual((await kernelJobs()).live, []);
  assert.equal((await cluster.kernelStatus()).state, 'none');
});

test('a python without jupyter_server: a clear error naming it and how to install it, and no job left', { timeout: 200_000 }, async () => {
  // A Python with none of Debian's packages: a venv without system site-packages.
  const venv = await t.exec('/usr/bin/python3 -m venv --without-pip nojupyter', { timeoutMs: 60_000 });
  assert.equal(venv.code, 0, venv.stderr);
  const other = join(dir, 'nojupyter');
  mkdirSync(other);
  const otherConfig = join(other, `${NAME}.dask-cluster.yaml`);
  writeFileSync(otherConfig, smallClusterYaml(NAME, sb.alias, 'kernel:\n  python: ~/nojupyter/bin/python\n'));
  const up = await cliOverSsh(sb, ['up'], otherConfig, 200_000);
  assert.equal(up.code, 0, up.stderr);
  const r = await cliOverSsh(sb, ['kernel', 'start'], otherConfig, 120_000);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /nojupyter\/bin\/python cannot import jupyter_server and ipykernel, which a kernel next to the cluster needs: install them into that environment \(pip install jupyter-server ipykernel, or load the module that provides them\) and start the kernel again\.\n$/);
  assert.deepEqual((await kernelJobs()).live, []);
  assert.equal((await cluster.kernelStatus()).state, 'none');
});
