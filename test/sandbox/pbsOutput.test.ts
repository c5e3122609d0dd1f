// What PBS prints, taken as it comes, through the sandbox's sshd and PBS emulator: bytes that are not UTF-8 in an
// unrelated job's attributes and in qsub's stderr, a qsub answer that names other jobs or a decimal, qdel of a job
// PBS is already ending (state E, exit 168), a qstat that prints hundreds of MB, and a PBS server that does not
// answer. Jobs run `sleep` (the prologue execs it inside a job).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster } from '../../src/core/cluster/cluster';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import { PbsUnavailableError } from '../../src/core/cluster/errors';
import { listOtherJobs } from '../../src/core/cluster/otherJobs';
import { refusingPrompt } from '../../src/core/remote/prompt';
import { SshTransportPool } from '../../src/core/remote/sshTransport';
import type { Transport } from '../../src/core/remote/transport';
import { liveWorkerJobs, processesOf, smallClusterYaml } from './clusterFixture';
import { startSandbox, type Sandbox } from './sandbox';

const USER = 'gdpbsio';
const PROLOGUE = `    job-script-prologue: ['if [ -n "$PBS_JOBID" ]; then exec sleep 900; fi']\n`;

let sb: Sandbox;
let pool: SshTransportPool;

before(async () => {
  sb = await startSandbox({ user: USER, qdelLingerSeconds: 2 });
  pool = new SshTransportPool({ prompt: refusingPrompt, agent: null, sshConfig: { configFile: sb.sshConfigPath, systemConfigFile: null } });
});

after(async () => {
  await pool?.close();
  await sb?.stop();
});

function cluster(t: Transport, name: string): Cluster {
  return new Cluster(t, parseClusterConfig(smallClusterYaml(name, sb.alias, PROLOGUE)), { lockWaitSeconds: 120 });
}

function journal(name: string): Array<{ op: string; id?: string }> {
  const text = readFileSync(join(sb.home, '.gadi-dask', 'clusters', name, 'journal.jsonl'), 'utf8');
  return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { op: string; id?: string });
}

