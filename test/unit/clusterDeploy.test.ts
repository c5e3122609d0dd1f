// Deploying the runtime for real (install.sh through the local transport into a private HOME): the first deploy
// uploads and installs, the second only checks, a changed install is replaced, a bad upload is refused.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployRuntime } from '../../src/core/cluster/deploy';
import { DeployError } from '../../src/core/cluster/errors';
import { loadRuntimeBundle } from '../../src/core/cluster/runtimeBundle';
import { LocalTransport } from '../../src/core/remote/localTransport';
import { CountingTransport } from '../sandbox/clusterFixture';

let home: string;
let t: CountingTransport;
const bundle = loadRuntimeBundle();

before(() => {
  home = mkdtempSync(join(tmpdir(), 'cluster-deploy-'));
  writeFileSync(join(home, '.bash_profile'), 'echo "a login banner"\n');
  t = new CountingTransport(new LocalTransport({ home, env: { HOME: home, PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' } }));
});

after(async () => {
  await t.close();
  rmSync(home, { recursive: true, force: true });
});

const installed = () => join(home, '.gadi-dask', 'runtime', bundle.version);

test('the first deploy uploads once and installs; the second uploads nothing in one exec', async () => {
  const progress: string[] = [];
  const first = await deployRuntime(t, { bundle, onProgress: (m) => progress.push(m) });
  assert.equal(first.uploaded, true);
  assert.equal(first.action, 'installed');
  assert.deepEqual([t.execs, t.uploads], [2, 1]);
  assert.equal(first.path, installed());
  assert.equal(JSON.parse(readFileSync(join(installed(), '.gadi-dask-runtime.json'), 'utf8')).hash, bundle.hash);
  assert.ok(existsSync(join(installed(), 'gadi_dask', 'retire.py')));
  assert.deepEqual(progress.map((p) => p.split(' ')[0]), ['Checking', 'Uploading', 'Installing']);
  assert.equal(existsSync(join(home, '.gadi-dask', 'runtime', `.upload-${bundle.version}-${bundle.hash.slice(0, 12)}.tar.gz`)), false, 'the archive is removed');

  t.reset();
  const second = await deployRuntime(t, { bundle });
  assert.deepEqual([second.uploaded, second.action, second.uploadBytes], [false, 'up-to-date', 0]);
  assert.deepEqual([t.execs, t.uploads], [1, 0]);
});

test('an install edited on the cluster is replaced', async () => {
  writeFileSync(join(installed(), 'run.py'), '# edited by hand\n');
  t.reset();
  const again = await deployRuntime(t, { bundle });
  assert.deepEqual([again.uploaded, again.action, again.replaced, t.uploads], [true, 'installed', true, 1]);
  assert.notEqual(readFileSync(join(installed(), 'run.py'), 'utf8'), '# edited by hand\n');
});

test('an archive that does not match its hash is refused with what to do', async () => {
  const wrong = { ...bundle, version: 'bad-1', hash: 'f'.repeat(64) };
  await assert.rejects(deployRuntime(t, { bundle: wrong }), (e: unknown) =>
    e instanceof DeployError && e.installerCode === 'hash-mismatch' && /try again/.test(e.message));
  assert.equal(existsSync(join(home, '.gadi-dask', 'runtime', 'bad-1')), false, 'nothing installed');
});
