// The installed `gadi-dask` (the shipped bundles, dist/cli.js) keeps its connection between commands: the first
// runs in its own process and leaves a background process, which signs in on its own and runs the next commands of
// the same user and environment (src/cli/server.ts). Over the sandbox's real sshd, against the command run with no
// background process (GADI_DASK_CLI_SERVER=0): the same output and exit codes, Ctrl-C, a dropped link, two commands
// at once, its idle end, and a cache directory others can read.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as esbuild from 'esbuild';
import { EXIT } from '../../src/cli/exitCodes';
import { SERVER_ENV } from '../../src/cli/served';
import { until } from '../fixtures/poll';
import { run, smallClusterYaml, type RunResult } from './clusterFixture';
import { startSandbox, type Sandbox } from './sandbox';

const ROOT = resolve(__dirname, '..', '..');
const USER = 'gdcliserver';
const NAME = 'kept';

let sb: Sandbox;
let work: string;
let home: string;
let project: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'cli-server-'));
  chmodSync(work, 0o755);
  const { CLI_BUNDLES, nodeBundles } = await import('../../scripts/bundles.mjs');
  for (const b of nodeBundles(true, join(work, 'dist')).filter((x) => CLI_BUNDLES.includes(x.name))) {
    await esbuild.build({ ...b.options, absWorkingDir: ROOT, logLevel: 'silent' });
  }
  sb = await startSandbox({ user: USER });
  home = join(work, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
  copyFileSync(sb.sshConfigPath, join(home, '.ssh', 'config'));
  project = join(home, 'project');
  mkdirSync(project);
  writeFileSync(join(project, `${NAME}.dask-cluster.yaml`), smallClusterYaml(NAME, sb.alias));
});

after(async () => {
  if (sb) await gadiDask(['down'], { [SERVER_ENV]: '0' });
  await stopServers();
  await sb?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const cacheDir = () => join(home, '.cache', 'gadi-dask');
const sockets = () => (existsSync(cacheDir()) ? readdirSync(cacheDir()).filter((n) => n.endsWith('.sock')) : []);

/** Every background process of this test's bundle, ended (they would otherwise wait out their idle time). */
async function stopServers(): Promise<void> {
  await run(['pkill', '-TERM', '-f', join(work, 'dist', 'cli.js')]);
  await until('the background processes to leave', () => sockets().length === 0 || undefined, { timeoutMs: 10_000, everyMs: 100 });
}

/** The runtime from the checkout (the .vsix carries it beside dist/), the CLI's trace, a minute of idle time. */
const baseEnv = (): Record<string, string> => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, SSH_AUTH_SOCK: '', GADI_DASK_RUNTIME_DIR: join(ROOT, 'runtime'),
  GADI_DASK_TRACE: '1', [SERVER_ENV]: '60',
});

/** `gadi-dask ARGS` typed in the project directory, with the CLI's trace (which says whether it signed in itself). */
function gadiDask(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return run([process.execPath, join(work, 'dist', 'cli.js'), ...args], {
    cwd: project,
    env: { ...baseEnv(), ...env },
  }, '', 300_000);
}

const signedInItself = (r: RunResult) => /ssh: connecting/.test(r.stderr);
const withoutTrace = (text: string) => text.replace(/^trace .*\n/gm, '');

