// Scale means workers, through the sandbox's real sshd, PBS emulator and Dask: a Cancel pressed mid-Scale stops
// between two submissions and leaves exactly the jobs it reports, all journaled; `scale 2 --wait` returns once both
// workers are connected (asked of the scheduler itself); `gadi-dask cancel` says what qdel said, with its exit code.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from '../../src/core/cluster/cluster';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import type { AgentMode } from '../../src/core/cluster/agent';
import { AbortedError } from '../../src/core/remote/errors';
import { refusingPrompt } from '../../src/core/remote/prompt';
import { SshTransportPool } from '../../src/core/remote/sshTransport';
import { cliAs, connectClient, liveWorkerJobs, runAs, smallClusterYaml } from './clusterFixture';
import { startSandbox, type Sandbox } from './sandbox';
import { replayJournal } from '../fixtures/journal';
import { until } from '../fixtures/poll';

const USER = 'gdwait';
// Inside a job the prologue becomes the job: it holds its place in the queue and costs nothing.
const SLEEPER = "    job-script-prologue: ['if [ -n \"$PBS_JOBID\" ]; then exec sleep 900; fi']\n";

let sb: Sandbox;
let pool: SshTransportPool;
let work: string;

before(async () => {
  sb = await startSandbox({ user: USER });
  pool = new SshTransportPool({ prompt: refusingPrompt, agent: null, sshConfig: { configFile: sb.sshConfigPath, systemConfigFile: null } });
  work = mkdtempSync(join(tmpdir(), 'scale-wait-'));
  chmodSync(work, 0o755); // the cluster account reads its config from here
});

