// The faults that lost jobs before the agent, reproduced for real through the sandbox's sshd and PBS emulator:
// the link dropping mid-scale, qstat printing garbage with exit 0, qsub printing text around the id, config values
// visible in argv, and an agent of another protocol version. Jobs here run `sleep` (the prologue execs it inside a
// job), so many of them cost nothing; the agent itself runs under the real python with Dask.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderScale } from '../../src/cli/render';
import { Cluster } from '../../src/core/cluster/cluster';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import { PbsUnavailableError } from '../../src/core/cluster/errors';
import { refusingPrompt } from '../../src/core/remote/prompt';
import { SshTransportPool } from '../../src/core/remote/sshTransport';
import type { Transport } from '../../src/core/remote/transport';
import { CountingTransport, liveWorkerJobs, smallClusterYaml } from './clusterFixture';
import { startSandbox, type Sandbox } from './sandbox';
import { seededRandom } from '../fixtures/random';

const USER = 'gdfaults';
const TOKEN = `tok-${process.pid}-${Date.now().toString(36)}`;
// Inside a job the prologue becomes the job: it holds its place in the queue and costs nothing.
const PROLOGUE = `    job-script-prologue: ['export API_TOKEN=${TOKEN}', 'if [ -n "$PBS_JOBID" ]; then exec sleep 900; fi']\n`;

let sb: Sandbox;
let pool: SshTransportPool;

before(async () => {
  sb = await startSandbox({ user: USER, qdelLingerSeconds: 4 });
  pool = new SshTransportPool({ prompt: refusingPrompt, agent: null, sshConfig: { configFile: sb.sshConfigPath, systemConfigFile: null } });
});

after(async () => {
  await pool?.close();
  await sb?.stop();
});

function cluster(t: Transport, name: string): Cluster {
  return new Cluster(t, parseClusterConfig(smallClusterYaml(name, sb.alias, PROLOGUE)), { lockWaitSeconds: 120 });
}

function journal(name: string): string {
  return readFileSync(join(sb.home, '.gadi-dask', 'clusters', name, 'journal.jsonl'), 'utf8');
}


