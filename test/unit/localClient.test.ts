import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { compareVersions, localClientSnippet, splitAddress, writeKeyFiles } from '../../src/core/cluster/localClient';

test('the TLS snippet connects to the tunnel with the cluster\'s copied keys and requires encryption', () => {
  const s = localClientSnippet({ address: 'tls://127.0.0.1:40123', cluster: 'demo', host: 'gadi', files: { cert: '/k/"odd" dir/tls-cert.pem', key: '/k/"odd" dir/tls-key.pem' } });
  assert.match(s, /^from dask\.distributed import Client, Security$/m);
  assert.match(s, /^security = Security\(tls_ca_file=cert, tls_client_cert=cert, tls_client_key=key, require_encryption=True\)$/m);
  assert.match(s, /^client = Client\("tls:\/\/127\.0\.0\.1:40123", security=security\)$/m);
  assert.match(s, /direct_to_workers=True/);
  // Python reads the paths back exactly, quotes and all (when a Python is here to ask).
  let python: string | undefined;
  try {
    python = execFileSync('/usr/bin/python3', ['-c', `import ast, sys\nsrc = sys.stdin.read()\nt = ast.parse(src)\nprint([n.value.value for n in t.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)])`], { input: s }).toString();
  } catch {
    python = undefined;
  }
  if (python !== undefined) assert.equal(python.trim(), `['/k/"odd" dir/tls-cert.pem', '/k/"odd" dir/tls-key.pem']`);
});

test('without TLS the snippet is a plain address', () => {
  const s = localClientSnippet({ address: 'tcp://127.0.0.1:5', cluster: 'demo', host: 'gadi' });
  assert.match(s, /^client = Client\("tcp:\/\/127\.0\.0\.1:5"\)$/m);
  assert.doesNotMatch(s, /Security/);
});

test('versions: equal is quiet; any difference warns as Dask would, naming both; a missing distributed says what to install', () => {
  assert.deepEqual(compareVersions({ version: '2022.12.1' }, '2022.12.1', 'python3'), { local: '2022.12.1', scheduler: '2022.12.1' });
  const w = compareVersions({ version: '2024.1.0' }, '2022.12.1', '/opt/py/bin/python').warning!;
  assert.match(w, /Mismatched versions found: distributed 2024\.1\.0 here \(\/opt\/py\/bin\/python\), 2022\.12\.1 on the scheduler/);
  assert.match(w, /distributed==2022\.12\.1/);
  const none = compareVersions({ error: "ModuleNotFoundError: No module named 'distributed'" }, '2022.12.1', 'python3');
  assert.equal(none.local, undefined);
  assert.match(none.warning!, /python3\) cannot import distributed .*install distributed==2022\.12\.1/);
  // The scheduler's version unknown: nothing to compare.
  assert.equal(compareVersions({ version: '1' }, undefined, 'python3').warning, undefined);
});

test('scheduler addresses split into what a tunnel needs; anything else is refused', () => {
  assert.deepEqual(splitAddress('tls://10.6.1.2:8786'), { scheme: 'tls', host: '10.6.1.2', port: 8786 });
  assert.deepEqual(splitAddress('tcp://[fe80::1]:99'), { scheme: 'tcp', host: 'fe80::1', port: 99 });
  assert.throws(() => splitAddress('inproc://x'), /not a tcp:\/\/ or tls:\/\//);
});

test('key files are private from their first byte and replaced whole', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keys-'));
  try {
    const a = writeKeyFiles(dir, 'gadi-demo', Buffer.from('CERT1'), Buffer.from('KEY1'));
    const b = writeKeyFiles(dir, 'gadi-demo', Buffer.from('CERT2'), Buffer.from('KEY2'));
    assert.deepEqual(a, b);
    assert.equal(readFileSync(b.key, 'utf8'), 'KEY2');
    assert.equal(statSync(dirname(b.key)).mode & 0o777, 0o700);
    for (const f of [b.cert, b.key]) assert.equal(statSync(f).mode & 0o777, 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
