// The CLI over the real sshd when the link drops under it: whatever the transport does next (reconnecting to a
// server that came straight back, or failing to reach one that stays down), the command says what happened and the
// process exits within a bound. A script around gadi-dask must never hang on a connection nobody uses any more.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from '../../src/core/cluster/cluster';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import { refusingPrompt } from '../../src/core/remote/prompt';
import { SshTransportPool } from '../../src/core/remote/sshTransport';
import { cliArgv, liveWorkerJobs, smallClusterYaml } from './clusterFixture';
import { startSandbox, type Sandbox } from './sandbox';
import { until } from '../fixtures/poll';
import { seededRandom } from '../fixtures/random';

const USER = 'gdlinkdrop';
const NAME = 'linkdrop';
// Inside a job the prologue becomes the job: it holds its place in the queue and costs nothing.
const SLEEPER = "    job-script-prologue: ['if [ -n \"$PBS_JOBID\" ]; then exec sleep 900; fi']\n";
/** How long the process may live on after the drop once its command has nothing left to do. */
const EXIT_BOUND_MS = 20_000;
/** A PBS command under the drop takes this long, so the drop lands before its answer. */
const SLOW_SECONDS = 4;

let sb: Sandbox;
let work: string;
let config: string;

before(async () => {
  sb = await startSandbox({ user: USER });
  work = mkdtempSync(join(tmpdir(), 'cli-link-drop-'));
  chmodSync(work, 0o755);
  config = join(work, `${NAME}.dask-cluster.yaml`);
  writeFileSync(config, smallClusterYaml(NAME, sb.alias, SLEEPER));
  // A cluster with jobs, so that status has PBS to ask.
  await withCluster((c) => c.scale({ jobs: 1 }, { wait: false }));
});

async function withCluster<T>(action: (c: Cluster) => Promise<T>): Promise<T> {
  const pool = new SshTransportPool({ prompt: refusingPrompt, agent: null, sshConfig: { configFile: sb.sshConfigPath, systemConfigFile: null } });
  try {
    return await action(new Cluster(pool.open(sb.alias), parseClusterConfig(smallClusterYaml(NAME, sb.alias, SLEEPER))));
  } finally {
    await pool.close();
  }
}

