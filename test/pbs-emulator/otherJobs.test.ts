// listOtherJobs against the emulator through a real login bash (local transport): the user's jobs, typed, in one
// round trip, without the ones to exclude; and the failure when there is no qstat.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PbsUnavailableError } from '../../src/core/cluster/errors';
import { listOtherJobs } from '../../src/core/cluster/otherJobs';
import { LocalTransport } from '../../src/core/remote/localTransport';
import type { ExecOptions, ExecResult, SpawnOptions, Transport } from '../../src/core/remote/transport';

const bin = join(__dirname, 'bin');
const home = mkdtempSync(join(tmpdir(), 'other-jobs-'));
const state = join(home, 'pbs');
const env = { HOME: home, PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', PBS_EMULATOR_HOME: state, PBS_EMULATOR_ALLOW_ROOT: '1', PBS_EMULATOR_KILL_DELAY: '1' };
let transport: LocalTransport;
let execs = 0;
let counting: Transport;

function pbs(cmd: string, args: string[], input = ''): string {
  const r = spawnSync(join(bin, cmd), args, { cwd: home, env: { ...env, PATH: `${bin}:/usr/bin:/bin` }, input, encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

function profile(path: string): void {
  writeFileSync(join(home, '.bash_profile'), `export PATH="${path}"\necho "login banner"\n`);
}

before(() => {
  profile(`${bin}:/usr/bin:/bin`);
  transport = new LocalTransport({ home, env });
  counting = Object.assign(Object.create(transport) as Transport, {
    exec: (command: string, options?: ExecOptions): Promise<ExecResult> => {
      execs++;
      return transport.exec(command, options);
    },
    spawn: (command: string, options?: SpawnOptions) => {
      execs++;
      return transport.spawn(command, options);
    },
  });
});

after(async () => {
  await transport.close();
  rmSync(home, { recursive: true, force: true });
});

test('no jobs: an empty list', async () => {
  assert.deepEqual(await listOtherJobs(transport), []);
});

test("the user's jobs come typed from one exec, without the excluded ones", async () => {
  // Held jobs stay in the queue and never start: nothing to clean up but the queue.
  const a = pbs('qsub', ['-h', '-N', 'analysis'], 'sleep 1\n');
  const b = pbs('qsub', ['-h', '-N', 'my-cluster'], 'sleep 1\n');
  const c = pbs('qsub', ['-h', '-N', 'post'], 'sleep 1\n');
  try {
    execs = 0;
    const jobs = await listOtherJobs(counting, { exclude: [b] });
    assert.equal(execs, 1);
    assert.deepEqual(jobs.map((j) => [j.id, j.name, j.state]), [[a, 'analysis', 'H'], [c, 'post', 'H']]);
    assert.equal(jobs[0].stateInfo.phase, 'pending');
  } finally {
    pbs('qdel', [a, b, c]);
  }
});

test('without qstat on PATH it fails saying so', async () => {
  profile('/usr/bin:/bin');
  try {
    await assert.rejects(listOtherJobs(transport), (e: unknown) => e instanceof PbsUnavailableError && /qselect is not on PATH in a login shell/.test(e.message));
  } finally {
    profile(`${bin}:/usr/bin:/bin`);
  }
});
