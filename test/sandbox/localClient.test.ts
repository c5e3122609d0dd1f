// Acceptance: a local Python (Debian's, through the tunnel) computes on the cluster's workers and gathers a result.
// The sandbox's cluster speaks TLS; this machine plays the laptop: the scheduler's port is forwarded to 127.0.0.1
// over the SSH transport, the cluster's certificate and key are copied into private local files, and the snippet
// connects with them. Its certificate names no host, and distributed checks none, so 127.0.0.1 is fine. A client
// without the certificate is refused through the same tunnel. The CLI's `connect` does the same until Ctrl-C.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawn } from 'node:child_process';
import { Cluster } from '../../src/core/cluster/cluster';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import { connectLocalClient, type LocalClient } from '../../src/core/cluster/localClient';
import { refusingPrompt } from '../../src/core/remote/prompt';
import { SshTransportPool } from '../../src/core/remote/sshTransport';
import type { Transport } from '../../src/core/remote/transport';
import { cliArgv, run, smallClusterYaml } from './clusterFixture';
import { lastJson } from './stranger';
import { startSandbox, type Sandbox } from './sandbox';

const USER = 'gdconnect';
const NAME = 'connect';

let sb: Sandbox;
let pool: SshTransportPool;
let t: Transport;
let cluster: Cluster;
let keyDir: string;
let client: LocalClient | undefined;

/** Debian's Python on this side, with none of the cluster's Dask settings in its environment. */
const laptopPython = (code: string) => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DASK_')));
  return run(['/usr/bin/python3', '-'], { env: { ...env, PYTHONWARNINGS: 'ignore' } }, code, 90_000);
};

before(async () => {
  sb = await startSandbox({ user: USER });
  pool = new SshTransportPool({ prompt: refusingPrompt, agent: null, sshConfig: { configFile: sb.sshConfigPath, systemConfigFile: null } });
  t = pool.open(sb.alias);
  cluster = new Cluster(t, parseClusterConfig(smallClusterYaml(NAME, sb.alias)));
  keyDir = mkdtempSync(join(tmpdir(), 'connect-keys-'));
});

after(async () => {
  try {
    await client?.close();
    await cluster?.down();
  } finally {
    await pool?.close();
    await sb?.stop();
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  }
});

describe('a local client through the tunnel', { concurrency: false }, () => {
  test('a cluster without a scheduler: a clear refusal, no tunnel', async () => {
    await assert.rejects(connectLocalClient(cluster, { keyDir }), /no running scheduler.*up or scale first/s);
    assert.deepEqual(readdirSync(keyDir), []);
  });

  test('up, scale 1 --wait, connect: the snippet computes on the worker and gathers the result', async () => {
    await cluster.up();
    await cluster.scale({ jobs: 1 });
    const w = await cluster.waitForWorkers(1, { timeoutMs: 90_000 });
    assert.ok(w.done, JSON.stringify(w));
    client = await connectLocalClient(cluster, { keyDir, python: '/usr/bin/python3' });
    assert.match(client.address, /^tls:\/\/127\.0\.0\.1:\d+$/);
    assert.match(client.remoteAddress, /^tls:\/\//);
    assert.ok(client.files);
    assert.equal(statSync(dirname(client.files.key)).mode & 0o777, 0o700);
    for (const f of [client.files.cert, client.files.key]) assert.equal(statSync(f).mode & 0o777, 0o600, f);
    // Both sides run Debian's distributed: no mismatch.
    assert.equal(client.versions.warning, undefined);
    assert.equal(client.versions.local, client.versions.scheduler);
    const r = await laptopPython(`import json\n${client.snippet}` +
      'total = client.submit(sum, [1, 2, 3]).result()\n' +
      'print(json.dumps({"total": total, "workers": len(client.scheduler_info()["workers"])}))\nclient.close()\n');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(lastJson(r), { total: 6, workers: 1 });
  });

  test('through the same tunnel, a client without the cluster\'s certificate is refused', async () => {
    const port = client!.forward.localPort;
    const r = await laptopPython(`import json\nfrom dask.distributed import Client, Security\nout = {}\n` +
      `for way, args in (("plain", dict(address="tcp://127.0.0.1:${port}")),\n` +
      `                  ("tls, no certificate", dict(address="tls://127.0.0.1:${port}", security=Security(require_encryption=True)))):\n` +
      `    try:\n        Client(timeout=5, **args).close()\n        out[way] = "admitted"\n` +
      `    except Exception as e:\n        out[way] = "refused (%s)" % type(e).__name__\nprint(json.dumps(out))\n`);
    assert.equal(r.code, 0, r.stderr);
    for (const [way, outcome] of Object.entries(lastJson<Record<string, string>>(r))) assert.match(outcome, /^refused/, way);
  });

  test('closing removes the tunnel and the key files', async () => {
    const { files, forward } = client!;
    await client!.close();
    client = undefined;
    assert.ok(!existsSync(files!.key) && !existsSync(files!.cert));
    const r = await laptopPython(`import socket\ntry:\n    socket.create_connection(("127.0.0.1", ${forward.localPort}), 2).close()\n    print("open")\nexcept OSError:\n    print("closed")\n`);
    assert.equal(r.stdout.trim(), 'closed');
  });

  test('gadi-dask connect prints the address and the snippet, serves them until Ctrl-C, then removes its keys', async () => {
    const config = join(keyDir, 'connect.dask-cluster.yaml');
    writeFileSync(config, smallClusterYaml(NAME, sb.alias));
    const p = spawn(process.execPath, cliArgv(['connect', '--config', config, '--ssh-config', sb.sshConfigPath, '--python', '/usr/bin/python3']).slice(1),
      { env: { ...process.env, SSH_AUTH_SOCK: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => p.on('close', resolve));
    const deadline = Date.now() + 60_000;
    while (!/client = Client\(/.test(stdout) && Date.now() < deadline && p.exitCode === null) await new Promise((r) => setTimeout(r, 200));
    assert.match(stdout, /^tls:\/\/127\.0\.0\.1:\d+\n/, stderr);
    assert.match(stderr, /direct_to_workers=True cannot/);
    assert.match(stderr, /until Ctrl-C/);
    const r = await laptopPython(`import json\n${stdout.split('\n').slice(2).join('\n')}print(json.dumps(client.submit(sum, [1, 2, 3]).result()))\nclient.close()\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(lastJson(r), 6);
    const certPath = /cert = "([^"]+)"/.exec(stdout)![1];
    p.kill('SIGINT');
    assert.equal(await exited, 0, stderr);
    assert.ok(!existsSync(dirname(dirname(dirname(certPath)))), 'the key directory is removed');
  });
});
