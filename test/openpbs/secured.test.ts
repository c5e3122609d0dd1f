// The ways into a secured cluster that the kernel, the local client and the dashboard open, on real PBS through the
// real sshd: a Jupyter kernel in its own PBS job whose cell's `Client()` computes on the cluster (the token in no argv
// and no PBS attribute), the same kernel as the editor's notebook controller uses it (rich result, interrupt, restart), Debian's Python on this side computing through the forwarded scheduler port with the
// cluster's keys, and the dashboard's door refusing a client without them while the owner's tunnel gets its pages.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cluster } from '../../src/core/cluster/cluster';
import { connectLocalClient } from '../../src/core/cluster/localClient';
import { NotebookKernelSession } from '../../src/core/notebook/kernelSession';
import type { CellOutput } from '../../src/core/notebook/outputs';
import { shellQuote } from '../../src/core/remote/shellQuote';
import type { Transport } from '../../src/core/remote/transport';
import { until } from '../fixtures/poll';
import { run } from '../sandbox/clusterFixture';
import { runCell } from '../sandbox/jupyterCell';
import { lastJson } from '../sandbox/stranger';
import { jobsOf, startRealPbs, type RealPbs } from './realPbs';

const USER = 'gdpbssecure';
const NAME = 'secured';
const KERNEL = "kernel:\n  cores: 1\n  memory: 2GB\n  walltime: '00:20:00'\n";
let env: RealPbs;
let cluster: Cluster;
let t: Transport;
let config: string;
let keyDir: string;

before(async () => {
  env = await startRealPbs(USER);
  config = env.config(NAME, KERNEL);
  cluster = env.cluster(NAME, KERNEL);
  t = cluster.transport;
  keyDir = mkdtempSync(join(tmpdir(), 'secured-keys-'));
});
after(async () => {
  await env?.cli(['down'], config);
  await env?.stop();
  if (keyDir) rmSync(keyDir, { recursive: true, force: true });
});

/** Python on this side (the laptop), with none of the cluster's Dask settings in its environment. */
const laptopPython = (code: string) => {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DASK_')));
  return run(['/usr/bin/python3', '-'], { env: { ...clean, PYTHONWARNINGS: 'ignore' } }, code, 90_000);
};

test('a kernel in its own PBS job: a cell\'s Client() computes on the cluster, the token shows nowhere', { timeout: 400_000 }, async () => {
  const up = await env.cli(['scale', '1', '--wait', '--timeout', '180'], config);
  assert.equal(up.code, 0, up.stderr);
  const started = await env.cli(['kernel', 'start', '--timeout', '180'], config);
  assert.equal(started.code, 0, started.stderr);
  const status = await cluster.kernelStatus();
  assert.equal(status.state, 'running');
  const token = (await t.exec(`cat ${shellQuote(cluster.kernelTokenPath.replace(/^~\//, ''))}`, { timeoutMs: 30_000 })).stdout.trim();
  assert.match(token, /^[0-9a-f]{64}$/);
  const fwd = await t.forward(status.host!, status.port!);
  try {
    const base = `http://127.0.0.1:${fwd.localPort}/`;
    assert.equal((await fetch(`${base}api/kernels`)).status, 403, 'no token, no kernel');
    const cell = await runCell(fwd.localPort, token, 'from dask.distributed import Client; c = Client(); print(c.submit(sum, [1, 2, 3]).result())');
    assert.equal(cell.status, 'ok', cell.error);
    assert.equal(cell.stdout.trim(), '6');
  } finally {
    await fwd.close();
  }
  const ps = await t.exec('ps -eo args', { timeoutMs: 30_000 });
  assert.ok(!ps.stdout.includes(token), 'a process\'s argv shows the token');
  const kernelJob = jobsOf(USER).find((j) => j.name.startsWith(`dask-kernel-${NAME}-`));
  assert.ok(kernelJob, 'the kernel runs in a PBS job of its own');
  assert.ok(!JSON.stringify(kernelJob.attrs).includes(token), 'qstat -f shows the token');
});

test('a notebook as the editor runs it: the same kernel job, a rich result, an interrupt, and a restart', { timeout: 200_000 }, async () => {
  const session = await NotebookKernelSession.attach(cluster, 'file:///home/someone/real-pbs.ipynb', { timeoutMs: 180_000 });
  try {
    assert.equal(session.status.jobId, (await cluster.kernelStatus()).jobId, 'the kernel job the command line started');
    const outputs: CellOutput[] = [];
    const run = (code: string) => session.execute(code, (o) => outputs.push(o));
    const r = await run('from dask.distributed import Client; Client().submit(sum, [1, 2, 3]).result()');
    assert.equal(r.status, 'ok', JSON.stringify(outputs));
    assert.ok(outputs.some((o) => o.kind === 'rich' && o.result && o.items.some((i) => i.mime === 'text/plain' && i.text === '6')), JSON.stringify(outputs));
    const sleeping = run('import time; x = 1; time.sleep(60)');
    await until('the cell to run', async () => (session.busy ? true : undefined), { timeoutMs: 10_000, everyMs: 100 });
    await new Promise((done) => setTimeout(done, 500));
    const asked = Date.now();
    await session.interrupt();
    assert.equal((await sleeping).status, 'error');
    assert.ok(Date.now() - asked < 2000, `the interrupt took ${Date.now() - asked} ms`);
    await session.restart();
    outputs.length = 0;
    assert.equal((await run('"x" in dir()')).status, 'ok');
    assert.ok(outputs.some((o) => o.kind === 'rich' && o.items.some((i) => i.text === 'False')), JSON.stringify(outputs));
  } finally {
    await session.close();
  }
  const stopped = await env.cli(['kernel', 'stop'], config);
  assert.equal(stopped.code, 0, stopped.stderr);
});

test('Debian\'s Python on this side computes through the forwarded scheduler port, with the cluster\'s keys only', async () => {
  const client = await connectLocalClient(cluster, { keyDir, python: '/usr/bin/python3' });
  try {
    const r = await laptopPython(`import json\n${client.snippet}total = client.submit(sum, [1, 2, 3]).result()\nprint(json.dumps(total))\nclient.close()\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(lastJson(r), 6);
    const bare = await laptopPython(`import json\nfrom dask.distributed import Client, Security\n` +
      `try:\n    Client("tls://127.0.0.1:${client.forward.localPort}", security=Security(require_encryption=True), timeout=5).close()\n    print(json.dumps("admitted"))\n` +
      `except Exception as e:\n    print(json.dumps("refused"))\n`);
    assert.equal(lastJson(bare), 'refused');
  } finally {
    await client.close();
  }
});

test('the dashboard\'s door: nothing without the cluster\'s keys, the pages through the owner\'s tunnel', async () => {
  const dashboard = (await cluster.status()).scheduler.dashboard!;
  assert.equal(dashboard.tls, true);
  const plain = await t.forward(dashboard.host, dashboard.port);
  try {
    const res = await fetch(`http://127.0.0.1:${plain.localPort}/health`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.status, () => 'refused');
    assert.equal(res, 'refused', 'plain HTTP to the door gets no page');
  } finally {
    await plain.close();
  }
  const door = await cluster.forwardDashboard(dashboard);
  try {
    const res = await fetch(`http://127.0.0.1:${door.localPort}/health`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200);
  } finally {
    await door.close();
  }
});