/** Runs `status` until a background process runs it (it signs in once the first command has left). */
async function untilServed(env: Record<string, string> = {}): Promise<RunResult> {
  return until('a command run by the background process', async () => {
    const r = await gadiDask(['status'], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    return signedInItself(r) ? undefined : r;
  }, { timeoutMs: 30_000, everyMs: 200 });
}

describe('the installed gadi-dask keeps its connection between commands', { concurrency: false }, () => {
  test('the first command runs in its own process; the next ones in the background process, alike', async () => {
    const up = await gadiDask(['up']);
    assert.equal(up.code, EXIT.ok, up.stderr);
    assert.ok(signedInItself(up), 'the first command signs in itself');
    await untilServed();
    assert.equal(sockets().length, 1);

    const scale = await gadiDask(['scale', '1', '--wait']);
    assert.equal(scale.code, EXIT.ok, scale.stderr);
    assert.ok(!signedInItself(scale), 'run where the connection is kept');
    assert.doesNotMatch(scale.stderr, /agent: start/, 'its agent runs already');
    assert.match(scale.stdout, /^Workers: 1\/1 worker connected$/m);
    assert.match(scale.stderr, /^trace \d+ ms cli: wait done$/m, 'its trace counts from the command\'s own start');

    const kept = await gadiDask(['status', '--json']);
    const own = await gadiDask(['status', '--json'], { [SERVER_ENV]: '0' });
    assert.ok(!signedInItself(kept) && signedInItself(own));
    assert.deepEqual([kept.code, JSON.parse(kept.stdout).counts], [own.code, JSON.parse(own.stdout).counts]);

    // Exit codes and errors as a process of its own gives them: a cluster with no scheduler, a config refused.
    // Beside the project (its directory holds one config, which the commands find alone), named from it.
    mkdirSync(join(home, 'other'));
    writeFileSync(join(home, 'other', 'none.dask-cluster.yaml'), smallClusterYaml('keptnone', sb.alias));
    const none = await gadiDask(['status', '--config', '../other/none.dask-cluster.yaml']);
    const noneOwn = await gadiDask(['status', '--config', '../other/none.dask-cluster.yaml'], { [SERVER_ENV]: '0' });
    assert.ok(!signedInItself(none));
    assert.deepEqual([none.code, none.stdout], [noneOwn.code, noneOwn.stdout]);
    assert.equal(none.code, EXIT.notRunning);
    writeFileSync(join(home, 'other', 'bad.dask-cluster.yaml'), smallClusterYaml('keptbad', sb.alias).replace('cores: 1', 'cores: many'));
    const bad = await gadiDask(['scale', '1', '--config', '../other/bad.dask-cluster.yaml']);
    const badOwn = await gadiDask(['scale', '1', '--config', '../other/bad.dask-cluster.yaml'], { [SERVER_ENV]: '0' });
    assert.deepEqual([bad.code, bad.stdout, withoutTrace(bad.stderr)], [badOwn.code, badOwn.stdout, withoutTrace(badOwn.stderr)]);
    assert.equal(bad.code, EXIT.config);
  });

  test('Ctrl-C cancels the command where it runs; the background process goes on', async () => {
    const started = Date.now();
    const p = spawn(process.execPath, [join(work, 'dist', 'cli.js'), 'scale', '3', '--wait'], {
      cwd: project, stdio: ['ignore', 'pipe', 'pipe'], env: baseEnv(),
    });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    await until('the wait to start', () => /apply: answered/.test(stderr) || undefined, { timeoutMs: 60_000, everyMs: 20 });
    p.kill('SIGINT');
    const code = await new Promise<number | null>((done) => p.on('close', done));
    assert.equal(code, EXIT.interrupted, stderr);
    assert.ok(!/ssh: connecting/.test(stderr), 'it ran in the background process');
    assert.ok(Date.now() - started < 60_000);
    await untilServed();
  });

  test('two commands at once: one runs in the background process, the other in its own; a dropped link is signed in again', async () => {
    // A scale that waits for a new worker holds the background process for seconds; a status meanwhile runs apart.
    assert.equal((await gadiDask(['scale', '1', '--wait'])).code, EXIT.ok); // Ctrl-C came after 3 were submitted
    const scaling = gadiDask(['scale', '2', '--wait']);
    await new Promise((done) => setTimeout(done, 400));
    const meanwhile = await gadiDask(['status']);
    const scaled = await scaling;
    assert.deepEqual([scaled.code, meanwhile.code], [EXIT.ok, EXIT.ok], scaled.stderr + meanwhile.stderr);
    assert.deepEqual([signedInItself(scaled), signedInItself(meanwhile)], [false, true]);
    assert.match(scaled.stdout, /^Workers: 2\/2 workers connected$/m);

    assert.ok((await sb.killSessions()) > 0, 'the kept connection had an sshd session');
    const after = await gadiDask(['status']);
    assert.equal(after.code, EXIT.ok, after.stderr);
    await untilServed();
  });

  test('without a command for its idle time it leaves, its socket with it', async () => {
    await stopServers();
    const env = { [SERVER_ENV]: '2' };
    await gadiDask(['status'], env);
    await untilServed(env);
    await until('the idle background process to leave', () => sockets().length === 0 || undefined, { timeoutMs: 15_000, everyMs: 200 });
    const r = await gadiDask(['status'], env);
    assert.equal(r.code, EXIT.ok);
    assert.ok(signedInItself(r), 'no background process: the command signs in itself');
  });

  test('a cache directory others can read: no background process at all', async () => {
    await stopServers();
    chmodSync(cacheDir(), 0o755);
    try {
      for (let i = 0; i < 3; i++) {
        const r = await gadiDask(['status']);
        assert.equal(r.code, EXIT.ok, r.stderr);
        assert.ok(signedInItself(r));
      }
      await new Promise((done) => setTimeout(done, 1500));
      assert.deepEqual(sockets(), []);
    } finally {
      chmodSync(cacheDir(), 0o700);
    }
  });
});
