// Another user of the same machine trying to get into a cluster: the ways in (plain TCP, TLS without a
// certificate, TLS with keys of its own) against each address, reads of the key files, and what of the keys would
// give them away if it showed in a process's argv or a PBS attribute. Shared by the sandbox and real-PBS tests.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TLS_CERT_FILE, TLS_KEY_FILE } from '../../src/core/cluster/names';
import { runAs, type RunResult } from './clusterFixture';
import type { Sandbox } from './sandbox';

export const STRANGER = { uid: 65534, gid: 65534 }; // nobody

/** Runs Python as another user of the machine (nobody), in its own `home`. */
export function runAsStranger(home: string, script: string, args: string[]): Promise<RunResult> {
  return new Promise((done, fail) => {
    const p = spawn('/usr/bin/python3', ['-', ...args], {
      uid: STRANGER.uid, gid: STRANGER.gid, cwd: home,
      env: { HOME: home, PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' }, stdio: ['pipe', 'pipe', 'pipe'],
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

export const lastJson = <T>(r: RunResult): T => JSON.parse(r.stdout.trim().split('\n').at(-1)!) as T;

// Each way in, tried on one address: what happened. Only "admitted" lets anyone run code.
export const ATTEMPTS = `
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

export const READS = `
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
export function keyMaterial(clusterDir: string): string[] {
  return [TLS_KEY_FILE, TLS_CERT_FILE].map((f) => {
    const body = readFileSync(join(clusterDir, f), 'utf8').split('\n').filter((l) => l && !l.startsWith('-----'));
    return body[2]!.slice(0, 40);
  });
}

export interface ClusterAddresses {
  scheduler: string;
  workers: string[];
  nannies: string[];
}

/** Every way in is refused to the stranger at every address; the owner, with the keys, gets in (the control). */
export async function assertStrangerRefused(sb: Sandbox, home: string, clusterDir: string, at: ClusterAddresses): Promise<void> {
  const all = [at.scheduler, ...at.workers, ...at.nannies];
  const r = await runAsStranger(home, ATTEMPTS, [at.scheduler, ...all]);
  assert.equal(r.code, 0, r.stderr);
  const got = lastJson<Record<string, string | Record<string, string>>>(r);
  for (const a of all) {
    const ways = got[a] as Record<string, string>;
    assert.deepEqual(Object.keys(ways).sort(), ['tcp', 'tls with keys of its own', 'tls without a certificate']);
    for (const [way, outcome] of Object.entries(ways)) assert.match(outcome, /^refused/, `${a} ${way}: ${outcome}`);
  }
  assert.match(String(got['Client tcp']), /^refused/);
  assert.match(String(got['Client tls']), /^refused/);
  const owner = await runAs(sb, ['/usr/bin/python3', '-', at.scheduler, ...all], ATTEMPTS, { KEYS: clusterDir });
  assert.equal(owner.code, 0, owner.stderr);
  const control = lastJson<Record<string, Record<string, string>>>(owner);
  for (const a of all) {
    assert.equal(control[a]["tls with the cluster's keys"], 'admitted', a);
    assert.match(control[a]['tls without a certificate'], /^refused/, a);
  }
}

/**
 * The filesystem refuses the stranger the cluster directory and the key files, with the home and ~/.gadi-dask open
 * to all (Gadi's homes are often readable by the project's group): only the directory and the files must protect.
 */
export async function assertKeysUnreadableToStranger(sb: Sandbox, home: string, clusterDir: string): Promise<void> {
  for (const d of [sb.home, join(sb.home, '.gadi-dask'), join(sb.home, '.gadi-dask', 'clusters')]) chmodSync(d, 0o755);
  const paths = [clusterDir, join(clusterDir, TLS_KEY_FILE), join(clusterDir, TLS_CERT_FILE)];
  const r = await runAsStranger(home, READS, paths);
  assert.equal(r.code, 0, r.stderr);
  const got = lastJson<Record<string, string>>(r);
  for (const p of paths) assert.equal(got[p], 'refused (PermissionError)', p);
}

/** No process's argv or environment, and no text given, shows any of `secrets`. */
export function assertNowhere(secrets: readonly string[], texts: Record<string, string> = {}): void {
  const shown = { ...texts };
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    for (const what of ['cmdline', 'environ']) {
      try {
        shown[`/proc/${pid}/${what}`] = readFileSync(`/proc/${pid}/${what}`, 'latin1');
      } catch {
        // gone meanwhile
      }
    }
  }
  for (const [where, text] of Object.entries(shown)) {
    for (const s of secrets) assert.ok(!text.includes(s), `${where} shows ${s}: ${text.replace(/\0/g, ' ').slice(0, 300)}`);
  }
}