after(async () => {
  if (sb) {
    sb.unwrapCommand('qsub');
    sb.unwrapCommand('qstat');
    await sb.startSshd();
    try {
      await withCluster(async (c) => {
        await c.down();
        assert.deepEqual(await liveWorkerJobs(c.transport, NAME), [], 'down leaves no worker job');
      });
    } finally {
      await sb.stop();
    }
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

interface Running {
  child: ChildProcess;
  stderr: () => string;
  stdout: () => string;
  exited: Promise<{ code: number | null; at: number }>;
}

/** `gadi-dask <args>` over ssh to the sandbox (never the local transport): the link under it is the one dropped. */
function start(args: string[]): Running {
  const child = spawn(cliArgv([])[0], [...cliArgv(args).slice(1), '--config', config, '--ssh-config', sb.sshConfigPath], {
    env: { ...process.env, SSH_AUTH_SOCK: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.on('close', (code) => resolve({ code, at: Date.now() })));
  return { child, stderr: () => err, stdout: () => out, exited };
}

/** Resolves with the exit, or null once `ms` have passed (the process is then killed, so the suite goes on). */
async function exitWithin(run: Running, ms: number): Promise<{ code: number | null; at: number } | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
  const r = await Promise.race([run.exited, late]);
  clearTimeout(timer);
  if (r === null) {
    run.child.kill('SIGKILL');
    await run.exited;
  }
  return r;
}

type Drop = 'blip' | 'outage';

/** blip: every connection breaks and the server is back at once; outage: it stays away until restore(). */
async function drop(kind: Drop): Promise<number> {
  await sb.stopSshd();
  await sb.killSessions();
  if (kind === 'blip') await sb.startSshd();
  return Date.now();
}

/** A PBS command that marks its start, then is slow: the drop is made while the agent waits for it. */
function slow(command: 'qsub' | 'qstat'): string {
  const marker = join(sb.home, `${command}.started`);
  rmSync(marker, { force: true });
  sb.wrapCommand(command, `touch "$HOME/${command}.started"\nsleep ${SLOW_SECONDS}\nexec ${sb.realCommand(command)} "$@"\n`);
  return marker;
}

describe('the CLI exits after a dropped link', { concurrency: false }, () => {
  const seed = Number(process.env.GADI_DASK_FAULT_SEED ?? Date.now() % 100000);
  const next = seededRandom(seed);
  const moments: string[] = [];
  before(() => process.stderr.write(`cli link-drop seed ${seed}\n`));
  after(() => process.stderr.write(`cli link-drop moments (ms after the PBS command started): ${moments.join(' ')}\n`));

  let target = 1;
  const cases: Array<{ what: string; args: () => string[]; command: 'qsub' | 'qstat'; kind: Drop }> = [];
  for (const kind of ['blip', 'outage'] as Drop[]) {
    for (let i = 0; i < 2; i++) {
      // A new target every time, so each scale has a qsub to be in when the link drops.
      cases.push({ what: 'scale N --no-wait', args: () => ['scale', String(++target), '--no-wait'], command: 'qsub', kind });
      cases.push({ what: 'status', args: () => ['status'], command: 'qstat', kind });
    }
  }

  for (const c of cases) {
    test(`${c.what}, a ${c.kind} before the answer: a clear message, exit 4, gone within ${EXIT_BOUND_MS / 1000} s`, async () => {
      const marker = slow(c.command);
      const run = start(c.args());
      try {
        await until(`${c.command} to start under ${c.what}`, () => existsSync(marker), { timeoutMs: 120_000, everyMs: 20 });
        const at = Math.round(next() * (SLOW_SECONDS - 1) * 1000);
        moments.push(String(at));
        await new Promise((r) => setTimeout(r, at));
        const dropped = await drop(c.kind);
        const exit = await exitWithin(run, EXIT_BOUND_MS);
        assert.ok(exit, `${c.what} still runs ${EXIT_BOUND_MS / 1000} s after the drop (${at} ms into ${c.command}): ${run.stderr()}`);
        assert.equal(exit.code, 4, run.stderr());
        assert.match(run.stderr(), /The connection to \S+ dropped while the gadi-dask agent was working on/);
        assert.match(run.stderr(), /run status to see where the cluster stands/);
        process.stderr.write(`${c.what} (${c.kind}): exited ${exit.at - dropped} ms after the drop\n`);
      } finally {
        sb.unwrapCommand(c.command);
        await sb.startSshd();
      }
    });
  }

  for (const kind of ['blip', 'outage'] as Drop[]) {
    test(`scale N --wait, a ${kind} during the wait for workers: the wait ends on its own terms and the process exits`, async () => {
      const timeoutSeconds = 15;
      const run = start(['scale', String(++target), '--wait', '--timeout', String(timeoutSeconds)]);
      try {
        // The workers never connect (their jobs sleep): the wait goes on until the drop, or its timeout.
        await until('the wait for workers', () => /workers? connected/.test(run.stderr()), { timeoutMs: 120_000, everyMs: 20 });
        await new Promise((r) => setTimeout(r, Math.round(next() * 2000)));
        await drop(kind);
        const exit = await exitWithin(run, timeoutSeconds * 1000 + EXIT_BOUND_MS);
        assert.ok(exit, `scale --wait still runs after its timeout and the bound: ${run.stderr()}`);
        if (kind === 'blip') {
          // The wait has not reported yet: asking again over the new connection is its own work, then it times out.
          assert.equal(exit.code, 5, run.stderr());
          assert.match(run.stdout(), /0\/\d+ workers? connected/);
        } else {
          assert.equal(exit.code, 4, run.stderr());
          assert.match(run.stderr(), /connect|connection/i);
        }
      } finally {
        await sb.startSshd();
      }
    });
  }
});

test('a link closed while it reconnects stays closed: no new connection, no state but closed', async () => {
  const pool = new SshTransportPool({ prompt: refusingPrompt, agent: null, sshConfig: { configFile: sb.sshConfigPath, systemConfigFile: null } });
  const t = pool.open(sb.alias);
  const states: string[] = [];
  // Closed while the first attempt is under way, as a command that has just reported closes its transport.
  t.onStateChange((s) => {
    states.push(s.state);
    if (s.state === 'reconnecting') queueMicrotask(() => void pool.close());
  });
  try {
    assert.equal((await t.exec('true')).code, 0);
    await sb.stopSshd();
    await sb.killSessions();
    await until('a reconnect attempt', () => states.includes('reconnecting'), { everyMs: 5 });
    // The server is back before the next attempt would have been due.
    await sb.startSshd();
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal((t as unknown as { link: { state: string } }).link.state, 'closed', `states: ${states.join(', ')}`);
    assert.equal(await sb.killSessions(), 0, 'nothing connected to the server after the close');
  } finally {
    await pool.close();
    await sb.startSshd();
  }
});
