// The installed `gadi-dask` (dist/cli.js, src/cli/launch.ts): the bundle beside it run through V8's code cache. Built
// here with the shipped options into a directory of its own, and run as a user runs it, with its own cache directory.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as esbuild from 'esbuild';
import { EXIT } from '../../src/cli/exitCodes';
import { CLI_MAIN, COMPILE_CACHE_ENV } from '../../src/cli/launch';
import { VERSION } from '../../src/core/version';

const ROOT = resolve(__dirname, '..', '..');
let work: string;
let cache: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'cli-launch-'));
  const { CLI_BUNDLES, nodeBundles } = await import('../../scripts/bundles.mjs');
  const bundles = nodeBundles(true, join(work, 'dist')).filter((b) => CLI_BUNDLES.includes(b.name));
  assert.deepEqual(bundles.map((b) => (b.options.outfile ?? '').split('/').pop()).sort(), ['cli.js', CLI_MAIN], 'the launcher loads the bundle the build writes');
  for (const b of bundles) await esbuild.build({ ...b.options, absWorkingDir: ROOT, logLevel: 'silent' });
});
after(() => rmSync(work, { recursive: true, force: true }));

function gadiDask(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [join(work, 'dist', 'cli.js'), ...args], {
    encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, XDG_CACHE_HOME: cache, ...env }, timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const caches = () => {
  try {
    return readdirSync(join(cache, 'gadi-dask')).sort();
  } catch {
    return [];
  }
};
const only = () => {
  const names = caches();
  assert.equal(names.length, 1, names.join(' '));
  return join(cache, 'gadi-dask', names[0]!);
};

describe('the launcher and its code cache', { concurrency: false }, () => {
  before(() => {
    cache = mkdtempSync(join(work, 'cache-'));
  });

  test('the first run writes the cache, readable by the user alone; the command answers as the bundle does', () => {
    const r = gadiDask(['--version']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [EXIT.ok, `${VERSION}\n`, '']);
    const file = only();
    assert.match(file, new RegExp(`/cli-[0-9a-f]{16}-_-${process.version.replace(/\./g, '\\.')}-${process.arch}\\.v8$`));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(join(cache, 'gadi-dask')).mode & 0o777, 0o700);
  });

  test('the next run takes it: V8 accepted it, so it is not written again', () => {
    const file = only();
    const before = statSync(file);
    const r = gadiDask(['--version']);
    assert.equal(r.stdout, `${VERSION}\n`);
    const now = statSync(file);
    assert.deepEqual([now.ino, now.mtimeMs], [before.ino, before.mtimeMs], 'rewritten: V8 rejected the cache it wrote');
  });

  test('each command has its own, and a command\'s exit status and output pass through', () => {
    const r = gadiDask(['lint', join(ROOT, 'examples', 'express.dask-cluster.yaml'), join(work, 'missing.dask-cluster.yaml')]);
    assert.notEqual(r.code, EXIT.ok, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /missing\.dask-cluster\.yaml/);
    assert.deepEqual(caches().map((n) => n.split('-')[2]), ['_', 'lint']);
    const usage = gadiDask(['no-such-command']);
    assert.equal(usage.code, EXIT.usage);
    assert.match(usage.stderr, /unknown command 'no-such-command'/);
  });

  test('a cache that is garbage is refused by V8, the command runs all the same, and a good cache replaces it', () => {
    const file = join(cache, 'gadi-dask', caches().find((n) => n.includes('-_-'))!);
    writeFileSync(file, Buffer.alloc(4096, 7));
    const r = gadiDask(['--version']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [EXIT.ok, `${VERSION}\n`, '']);
    assert.notDeepEqual(readFileSync(file), Buffer.alloc(4096, 7));
    assert.ok(statSync(file).size > 100_000);
  });

  test('a new bundle gets its own cache and the old bundle\'s go', () => {
    const old = caches();
    appendFileSync(join(work, 'dist', CLI_MAIN), '\n// another build\n');
    assert.equal(gadiDask(['--version']).stdout, `${VERSION}\n`);
    const now = caches();
    assert.equal(now.length, 1);
    assert.ok(!old.includes(now[0]!), `${now[0]} was there before`);
  });

  test('a cache directory that cannot be made leaves the command unharmed; GADI_DASK_COMPILE_CACHE=0 writes none', () => {
    const blocked = join(work, 'a-file');
    writeFileSync(blocked, '');
    const r = gadiDask(['--version'], { XDG_CACHE_HOME: blocked });
    assert.deepEqual([r.code, r.stdout, r.stderr], [EXIT.ok, `${VERSION}\n`, '']);
    cache = mkdtempSync(join(work, 'cache-'));
    const off = gadiDask(['--version'], { [COMPILE_CACHE_ENV]: '0' });
    assert.deepEqual([off.code, off.stdout, caches()], [EXIT.ok, `${VERSION}\n`, []]);
  });
});