describe('the agent under faults', { concurrency: false }, () => {
  test('the link drops while scale 10 submits, at seeded moments: the next scale 10 leaves exactly 10 jobs, down 0', async () => {
    const seed = Number(process.env.GADI_DASK_FAULT_SEED ?? Date.now() % 100000);
    const rounds = Number(process.env.GADI_DASK_FAULT_ROUNDS ?? 20);
    const next = seededRandom(seed);
    process.stderr.write(`link-drop seed ${seed}, ${rounds} rounds\n`);
    // Each qsub takes a moment, as on a busy server, so the drop lands among the submissions.
    sb.wrapCommand('qsub', `sleep 0.15\nexec ${sb.realCommand('qsub')} "$@"\n`);
    const moments: string[] = [];
    try {
      for (let round = 0; round < rounds; round++) {
        const t = pool.open(sb.alias);
        await cluster(t, 'drop').scale({ jobs: 0 }, { wait: false });
        const at = Math.round(100 + next() * 2200);
        moments.push(String(at));
        const interrupted = cluster(t, 'drop').scale({ jobs: 10 }, { wait: false }).then(() => 'finished', (e: Error) => e.name);
        await new Promise((r) => setTimeout(r, at));
        await sb.stopSshd();
        await sb.killSessions();
        await sb.startSshd();
        const how = await interrupted;
        await t.close();
        const t2 = pool.open(sb.alias);
        const again = await cluster(t2, 'drop').scale({ jobs: 10 }, { wait: false });
        const status = await cluster(t2, 'drop').status();
        const lingering = (await liveWorkerJobs(t2, 'drop')).length - status.counts.workerJobs;
        assert.equal(status.counts.workerJobs, 10, `round ${round} (drop after ${at} ms, first scale ${how}, second submitted ${again.submitted.length})`);
        // What PBS runs beyond the 10 are only jobs cancelled by scale 0 that have not left yet.
        assert.ok(lingering >= 0, `round ${round}: the cluster counts jobs PBS does not have`);
        await t2.close();
      }
    } finally {
      sb.unwrapCommand('qsub');
      process.stderr.write(`link-drop moments (ms): ${moments.join(' ')}\n`);
    }
    const t = pool.open(sb.alias);
    const down = await cluster(t, 'drop').down();
    assert.deepEqual(down.exiting, []);
    assert.deepEqual(await liveWorkerJobs(t, 'drop'), [], 'no worker job of the cluster is left in PBS');
    await t.close();
  });

  test('qstat printing garbage with exit 0: scale and down refuse naming the cause; jobs and records unchanged', async () => {
    const t = pool.open(sb.alias);
    const c = cluster(t, 'garbled');
    await c.scale({ jobs: 2 }, { wait: false });
    const before = await liveWorkerJobs(t, 'garbled');
    const records = journal('garbled');
    sb.wrapCommand('qstat', 'echo "qstat: site maintenance at 02:00, see https://nci.org.au"\nexit 0\n');
    try {
      await assert.rejects(c.scale({ jobs: 4 }, { wait: false }), (e: unknown) => e instanceof PbsUnavailableError && /not JSON/.test(e.message));
      await assert.rejects(c.down(), (e: unknown) => e instanceof PbsUnavailableError && /not JSON/.test(e.message));
    } finally {
      sb.unwrapCommand('qstat');
    }
    assert.deepEqual(await liveWorkerJobs(t, 'garbled'), before, 'nothing submitted, nothing cancelled');
    assert.equal(journal('garbled'), records, 'no record dropped or added');
    await c.down();
    assert.deepEqual(await liveWorkerJobs(t, 'garbled'), []);
    await t.close();
  });

  test('qsub printing text around the id: the job is tracked, and a retry submits nothing extra', async () => {
    sb.wrapCommand('qsub', `out=$(${sb.realCommand('qsub')} "$@")\nrc=$?\necho "Job submitted: $out (thank you)"\nexit $rc\n`);
    const t = pool.open(sb.alias);
    const c = cluster(t, 'chatty');
    try {
      const first = await c.scale({ jobs: 1 }, { wait: false });
      assert.equal(first.submitted.length, 1);
      assert.match(first.submitted[0], /^\d+\.[\w.-]+$/);
      const second = await c.scale({ jobs: 1 }, { wait: false });
      assert.deepEqual(second.submitted, []);
      assert.deepEqual(await liveWorkerJobs(t, 'chatty'), first.submitted);
    } finally {
      sb.unwrapCommand('qsub');
      await c.down();
      await t.close();
    }
  });

  test('scale 0 counts worker jobs only (not the scheduler\'s) and returns once PBS no longer runs them', async () => {
    const t = pool.open(sb.alias);
    const c = cluster(t, 'zero');
    await c.scale({ jobs: 2 }, { wait: false });
    const r = await c.scale({ jobs: 0 });
    assert.equal(r.before.length, 2);
    assert.deepEqual(r.exiting, []);
    assert.match(renderScale(r), /^Worker jobs: 0 \(asked for 0\)$/m);
    assert.deepEqual(await liveWorkerJobs(t, 'zero'), []);
    await c.down();
    await t.close();
  });

  test('while up and scale run, no config value is in any process argv on the host', async () => {
    const seen = new Set<string>();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        for (const line of execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n')) if (line.includes(TOKEN) || line.includes('exec sleep 900')) seen.add(line);
        await new Promise((r) => setTimeout(r, 15));
      }
    })();
    const t = pool.open(sb.alias);
    const c = cluster(t, 'private');
    try {
      await c.up({ wait: false });
      await c.scale({ jobs: 2 }, { wait: false });
      await c.status();
    } finally {
      sampling = false;
      await sampler;
      await c.down();
      await t.close();
    }
    assert.deepEqual([...seen], [], 'the prologue (and its token) reached a command line');
  });

  test('session mode: one agent answers every refresh; after the link drops and sshd restarts, the next refresh comes back by itself', async () => {
    const inner = pool.open(sb.alias);
    const t = new CountingTransport(inner);
    const c = new Cluster(t, parseClusterConfig(smallClusterYaml('session', sb.alias, PROLOGUE)), { mode: 'session' });
    await c.scale({ jobs: 1 }, { wait: false });
    t.reset();
    for (let i = 0; i < 5; i++) assert.equal((await c.status()).counts.workerJobs, 1);
    assert.equal(t.execs, 0, 'five refreshes, no new login shell');
    await sb.stopSshd();
    await sb.killSessions();
    await sb.startSshd();
    const after = await c.status();
    assert.equal(after.counts.workerJobs, 1);
    assert.equal(t.execs, 1, 'one new agent after the drop');
    await c.down();
    await t.close();
  });

  test('an agent of another protocol version is never misread: the runtime is reinstalled and the request answered', async () => {
    const t = pool.open(sb.alias);
    const c = cluster(t, 'versions');
    await c.scale({ jobs: 0 });
    const protocolPy = join(sb.home, '.gadi-dask', 'runtime', c.runtime.version, 'gadi_dask', 'protocol.py');
    const original = readFileSync(protocolPy, 'utf8');
    writeFileSync(protocolPy, original.replace(/^PROTOCOL_VERSION = \d+$/m, 'PROTOCOL_VERSION = 0'));
    const snapshot = await c.status();
    assert.equal(snapshot.exists, true);
    assert.equal(readFileSync(protocolPy, 'utf8'), original, 'the installer put this build back');
    await t.close();
  });
});
