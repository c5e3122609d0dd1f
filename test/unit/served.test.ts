// Where the installed gadi-dask's background process listens (src/cli/served.ts): only in a cache directory that is
// the user's alone, one socket per bundle and per environment that changes what a command does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { serverSocketFor } from '../../src/cli/served';

function place(): { cache: string; bundle: string; done: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'served-'));
  const cache = join(root, 'cache');
  mkdirSync(join(cache, 'gadi-dask'), { recursive: true, mode: 0o700 });
  chmodSync(join(cache, 'gadi-dask'), 0o700);
  const bundle = join(root, 'cliMain.js');
  writeFileSync(bundle, '// a bundle\n');
  return { cache, bundle, done: () => rmSync(root, { recursive: true, force: true }) };
}

const env = (cache: string, more: Record<string, string> = {}) => ({ HOME: '/home/u', PATH: '/usr/bin', XDG_CACHE_HOME: cache, ...more });

test('a socket in the private cache directory, named for the bundle and the environment that matters', () => {
  const p = place();
  try {
    const path = serverSocketFor(p.bundle, env(p.cache))!;
    assert.equal(dirname(path), join(p.cache, 'gadi-dask'));
    assert.match(basename(path), /^cli-[0-9a-f]{12}-[0-9a-f]{12}\.sock$/);
    assert.equal(serverSocketFor(p.bundle, env(p.cache)), path, 'the same every time');
    assert.equal(serverSocketFor(p.bundle, env(p.cache, { TERM: 'dumb', OLDPWD: '/x' })), path, 'unrelated variables do not count');
    const others: Record<string, string>[] = [{ SSH_AUTH_SOCK: '/tmp/agent' }, { GADI_DASK_TRACE: '1' }, { PATH: '/opt/bin:/usr/bin' }, { NODE_OPTIONS: '--x' }];
    for (const other of others) {
      assert.notEqual(serverSocketFor(p.bundle, env(p.cache, other)), path, JSON.stringify(other));
    }
    appendFileSync(p.bundle, '// another build\n');
    assert.notEqual(serverSocketFor(p.bundle, env(p.cache)), path, 'another bundle, another process');
  } finally {
    p.done();
  }
});

test('none when the directory is not the user\'s alone, is a link, is missing, or the path is too long', () => {
  const p = place();
  try {
    chmodSync(join(p.cache, 'gadi-dask'), 0o750);
    assert.equal(serverSocketFor(p.bundle, env(p.cache)), undefined);
    chmodSync(join(p.cache, 'gadi-dask'), 0o700);
    const linked = join(dirname(p.cache), 'linked');
    mkdirSync(linked);
    symlinkSync(join(p.cache, 'gadi-dask'), join(linked, 'gadi-dask'));
    assert.equal(serverSocketFor(p.bundle, env(linked)), undefined);
    assert.equal(serverSocketFor(p.bundle, env(join(p.cache, 'nothing'))), undefined);
    const deep = join(p.cache, 'd'.repeat(90));
    mkdirSync(join(deep, 'gadi-dask'), { recursive: true, mode: 0o700 });
    assert.equal(serverSocketFor(p.bundle, env(deep)), undefined);
    assert.equal(serverSocketFor(join(p.cache, 'no-bundle.js'), env(p.cache)), undefined);
  } finally {
    p.done();
  }
});