after(async () => {
  await pool?.close();
  await sb?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The CLI as the cluster account, on its login node (local transport). */
const cli = (args: string[], config: string) => cliAs(sb, args, config);

const asUser = (command: string, input = '') => runAs(sb, ['/bin/bash', '-lc', command], input);

/** Worker jobs the journal holds as submitted and not cancelled, finished or forgotten. */
function journaledWorkers(name: string): string[] {
  const text = readFileSync(join(sb.home, '.gadi-dask', 'clusters', name, 'journal.jsonl'), 'utf8');
  return replayJournal(text).live.filter((j) => j.role === 'worker').map((j) => j.id).sort();
}

describe('Scale, cancelled and awaited', { concurrency: false }, () => {
  for (const mode of ['session', 'one-shot'] as AgentMode[]) {
    test(`${mode}: Cancel mid-Scale stops before the next qsub; exactly the reported jobs exist, all journaled; down leaves 0`, async () => {
      const name = `stop-${mode}`;
      // Each qsub takes a moment, as on a busy server, so the Cancel lands among the submissions.
      sb.wrapCommand('qsub', `sleep 0.6\nexec ${sb.realCommand('qsub')} "$@"\n`);
      const t = pool.open(sb.alias);
      const c = new Cluster(t, parseClusterConfig(smallClusterYaml(name, sb.alias, SLEEPER)), { mode });
      try {
        const controller = new AbortController();
        const progress: string[] = [];
        const scaling = c.scale({ jobs: 8 }, { wait: false, signal: controller.signal, onProgress: (m) => progress.push(m) });
        // Cancel once the journal holds two worker jobs: the rest must not be submitted.
        await until('two worker jobs journaled', () => journaledWorkers(name).length >= 2, { timeoutMs: 120_000, everyMs: 50 });
        controller.abort();
        const r = await scaling;
        assert.equal(r.stopped, true, progress.join('\n'));
        assert.ok(r.submitted.length > 0 && r.submitted.length < 8, `submitted ${r.submitted.length} of 8 before the stop`);
        sb.unwrapCommand('qsub');
        assert.deepEqual(await liveWorkerJobs(t, name), [...r.submitted].sort(), 'PBS has exactly the jobs the answer reports');
        assert.deepEqual(journaledWorkers(name), [...r.submitted].sort(), 'the journal tracks every one');
        assert.equal((await c.status()).counts.workerJobs, r.submitted.length);
      } finally {
        sb.unwrapCommand('qsub');
        const down = await c.down();
        assert.deepEqual(down.exiting, []);
        assert.deepEqual(await liveWorkerJobs(t, name), [], 'down leaves no worker job');
        await t.close();
      }
    });
  }

  test('the workers wait sees a worker join from the scheduler, without asking PBS again; a Cancel ends it at once', async () => {
    const name = 'wait-pbs';
    const t = pool.open(sb.alias);
    const c = new Cluster(t, parseClusterConfig(smallClusterYaml(name, sb.alias)), { mode: 'session' });
    const calls = join(sb.home, 'qstat-calls');
    try {
      const r = await c.scale({ jobs: 1 }, { wait: false });
      assert.equal(r.submitted.length, 1);
      // Every qstat the agent runs from here on leaves a line; a snapshot is due only after 60 s. (The scheduler's
      // controller, in the scheduler's job, asks PBS about the new job it holds: not the wait's doing.)
      sb.wrapCommand('qstat', `[ -n "$PBS_JOBID" ] || echo "$*" >> ${calls}\nexec ${sb.realCommand('qstat')} "$@"\n`);
      const w = await c.waitForWorkers(1, { pollMs: 60_000, maxPollMs: 60_000, timeoutMs: 120_000 });
      assert.equal(w.done, true, JSON.stringify(w));
      assert.equal(w.connected, 1);
      assert.ok(w.waitedMs < 60_000, `seen before the next snapshot was due (${w.waitedMs} ms)`);
      assert.equal(readFileSync(calls, 'utf8').trim().split('\n').length, 1, 'PBS was asked once, by the first snapshot');

      // Two more jobs that never start a worker: the wait goes on until the Cancel, which ends it well before its
      // scheduler-only wait (up to 60 s) would have.
      sb.wrapCommand('qsub', `exec ${sb.realCommand('qsub')} -h "$@"\n`);
      await c.scale({ jobs: 3 }, { wait: false });
      const controller = new AbortController();
      const waiting = c.waitForWorkers(3, { pollMs: 60_000, maxPollMs: 60_000, signal: controller.signal });
      setTimeout(() => controller.abort(), 1500);
      const cancelled = Date.now();
      await assert.rejects(waiting, AbortedError);
      assert.ok(Date.now() - cancelled < 20_000, 'the agent stopped the wait when asked');
      assert.equal((await c.status()).counts.workers, 1, 'the session serves on after the stopped wait');
    } finally {
      sb.unwrapCommand('qstat');
      sb.unwrapCommand('qsub');
      rmSync(calls, { force: true });
      const down = await c.down();
      assert.deepEqual(down.exiting, []);
      await t.close();
    }
  });

  test('CLI scale 2 --wait returns once both workers are connected, as the scheduler itself says; plain progress lines', async () => {
    const name = 'wait-cli';
    const config = join(work, `${name}.dask-cluster.yaml`);
    writeFileSync(config, smallClusterYaml(name, 'unused-with-local'));
    chmodSync(config, 0o644);
    try {
      const r = await cli(['scale', '2', '--wait', '--timeout', '300'], config);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Workers: 2\/2 workers connected$/m);
      assert.match(r.stderr, /^… 2\/2 workers connected$/m, 'a plain line per change without a terminal');
      assert.doesNotMatch(r.stderr, /\r/, 'no terminal rewriting into a pipe');
      const py = `import json\n${connectClient(name)}` +
        'print(json.dumps(sorted(w["name"] for w in c.scheduler_info()["workers"].values())))\nc.close()\n';
      const asked = await asUser('/usr/bin/python3 -', py);
      assert.equal(asked.code, 0, asked.stderr);
      assert.equal((JSON.parse(asked.stdout.trim().split('\n').at(-1)!) as string[]).length, 2, 'the scheduler has both workers');
    } finally {
      const down = await cli(['down'], config);
      assert.equal(down.code, 0, down.stderr);
    }
  });

  test('CLI cancel: a job of no cluster is deleted (exit 0); an unknown id says so with qdel\'s 153 (exit 1); no --yes without a terminal is refused', async () => {
    const name = 'cancel-cli';
    const config = join(work, `${name}.dask-cluster.yaml`);
    writeFileSync(config, smallClusterYaml(name, 'unused-with-local'));
    chmodSync(config, 0o644);
    const sub = await asUser('cd ~ && qsub -N by-hand -l walltime=00:10:00', '#!/bin/bash\nsleep 600\n');
    assert.equal(sub.code, 0, sub.stderr);
    const id = sub.stdout.trim().split('\n').at(-1)!;
    const server = id.slice(id.indexOf('.'));

    const refused = await cli(['cancel', id], config);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /without a terminal, pass --yes/);
    assert.match((await asUser(`qstat -f -F json ${id}`)).stdout, /"job_state"\s*:\s*"[QR]"/, 'nothing cancelled without a yes');

    const done = await cli(['cancel', id, '--yes'], config);
    assert.equal(done.code, 0, done.stderr);
    assert.equal(done.stdout, `${id}: cancelled\n`);

    const unknown = `999999${server}`;
    const missing = await cli(['cancel', unknown, '--yes'], config);
    assert.equal(missing.code, 1, missing.stderr);
    assert.equal(missing.stdout, `${unknown}: PBS knows no such job: qdel: Unknown Job Id ${unknown} (qdel exit 153)\n`);
  });
});
