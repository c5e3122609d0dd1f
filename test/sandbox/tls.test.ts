// Acceptance: only the cluster's owner gets in. A cluster started on the sandbox speaks TLS with keys made for it;
// another Unix user on the same machine (nobody) is refused by the scheduler, the worker and its nanny, over plain
// TCP and over TLS without the cluster's certificate, and the filesystem refuses it the key files; no process's
// argv or environment and no PBS attribute carries key material; after down and up the keys are new and the old
// ones are refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from '../../src/core/cluster/cluster';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import { TLS_CERT_FILE, TLS_KEY_FILE } from '../../src/core/cluster/names';
import { refusingPrompt } from '../../src/core/remote/prompt';
import { SshTransportPool } from '../../src/core/remote/sshTransport';
import type { Transport } from '../../src/core/remote/transport';
import { until } from '../fixtures/poll';
import { connectClient, runAs, smallClusterYaml } from './clusterFixture';
import { assertKeysUnreadableToStranger, assertNowhere, assertStrangerRefused, keyMaterial, lastJson, runAsStranger, STRANGER } from './stranger';
import { startSandbox, type Sandbox } from './sandbox';

const USER = 'gdtls';
const NAME = 'tls';

let sb: Sandbox;
let pool: SshTransportPool;
let t: Transport;
let cluster: Cluster;
let strangerHome: string;
const cdir = () => join(sb.home, '.gadi-dask', 'clusters', NAME);

before(async () => {
  sb = await startSandbox({ user: USER });
  pool = new SshTransportPool({ prompt: refusingPrompt, agent: null, sshConfig: { configFile: sb.sshConfigPath, systemConfigFile: null } });
  t = pool.open(sb.alias);
  cluster = new Cluster(t, parseClusterConfig(smallClusterYaml(NAME, sb.alias)));
  strangerHome = mkdtempSync(join(tmpdir(), 'tls-stranger-'));
  chownSync(strangerHome, STRANGER.uid, STRANGER.gid);
});

after(async () => {
  try {
    await cluster?.down();
  } finally {
    await pool?.close();
    await sb?.stop();
    if (strangerHome) rmSync(strangerHome, { recursive: true, force: true });
  }
});

