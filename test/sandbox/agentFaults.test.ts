// The faults that lost jobs before the agent, reproduced for real through the sandbox's sshd and PBS emulator:
// the link dropping mid-scale, qstat printing garbage with exit 0, qsub printing text around the id, config values
// visible in argv, and an agent of another protocol version. Jobs here run `sleep` (the prologue execs it inside a
// job), so many of them cost nothing; the agent itself runs under the real python with Dask.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderScale } from '../../src/cli/render';
import { Cluster } from '../../src/core/cluster/cluster';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import { PbsUnavailableError } from '../../src/core/cluster/errors';
import { refusingPrompt } from '../../src/core/remote/prompt';
import { SshTransportPool } from '../../src/core/remote/sshTransport';
import type { Transport } from '../../src/core/remote/transport';
import { cliAs, CountingTransport, liveWorkerJobs, processesOf, runAs, smallClusterYaml } from './clusterFixture';
import { startSandbox, type Sandbox } from './sandbox';
import { seededRandom } from '../fixtures/random';
import { replayJournal } from '../fixtures/journal';
import { until } from '../fixtures/poll';

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

/** PBS's own view: the user's live jobs named for the cluster's scheduler. */
async function liveSchedulerJobs(t: Transport, name: string): Promise<string[]> {
  const r = await t.exec('for id in $(qselect -u "$USER"); do qstat -f -F json "$id"; done', { timeoutMs: 60_000 });
  const ours = new RegExp(`^dask-scheduler-${name}-[0-9a-f]{8}$`);
  const out: string[] = [];
  for (const doc of r.stdout.split(/\n(?=\{)/).filter((d) => d.trim())) {
    for (const [id, job] of Object.entries((JSON.parse(doc) as { Jobs?: Record<string, { Job_Name: string; job_state: string }> }).Jobs ?? {})) {
      if (job.job_state !== 'F' && ours.test(job.Job_Name)) out.push(id);
    }
  }
  return out.sort();
}

/** Intents in the journal with no outcome yet: a qsub under way. */
function openIntents(name: string): number {
  const text = journal(name);
  const settled = new Set<string>();
  const intents = new Set<string>();
  for (const line of text.split('\n').filter((l) => l.trim())) {
    const rec = JSON.parse(line) as { op: string; name?: string };
    if (rec.op === 'intent' && rec.name) intents.add(rec.name);
    else if (rec.name) settled.add(rec.name);
  }
  return [...intents].filter((n) => !settled.has(n)).length;
}

function intentsRecorded(name: string): number {
  try {
    return journal(name).split('\n').filter((l) => l.includes('"op":"intent"')).length;
  } catch {
    return 0;
  }
}

const sh = (command: string) => execFileSync('/bin/sh', ['-c', command], { encoding: 'utf8' });


describe('the agent under faults', { concurrency: false }, () => {
  test('the link drops while scale 10 submits, at seeded moments: the next scale 10 leaves exactly 10 jobs, down 0', async () => {
    const seed = Number(process.env.GADI_DASK_FAULT_SEED ?? Date.now() % 100000);
    const rounds = Number(process.env.GADI_DASK_FAULT_ROUNDS ?? 10);
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

  for (const [at, what] of [[1, 'the scheduler\'s qsub'], [3, 'a worker\'s qsub']] as const) {
    test(`the agent killed -9 inside a slow ${what}: the next scale adopts the job that lands; exactly the asked jobs exist, recorded`, async () => {
      const name = `killed${at}`;
      sb.wrapCommand('qsub', `sleep 4\nexec ${sb.realCommand('qsub')} "$@"\n`);
      const t = pool.open(sb.alias);
      try {
        const first = cluster(t, name).scale({ jobs: 3 }, { wait: false }).then(() => 'finished', (e: Error) => e.message);
        await until(`qsub number ${at} under way`, () => intentsRecorded(name) >= at && openIntents(name) > 0, { timeoutMs: 120_000, everyMs: 50 });
        const agents = processesOf(sb.uid).filter((p) => /run\.py agent\b/.test(p.cmdline));
        assert.equal(agents.length, 1, agents.map((p) => p.cmdline).join('\n'));
        process.kill(agents[0].pid, 'SIGKILL');
        await first;
        sb.unwrapCommand('qsub');
        // The orphaned qsub is still sleeping: the next agent must neither refuse its intent nor submit twice.
        const again = await cluster(t, name).scale({ jobs: 3 }, { wait: false });
        assert.equal(openIntents(name), 0, 'every intent settled');
        const workers = await liveWorkerJobs(t, name);
        assert.equal(workers.length, 3, `worker jobs in PBS: ${workers.join(' ')} (second scale submitted ${again.submitted.join(' ')})`);
        assert.equal((await liveSchedulerJobs(t, name)).length, 1, 'one scheduler job');
        const live = replayJournal(journal(name)).live.filter((j) => j.role === 'worker').map((j) => j.id).sort();
        assert.deepEqual(live, workers, 'the journal records every one');
        assert.equal((await cluster(t, name).status()).counts.workerJobs, 3);
      } finally {
        sb.unwrapCommand('qsub');
        await cluster(t, name).down();
        assert.deepEqual(await liveWorkerJobs(t, name), []);
        await t.close();
      }
    });
  }

  test('a full, then read-only home: scale stops naming what it submitted, no torn record, no lock left; status and down still work', async () => {
    const name = 'fullhome';
    const cdir = join(sb.home, '.gadi-dask', 'clusters', name);
    for (const dir of ['.gadi-dask', '.gadi-dask/clusters', `.gadi-dask/clusters/${name}`]) {
      mkdirSync(join(sb.home, dir), { recursive: true });
      chownSync(join(sb.home, dir), sb.uid, sb.gid);
    }
    sh(`mount -t tmpfs -o size=1m,mode=0700,uid=${sb.uid},gid=${sb.gid} gadi-dask-full ${cdir}`);
    const t = pool.open(sb.alias);
    const c = cluster(t, name);
    try {
      await c.scale({ jobs: 1 }, { wait: false });
      // No size held: the next scale's removal of adapt.json would give the journal back a page of the full disk.
      await c.adapt('off');
      const earlier = await liveWorkerJobs(t, name);
      // Fill the disk, then give back a page: room for a few records, not for forty jobs'.
      const filler = join(cdir, 'filler');
      sh(`dd if=/dev/zero of=${filler} bs=4k 2>/dev/null; dd if=/dev/zero of=${filler}-2 bs=4k 2>/dev/null; truncate -s -4k ${filler}; sync`);
      const started = Date.now();
      const failure = await c.scale({ jobs: 40 }, { wait: false }).then(() => undefined, (e: Error) => e);
      assert.ok(failure, 'scale 40 on a full home must not pretend it succeeded');
      assert.match(failure.message, /No space left on device/);
      assert.match(failure.message, /Submitted before it stopped: worker jobs \d+\./, failure.message);
      const workers = await liveWorkerJobs(t, name);
      assert.ok(workers.length > 1 && workers.length < 40, `some workers submitted: ${workers.length}`);
      const named = new Set(failure.message.split(/[\s,]+/).map((w) => w.replace(/\.$/, '')));
      for (const id of workers.filter((w) => !earlier.includes(w) && !named.has(w))) assert.fail(`${id} is in PBS but the message does not name it: ${failure.message}`);
      for (const line of journal(name).split('\n').slice(0, -1)) JSON.parse(line); // every record whole
      assert.ok(journal(name).endsWith('\n'), 'no torn tail');
      assert.ok(!readdirSync(cdir).includes('.lock'), 'the lock was released');

      const full = await c.status();
      assert.equal(full.counts.workerJobs, workers.length, 'status while full counts every job PBS has');

      sh(`mount -o remount,ro ${cdir}`);
      const roStarted = Date.now();
      await assert.rejects(c.scale({ jobs: 41 }, { wait: false }), (e: Error) => /Read-only file system/.test(e.message) && /nothing was changed/.test(e.message));
      assert.ok(Date.now() - roStarted < 30_000, 'no wait for a lock nobody can hold');
      assert.equal((await c.status()).counts.workerJobs, workers.length, 'status on a read-only home');
      const down = await c.down();
      assert.deepEqual(down.exiting, []);
      assert.deepEqual(await liveWorkerJobs(t, name), [], 'down cancelled every worker job');
      assert.deepEqual(await liveSchedulerJobs(t, name), [], 'and the scheduler job');
      process.stderr.write(`full home: ${workers.length} jobs submitted before the disk filled, ${Date.now() - started} ms in all\n`);
    } finally {
      sh(`umount -l ${cdir} || true`);
      await c.down().catch(() => undefined);
      await t.close();
    }
  });

  for (const how of ['kill -9 of the scheduler', 'qdel of the scheduler\'s job (still R while PBS finishes it)']) {
    test(`a dead scheduler, by ${how}: scale 2 --wait reaches 2 workers on a new scheduler; the doomed jobs are cancelled`, async () => {
      const name = how.startsWith('kill') ? 'deadkill' : 'deadqdel';
      const config = join(sb.home, `${name}.dask-cluster.yaml`);
      writeFileSync(config, smallClusterYaml(name, 'unused-with-local'));
      chownSync(config, sb.uid, sb.gid);
      const meta = () => JSON.parse(readFileSync(join(sb.home, '.gadi-dask', 'clusters', name, 'runtime.json'), 'utf8')) as { pbsJobId: string; pid: number };
      const t = pool.open(sb.alias);
      try {
        const first = await cliAs(sb, ['scale', '2', '--wait', '--timeout', '300'], config);
        assert.equal(first.code, 0, first.stderr);
        const old = meta();
        const oldWorkers = await liveWorkerJobs(t, name);
        if (how.startsWith('kill')) process.kill(old.pid, 'SIGKILL');
        else assert.equal((await runAs(sb, ['/bin/bash', '-lc', `qdel ${old.pbsJobId}`])).code, 0);
        const again = await cliAs(sb, ['scale', '2', '--wait', '--timeout', '300'], config);
        assert.equal(again.code, 0, again.stdout + again.stderr);
        assert.doesNotMatch(again.stdout, /Already at 2/);
        assert.match(again.stdout, /^Workers: 2\/2 workers connected$/m, again.stdout);
        assert.notEqual(meta().pbsJobId, old.pbsJobId, 'a new scheduler job runs the cluster');
        // The old workers die with their scheduler: they were cancelled, and only the new ones remain.
        await until('the doomed worker jobs left PBS', async () => (await liveWorkerJobs(t, name)).every((id) => !oldWorkers.includes(id)), { timeoutMs: 60_000 });
        const workers = await liveWorkerJobs(t, name);
        assert.equal(workers.length, 2, workers.join(' '));
        const live = replayJournal(journal(name)).live.filter((j) => j.role === 'worker').map((j) => j.id).sort();
        assert.deepEqual(live, workers, 'the journal holds exactly the live workers');
      } finally {
        const down = await cliAs(sb, ['down'], config);
        assert.equal(down.code, 0, down.stderr);
        await t.close();
      }
    });
  }

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
