// The faults of the adversarial pass that real PBS can be made to show on demand: an unrelated job of the user
// whose attributes hold a non-UTF-8 byte, a scheduler killed -9, and the agent killed -9 inside a slow qsub.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processesOf } from '../sandbox/clusterFixture';
import { until } from '../fixtures/poll';
import { jobsOf, liveJobsOf, startRealPbs, type RealPbs } from './realPbs';

const USER = 'gdpbsfault';
let env: RealPbs;

before(async () => {
  env = await startRealPbs(USER);
});
after(() => env?.stop());

const workersOf = (name: string) => liveJobsOf(USER).filter((j) => j.name.startsWith(`${name}-`));
const schedulersOf = (name: string) => liveJobsOf(USER).filter((j) => j.name.startsWith(`dask-scheduler-${name}-`));

test('an unrelated held job with a Latin-1 byte in its Variable_List: scale, status and down work, and it stays held', async () => {
  const t = env.pool.open(env.sb.alias);
  const r = await t.exec("cd; qsub -h -N other -v GREETING=$(printf 'caf\\351') -- /bin/sleep 600");
  assert.equal(r.code, 0, r.stderr);
  const other = r.stdout.trim();
  const config = env.config('latin');
  for (const args of [['scale', '1', '--wait', '--timeout', '180'], ['status'], ['down']]) {
    const run = await env.cli(args, config);
    assert.equal(run.code, 0, `${args.join(' ')}:\n${run.stderr}`);
  }
  assert.equal(jobsOf(USER).find((j) => j.id === other)?.state, 'H', 'the unrelated job is untouched');
  assert.deepEqual([...workersOf('latin'), ...schedulersOf('latin')], []);
  await t.exec(`qdel ${other}`);
});

test('a scheduler killed -9: scale 1 --wait starts a new scheduler job and reaches its worker', async () => {
  const config = env.config('dead');
  const first = await env.cli(['scale', '1', '--wait', '--timeout', '180'], config);
  assert.equal(first.code, 0, first.stderr);
  const meta = () => JSON.parse(readFileSync(join(env.sb.home, '.gadi-dask', 'clusters', 'dead', 'runtime.json'), 'utf8')) as { pbsJobId: string; pid: number };
  const old = meta();
  process.kill(old.pid, 'SIGKILL');
  const again = await env.cli(['scale', '1', '--wait', '--timeout', '180'], config);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.notEqual(meta().pbsJobId, old.pbsJobId, 'a new scheduler job runs the cluster');
  await until('one worker job and one scheduler job', () => (workersOf('dead').length === 1 && schedulersOf('dead').length === 1) || undefined, { timeoutMs: 60_000, everyMs: 500 });
  const down = await env.cli(['down'], config);
  assert.equal(down.code, 0, down.stderr);
});

test('the agent killed -9 inside a slow qsub: the next scale adopts what lands, nothing is submitted twice', async () => {
  const config = env.config('killed');
  const up = await env.cli(['up'], config);
  assert.equal(up.code, 0, up.stderr);
  writeFileSync(join(env.sb.home, 'pbs-delay-qsub'), '4\n');
  env.sb.wrapCommand('qsub', readFileSync(join(__dirname, 'wrapper.sh'), 'utf8'));
  const cli = spawn(process.execPath, ['--import', require.resolve('tsx'), join(__dirname, '..', '..', 'src', 'cli', 'cli.ts'),
    'scale', '2', '--no-wait', '--config', config, '--ssh-config', env.sb.sshConfigPath], { stdio: 'ignore' });
  const exited = new Promise((done) => cli.on('close', done));
  const agent = await until('the agent inside a qsub', () => {
    const mine = processesOf(env.sb.uid);
    return mine.some((p) => p.comm === 'qsub' || /\bqsub\b/.test(p.cmdline)) ? mine.find((p) => /run\.py agent\b/.test(p.cmdline)) : undefined;
  }, { timeoutMs: 60_000, everyMs: 50 });
  process.kill(agent.pid, 'SIGKILL');
  await exited;
  env.sb.unwrapCommand('qsub');
  const again = await env.cli(['scale', '2', '--no-wait'], config);
  assert.equal(again.code, 0, again.stderr);
  // The orphaned qsub runs under the agent's `timeout` leader, behind the wrapper's sleep. (OpenPBS's qsub also
  // forks a per-user background qsub that lingers for a minute: it is not the orphan.)
  await until('the orphaned qsub to land or end', () => !processesOf(env.sb.uid).some((p) => p.comm === 'timeout' || p.comm === 'sleep') || undefined, { timeoutMs: 60_000, everyMs: 200 });
  assert.equal(workersOf('killed').length, 2, workersOf('killed').map((j) => j.id).join(' '));
  assert.equal(schedulersOf('killed').length, 1);
  const down = await env.cli(['down'], config);
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual([...workersOf('killed'), ...schedulersOf('killed')], []);
});