describe('a cluster only its owner gets into', { concurrency: false }, () => {
  let addresses: { scheduler: string; workers: string[]; nannies: string[] };

  test('up and scale 1: the scheduler and the worker speak TLS, with private keys made on the cluster', async () => {
    await cluster.up();
    await cluster.scale({ jobs: 1 });
    const snap = await until('one worker', async () => {
      const s = await cluster.status();
      return s.counts.workers === 1 ? s : undefined;
    }, { timeoutMs: 60_000, everyMs: 500 });
    assert.match(snap.scheduler.address ?? '', /^tls:\/\//);
    assert.equal(statSync(cdir()).mode & 0o777, 0o700);
    for (const f of [TLS_CERT_FILE, TLS_KEY_FILE]) {
      const st = statSync(join(cdir(), f));
      assert.deepEqual([st.mode & 0o777, st.uid], [0o600, sb.uid], f);
    }
  });

  test('the client Insert Dask Client Snippet writes computes on the cluster', async () => {
    const r = await runAs(sb, ['/usr/bin/python3', '-'], `import json\n${connectClient(NAME)}` +
      'info = c.scheduler_info()\n' +
      'print(json.dumps({"total": c.submit(sum, [1, 2, 3]).result(), "scheduler": info["address"],\n' +
      '  "workers": sorted(info["workers"]), "nannies": sorted(w["nanny"] for w in info["workers"].values())}))\n');
    assert.equal(r.code, 0, r.stderr);
    const got = lastJson<{ total: number; scheduler: string; workers: string[]; nannies: string[] }>(r);
    assert.equal(got.total, 6);
    assert.equal(got.workers.length, 1);
    for (const a of [got.scheduler, ...got.workers, ...got.nannies]) assert.match(a, /^tls:\/\/127\.0\.0\.1:\d+$/);
    addresses = { scheduler: got.scheduler, workers: got.workers, nannies: got.nannies };
  });

  test('another user is refused by the scheduler, the worker and the nanny, over TCP and over TLS without the key', async () => {
    await assertStrangerRefused(sb, strangerHome, cdir(), addresses);
  });

  test('the dashboard tells a stranger nothing: its door wants the cluster\'s keys; the owner\'s tunnel gets its pages', async () => {
    const snap = await cluster.status();
    const dashboard = snap.scheduler.dashboard!;
    assert.equal(dashboard.tls, true);
    assert.match(dashboard.url, /^https:\/\//);
    // Plain HTTP, and TLS that trusts anything, with no certificate: the handshake ends it before any page.
    const r = await runAsStranger(strangerHome, `
import http.client, json, ssl
out = {}
for name, make in (("http", lambda: http.client.HTTPConnection("${dashboard.host}", ${dashboard.port}, timeout=5)),
                   ("https", lambda: http.client.HTTPSConnection("${dashboard.host}", ${dashboard.port}, timeout=5,
                                                                 context=ssl._create_unverified_context()))):
    try:
        c = make()
        c.request("GET", "/status")
        out[name] = "page %d" % c.getresponse().status
    except Exception as e:
        out[name] = "refused (%s)" % type(e).__name__
print(json.dumps(out))
`, []);
    const got = lastJson<Record<string, string>>(r);
    assert.match(got.http, /^refused/, JSON.stringify(got));
    assert.match(got.https, /^refused/, JSON.stringify(got));
    // The scheduler's dashboard itself listens on loopback only (its door is the one way in from the network).
    const handle = await cluster.forwardDashboard(dashboard);
    try {
      const res = await fetch(`http://127.0.0.1:${handle.localPort}/health`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(res.status, 200);
      assert.equal((await res.text()).trim(), 'ok');
    } finally {
      await handle.close();
    }
  });

  test('the filesystem refuses another user the keys, even where the home and ~/.gadi-dask are open to all', async () => {
    await assertKeysUnreadableToStranger(sb, strangerHome, cdir());
  });

  test('no argv, environment or PBS attribute carries key material', async () => {
    const q = await t.exec('qstat -f $(qselect -u "$USER")', { timeoutMs: 60_000 });
    assert.equal(q.code, 0, q.stderr);
    assert.match(q.stdout, /Variable_List/);
    assertNowhere([...keyMaterial(cdir()), 'PRIVATE KEY', 'BEGIN CERTIFICATE'], { 'qstat -f': q.stdout });
  });

  test('down, then up: the keys are new, and a client with the old ones is refused', async () => {
    const old = join(sb.home, 'old-keys');
    const keep = await runAs(sb, ['/bin/sh', '-c', `mkdir -m 700 ${old} && cp -p ${cdir()}/tls-*.pem ${old}/`]);
    assert.equal(keep.code, 0, keep.stderr);
    const before = keyMaterial(cdir());
    await cluster.down();
    await cluster.up();
    assert.notDeepEqual(keyMaterial(cdir()), before);
    const status = await cluster.status();
    assert.equal(status.scheduler.state, 'running');
    const withKeys = (dir: string) => `import json\nfrom dask.distributed import Client, Security\n` +
      `s = Security(tls_ca_file="${dir}/${TLS_CERT_FILE}", tls_client_cert="${dir}/${TLS_CERT_FILE}", tls_client_key="${dir}/${TLS_KEY_FILE}", require_encryption=True)\n` +
      `try:\n    Client(scheduler_file="${cdir()}/scheduler.json", security=s, timeout=5).close()\n    print(json.dumps("admitted"))\n` +
      `except Exception as e:\n    print(json.dumps("refused (%s)" % type(e).__name__))\n`;
    const oldOnes = await runAs(sb, ['/usr/bin/python3', '-'], withKeys(old));
    assert.match(lastJson<string>(oldOnes), /^refused/, oldOnes.stderr);
    const newOnes = await runAs(sb, ['/usr/bin/python3', '-'], withKeys(cdir()));
    assert.equal(lastJson<string>(newOnes), 'admitted', newOnes.stderr);
  });

  test('the status probe asks the scheduler over TLS when it asks it directly', async () => {
    const runPy = join(sb.home, '.gadi-dask', 'runtime');
    const version = readdirSync(runPy).find((d) => !d.startsWith('.'))!;
    const r = await runAs(sb, ['/usr/bin/python3', join(runPy, version, 'run.py'), 'status', '--name', NAME, '--via', 'rpc']);
    const doc = JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('{'))!) as { ok: boolean; via: string; error?: string };
    assert.deepEqual([doc.ok, doc.via, doc.error], [true, 'rpc', undefined]);
  });
});
