// Acceptance: only the cluster's owner gets in. A cluster started on the sandbox speaks TLS with keys made for it;
// another Unix user on the same machine (nobody) is refused by the scheduler, the worker and its nanny, over plain
// TCP and over TLS without the cluster's certificate, and the filesystem refuses it the key files; no process's
// argv or environment and no PBS attribute carries key material; after down and up the keys are new and the old
// ones are refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from '../../src/core/cluster/cluster';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import { TLS_CERT_FILE, TLS_KEY_FILE } from '../../src/core/cluster/names';
import { refusingPrompt } from '../../src/core/remote/prompt';
import { SshTransportPool } from '../../src/core/remote/sshTransport';
import type { Transport } from '../../src/core/remote/transport';
import { until } from '../fixtures/poll';
import { connectClient, runAs, smallClusterYaml, type RunResult } from './clusterFixture';
import { startSandbox, type Sandbox } from './sandbox';

const USER = 'gdtls';
const NAME = 'tls';
const STRANGER = { uid: 65534, gid: 65534 }; // nobody: another user of the same machine

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

function runAsStranger(script: string, args: string[]): Promise<RunResult> {
  return new Promise((done, fail) => {
    const p = spawn('/usr/bin/python3', ['-', ...args], {
      uid: STRANGER.uid, gid: STRANGER.gid, cwd: strangerHome,
      env: { HOME: strangerHome, PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', fail);
    p.on('close', (code) => done({ code, stdout, stderr }));
    p.stdin.end(script);
  });
}

const lastJson = <T>(r: RunResult): T => JSON.parse(r.stdout.trim().split('\n').at(-1)!) as T;

// Each way in, tried on one address: what happened. Only "admitted" lets anyone run code.
const ATTEMPTS = `
import asyncio, json, os, ssl, sys
from distributed import Client
from distributed.core import rpc
from distributed.security import Security

no_cert = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
no_cert.check_hostname = False
no_cert.verify_mode = ssl.CERT_NONE

async def attempt(address, args):
    try:
        async with rpc(address, connection_args=args, timeout=5) as r:
            await asyncio.wait_for(r.identity(), 10)
        return "admitted"
    except Exception as e:
        return "refused (%s)" % type(e).__name__

async def main(addresses):
    out = {}
    for a in addresses:
        hostport = a.split("://", 1)[1]
        out[a] = {
            "tcp": await attempt("tcp://" + hostport, {}),
            "tls without a certificate": await attempt("tls://" + hostport, {"ssl_context": no_cert}),
            "tls with keys of its own": await attempt("tls://" + hostport, Security.temporary().get_connection_args("client")),
        }
        if os.environ.get("KEYS"):  # the control: the owner, with the cluster's keys
            k = os.environ["KEYS"]
            s = Security(tls_ca_file=k + "/tls-cert.pem", tls_client_cert=k + "/tls-cert.pem",
                         tls_client_key=k + "/tls-key.pem", require_encryption=True)
            out[a]["tls with the cluster's keys"] = await attempt("tls://" + hostport, s.get_connection_args("client"))
    return out

result = asyncio.run(main(sys.argv[2:]))
for way, address in (("Client tcp", "tcp://"), ("Client tls", "tls://")):
    try:
        c = Client(address + sys.argv[1].split("://", 1)[1], timeout=5,
                   security=Security.temporary() if address == "tls://" else None)
        c.close()
        result[way] = "admitted"
    except Exception as e:
        result[way] = "refused (%s)" % type(e).__name__
print(json.dumps(result))
`;

const READS = `
import json, os, sys
out = {}
for path in sys.argv[1:]:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, "rb").read()
        out[path] = "read"
    except OSError as e:
        out[path] = "refused (%s)" % type(e).__name__
print(json.dumps(out))
`;

/** A distinctive piece of each PEM body: what would give the key (or the certificate) away if it leaked. */
function material(): string[] {
  return [TLS_KEY_FILE, TLS_CERT_FILE].map((f) => {
    const body = readFileSync(join(cdir(), f), 'utf8').split('\n').filter((l) => l && !l.startsWith('-----'));
    return body[2]!.slice(0, 40);
  });
}

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
    const all = [addresses.scheduler, ...addresses.workers, ...addresses.nannies];
    const r = await runAsStranger(ATTEMPTS, [addresses.scheduler, ...all]);
    assert.equal(r.code, 0, r.stderr);
    const got = lastJson<Record<string, string | Record<string, string>>>(r);
    for (const a of all) {
      const ways = got[a] as Record<string, string>;
      assert.deepEqual(Object.keys(ways).sort(), ['tcp', 'tls with keys of its own', 'tls without a certificate']);
      for (const [way, outcome] of Object.entries(ways)) assert.match(outcome, /^refused/, `${a} ${way}: ${outcome}`);
    }
    assert.match(String(got['Client tcp']), /^refused/);
    assert.match(String(got['Client tls']), /^refused/);
    // The control: the same attempts by the owner, who alone also holds the keys, and gets in with them only.
    const owner = await runAs(sb, ['/usr/bin/python3', '-', addresses.scheduler, ...all], ATTEMPTS, { KEYS: cdir() });
    assert.equal(owner.code, 0, owner.stderr);
    const control = lastJson<Record<string, Record<string, string>>>(owner);
    for (const a of all) {
      assert.equal(control[a]["tls with the cluster's keys"], 'admitted', a);
      assert.match(control[a]['tls without a certificate'], /^refused/, a);
    }
  });

  test('the filesystem refuses another user the keys, even where the home and ~/.gadi-dask are open to all', async () => {
    // Gadi's homes are often readable by the project's group: only the cluster directory and the files must protect.
    for (const d of [sb.home, join(sb.home, '.gadi-dask'), join(sb.home, '.gadi-dask', 'clusters')]) chmodSync(d, 0o755);
    const paths = [cdir(), join(cdir(), TLS_KEY_FILE), join(cdir(), TLS_CERT_FILE)];
    const r = await runAsStranger(READS, paths);
    assert.equal(r.code, 0, r.stderr);
    const got = lastJson<Record<string, string>>(r);
    for (const p of paths) assert.equal(got[p], 'refused (PermissionError)', p);
  });

  test('no argv, environment or PBS attribute carries key material', async () => {
    const secrets = [...material(), 'PRIVATE KEY', 'BEGIN CERTIFICATE'];
    for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
      for (const what of ['cmdline', 'environ']) {
        let text: string;
        try {
          text = readFileSync(`/proc/${pid}/${what}`, 'latin1');
        } catch {
          continue; // gone meanwhile
        }
        for (const s of secrets) assert.ok(!text.includes(s), `/proc/${pid}/${what} shows ${s}: ${text.replace(/\0/g, ' ').slice(0, 300)}`);
      }
    }
    const q = await t.exec('qstat -f $(qselect -u "$USER")', { timeoutMs: 60_000 });
    assert.equal(q.code, 0, q.stderr);
    assert.match(q.stdout, /Variable_List/);
    for (const s of secrets) assert.ok(!q.stdout.includes(s), `qstat -f shows ${s}`);
  });

  test('down, then up: the keys are new, and a client with the old ones is refused', async () => {
    const old = join(sb.home, 'old-keys');
    const keep = await runAs(sb, ['/bin/sh', '-c', `mkdir -m 700 ${old} && cp -p ${cdir()}/tls-*.pem ${old}/`]);
    assert.equal(keep.code, 0, keep.stderr);
    const before = material();
    await cluster.down();
    await cluster.up();
    assert.notDeepEqual(material(), before);
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