/** A held job of the user that no cluster submitted; `variables` go to `qsub -v` as the shell prints them. */
async function unrelatedJob(t: Transport, variables = 'GREETING=hello'): Promise<string> {
  const r = await t.exec(`qsub -h -N analysis -v "${variables}" -- /bin/sleep 900`, { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

async function stateOf(t: Transport, id: string): Promise<string> {
  const r = await t.exec(`qstat -x -f -F json ${id}`, { timeoutMs: 30_000 });
  return /"job_state":\s*"(\w)"/.exec(r.stdout)?.[1] ?? `no state (${r.stderr.trim()})`;
}

describe('PBS output as it comes', { concurrency: false }, () => {
  test('an unrelated job with a Latin-1 byte in Variable_List is listed inert and blocks nothing; nor does one in qsub\'s stderr', async () => {
    const t = pool.open(sb.alias);
    const c = cluster(t, 'latin');
    // \351 is é in Latin-1: the emulator keeps and prints the raw byte, as PBS does.
    const other = await unrelatedJob(t, "GREETING=$(printf 'caf\\351')");
    try {
      const raw = await t.exec(`qstat -f ${other} | od -c | grep -c 351`, { timeoutMs: 30_000 });
      assert.notEqual(raw.stdout.trim(), '0', 'qstat prints the byte as it was given');
      const up = await c.scale({ jobs: 2 }, { wait: false });
      assert.equal(up.submitted.length, 2);
      assert.equal((await c.status()).counts.workerJobs, 2);
      const listed = await listOtherJobs(t, { exclude: up.submitted });
      const shown = listed.find((j) => j.id === other);
      assert.ok(shown, 'the unrelated job is listed');
      assert.equal(shown.state, 'H');
      // The same byte in qsub's stderr: the submission still counts.
      sb.wrapCommand('qsub', `printf 'qsub: note for caf\\351\\n' >&2\nexec ${sb.realCommand('qsub')} "$@"\n`);
      try {
        const more = await c.scale({ jobs: 3 }, { wait: false });
        assert.equal(more.submitted.length, 1);
        assert.deepEqual(more.errors, []);
      } finally {
        sb.unwrapCommand('qsub');
      }
      assert.equal((await c.scale({ jobs: 0 })).exiting.length, 0);
      const down = await c.down();
      assert.deepEqual(down.cancelled.filter((x) => x.outcome === 'error'), []);
      assert.deepEqual(await liveWorkerJobs(t, 'latin'), []);
      assert.equal(await stateOf(t, other), 'H', 'the unrelated job is untouched');
    } finally {
      await t.exec(`qdel ${other}`, { timeoutMs: 30_000 });
      await t.close();
    }
  });

  test('qsub naming a second job, or a decimal: the right ids are recorded and scale 0 / down leave the other job alone', async () => {
    const t = pool.open(sb.alias);
    const other = await unrelatedJob(t);
    const real = sb.realCommand('qsub');
    const chatter = {
      'second-id': `out=$(${real} "$@")\nrc=$?\necho "$out"\necho "Note: your job ${other} is held"\nexit $rc\n`,
      'ksu': `echo "Project ab12 has 12345.67 KSU left"\nexec ${real} "$@"\n`,
    };
    try {
      for (const [name, wrapper] of Object.entries(chatter)) {
        const c = cluster(t, name);
        sb.wrapCommand('qsub', wrapper);
        let submitted: string[];
        try {
          submitted = (await c.scale({ jobs: 2 }, { wait: false })).submitted;
        } finally {
          sb.unwrapCommand('qsub');
        }
        assert.deepEqual([...submitted].sort(), await liveWorkerJobs(t, name), `${name}: the ids PBS gave the workers`);
        assert.ok(!submitted.includes(other) && !submitted.includes('12345.67'), `${name}: ${submitted.join(' ')}`);
        const recorded = journal(name).filter((r) => r.op === 'submitted').map((r) => r.id);
        assert.ok(!recorded.includes(other) && !recorded.includes('12345.67'), `${name}: the journal has ${recorded.join(' ')}`);
        const zero = await c.scale({ jobs: 0 });
        assert.deepEqual(zero.cancelled.filter((x) => x.outcome === 'error'), []);
        assert.deepEqual(zero.cancelled.map((x) => x.id).sort(), [...submitted].sort());
        const down = await c.down();
        assert.ok(!down.cancelled.some((x) => x.id === other), `${name}: down cancelled ${down.cancelled.map((x) => x.id).join(' ')}`);
        assert.equal(await stateOf(t, other), 'H', `${name}: the unrelated job is untouched`);
      }
    } finally {
      await t.exec(`qdel ${other}`, { timeoutMs: 30_000 });
      await t.close();
    }
  });

  test('a journal holding a job that is not the cluster\'s: it is never counted nor cancelled', async () => {
    const t = pool.open(sb.alias);
    const c = cluster(t, 'foreign');
    const other = await unrelatedJob(t);
    try {
      await c.scale({ jobs: 1 }, { wait: false });
      // What an older agent recorded from a qsub that named another job.
      const file = join(sb.home, '.gadi-dask', 'clusters', 'foreign', 'journal.jsonl');
      appendFileSync(file, `${JSON.stringify({ at: 1, id: other, name: null, op: 'submitted', role: 'worker' })}\n`);
      assert.equal((await c.scale({ jobs: 1 }, { wait: false })).before.length, 1);
      const refused = await c.cancelJobs([other]);
      assert.equal(refused.cancelled[0].outcome, 'error');
      const down = await c.down();
      assert.deepEqual(down.cancelled.filter((x) => x.outcome === 'error'), []);
      assert.ok(!down.cancelled.some((x) => x.id === other));
      assert.equal(await stateOf(t, other), 'H');
      assert.ok(journal('foreign').some((r) => r.op === 'forgotten' && r.id === other), 'the journal forgets it');
    } finally {
      await t.exec(`qdel ${other}`, { timeoutMs: 30_000 });
      await t.close();
    }
  });

  test('qdel of a job PBS is already ending (168, state E) and a worker in the same call: down succeeds, both recorded cancelled', async () => {
    const t = pool.open(sb.alias);
    const c = cluster(t, 'exiting');
    await c.scale({ jobs: 2 }, { wait: false });
    const ids = (await c.status()).jobs.map((j) => j.id);
    assert.ok(ids.length >= 2, `jobs: ${ids.join(' ')}`);
    // Real PBS: the first job reached E between reconcile and qdel; qdel deletes the others and answers 168.
    const real = sb.realCommand('qdel');
    sb.wrapCommand('qdel', `first=$1\n${real} "$@"\necho "qdel: Request invalid for state of job $first" >&2\nexit 168\n`);
    let down;
    try {
      down = await c.down();
    } finally {
      sb.unwrapCommand('qdel');
    }
    assert.deepEqual(down.cancelled.filter((x) => x.outcome === 'error'), [], JSON.stringify(down.cancelled));
    assert.deepEqual(down.cancelled.map((x) => x.id).sort(), [...ids].sort());
    const cancelled = new Set(journal('exiting').filter((r) => r.op === 'cancelled').map((r) => r.id));
    for (const id of ids) assert.ok(cancelled.has(id), `${id} recorded cancelled`);
    assert.deepEqual(await liveWorkerJobs(t, 'exiting'), []);
    await t.close();
  });

  test('a qstat printing 200 MB: the agent stops it, says so, and its memory stays bounded', async () => {
    const t = pool.open(sb.alias);
    const c = cluster(t, 'flood');
    await c.scale({ jobs: 1 }, { wait: false });
    sb.wrapCommand('qstat', 'yes "qstat: ever more output" | head -c 200000000\n');
    let peakKb = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        for (const p of processesOf(sb.uid)) {
          if (!/run\.py agent/.test(p.cmdline)) continue;
          try {
            peakKb = Math.max(peakKb, Number(/^VmHWM:\s+(\d+)/m.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'))?.[1] ?? 0));
          } catch {
            // it ended meanwhile
          }
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      await assert.rejects(c.status(), (e: unknown) => e instanceof PbsUnavailableError && /qstat printed more than 32 MB/.test(e.message));
    } finally {
      sampling = false;
      await sampler;
      sb.unwrapCommand('qstat');
    }
    assert.ok(peakKb > 0, 'the agent was seen');
    assert.ok(peakKb < 160 * 1024, `the agent's peak RSS was ${Math.round(peakKb / 1024)} MB`);
    await c.down();
    await t.close();
  });

  test('PBS\'s server not answering: the message says so, not that qstat is missing', async () => {
    const t = pool.open(sb.alias);
    const c = cluster(t, 'unreachable');
    await c.scale({ jobs: 1 }, { wait: false });
    const refuse = 'echo "Connection refused" >&2\necho "$(basename "$0"): cannot connect to server gadi-pbs (errno=15010)" >&2\nexit 1\n';
    sb.wrapCommand('qstat', refuse);
    sb.wrapCommand('qselect', refuse);
    try {
      for (const action of [() => c.status(), () => c.scale({ jobs: 2 }, { wait: false }), () => c.down()]) {
        await assert.rejects(action(), (e: unknown) => e instanceof PbsUnavailableError && /PBS's server did not answer/.test(e.message) &&
          !/on PATH/.test(e.message));
      }
    } finally {
      sb.unwrapCommand('qstat');
      sb.unwrapCommand('qselect');
    }
    assert.equal((await c.status()).counts.workerJobs, 1);
    await c.down();
    await t.close();
  });
});
