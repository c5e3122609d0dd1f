// The Python runtime, run for real with Debian's Dask (/usr/bin/python3): launcher, workers, status probe,
// shutdown, adaptivity (with stand-in qsub/qdel), installer. Every test has its own HOME, so ~/.gadi-dask is
// private to it. The Python unit tests are run from here too, one node test per Python test.
import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runtimeFiles, runtimeHash, tarball, type RuntimeFile } from '../../src/core/cluster/bundle';
import { until as poll } from '../fixtures/poll';

const PY = '/usr/bin/python3';
const RT = resolve(__dirname, '..', '..', 'runtime');
const RUN = join(RT, 'run.py');
const BEGIN = '@@GADI_DASK_BEGIN@@';
const END = '@@GADI_DASK_END@@';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;

const homes: string[] = [];
const children: ChildProcess[] = [];
const pids: number[] = [];
const fakeBins: string[] = [];

function tempHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'gadi-dask-rt-'));
  homes.push(home);
  return home;
}

function env(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  // No bytecode files in the source tree; no user dask config (HOME is private anyway).
  return { ...process.env, HOME: home, PYTHONDONTWRITEBYTECODE: '1', ...extra };
}

/** The one JSON document between the markers; fails when there is none or more than one. */
function parseDoc(out: string): Doc {
  const parts = out.split(`${BEGIN}\n`);
  assert.equal(parts.length, 2, `expected exactly one document in:\n${out}`);
  const end = parts[1].indexOf(`\n${END}`);
  assert.ok(end >= 0, `no end marker in:\n${out}`);
  return JSON.parse(parts[1].slice(0, end));
}

interface Ran { code: number | null; stdout: string; stderr: string; ms: number; doc: Doc }

function run(cmd: string, args: string[], home: string, opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}):
  Promise<Ran> {
  return new Promise((done, fail) => {
    const started = Date.now();
    const p = spawn(cmd, args, { env: env(home, opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    p.on('error', fail);
    p.on('close', (code) => {
      clearTimeout(timer);
      let doc: Doc = null;
      try {
        doc = parseDoc(stdout);
      } catch {
        doc = null;
      }
      done({ code, stdout, stderr, ms: Date.now() - started, doc });
    });
  });
}

const py = (args: string[], home: string, opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) =>
  run(PY, [RUN, ...args], home, opts);

/** A long-running process in its own process group, killed (by its id) when the file ends. */
function start(cmd: string, args: string[], home: string, extra: NodeJS.ProcessEnv = {}): ChildProcess & { out: () => string } {
  const p = spawn(cmd, args, { env: env(home, extra), stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (out += d));
  children.push(p);
  return Object.assign(p, { out: () => out });
}

// Every scheduler, worker and HTTP server of these tests listens on loopback only: dask's default is every address,
// and a worker or scheduler serves HTTP (/health, metrics) even with no dashboard.
const LOOPBACK = ['--host', '127.0.0.1', '--dashboard-address', '127.0.0.1:0'];

function startWorker(home: string, cluster: string, name: string): ChildProcess & { out: () => string } {
  const file = join(home, '.gadi-dask', 'clusters', cluster, 'scheduler.json');
  return start(PY, ['-m', 'distributed.cli.dask_worker', '--scheduler-file', file, '--name', name,
    '--nthreads', '2', '--no-dashboard', ...LOOPBACK], home);
}

const waitFor = <T>(what: string, fn: () => T | null | false | Promise<T | null | false>, timeoutMs = 20_000, everyMs = 100) =>
  poll(what, fn, { timeoutMs, everyMs });

const exited = (p: ChildProcess) =>
  p.exitCode !== null || p.signalCode !== null
    ? Promise.resolve(p.exitCode)
    : new Promise<number | null>((r) => p.once('exit', (code) => r(code)));

/** Running, and not a zombie (detached launchers are reparented to a PID 1 that may never reap them). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const clusterDir = (home: string, name: string) => join(home, '.gadi-dask', 'clusters', name);
const readJson = (path: string): Doc => JSON.parse(readFileSync(path, 'utf8'));

async function detached(home: string, name: string, args: string[] = [], extra: NodeJS.ProcessEnv = {}): Promise<Doc> {
  const r = await py(['scheduler', '--name', name, '--detach', ...LOOPBACK, ...args], home, { env: extra });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.doc.state, 'running');
  pids.push(r.doc.pid);
  return r.doc;
}

async function workersSeen(home: string, name: string, count: number): Promise<Doc> {
  return waitFor(`${count} worker(s) in the status of ${name}`, async () => {
    const r = await py(['status', '--name', name], home);
    return r.doc?.ok && r.doc.workers.length === count ? r.doc : null;
  }, 25_000, 250);
}

after(() => {
  for (const p of children) {
    if (p.pid && p.exitCode === null && p.signalCode === null) {
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  // What the stand-in qsub started runs in process groups of its own, recorded by id.
  for (const bin of fakeBins) {
    for (const f of existsSync(bin) ? readdirSync(bin).filter((n) => n.endsWith('.pid')) : []) {
      try {
        process.kill(-Number(readFileSync(join(bin, f), 'utf8')), 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  for (const home of homes) rmSync(home, { recursive: true, force: true });
});

describe('runtime', { concurrency: true }, () => {
  describe('a scheduler launcher in the foreground', { concurrency: false }, () => {
    const home = tempHome();
    const dir = clusterDir(home, 'fg');
    let launcher: ReturnType<typeof start>;
    let started: Doc;
    let worker: ReturnType<typeof start>;

    before(async () => {
      // Options from a JSON config, with a flag overriding one of them.
      const config = join(home, 'scheduler-options.json');
      writeFileSync(config, JSON.stringify({ host: '127.0.0.1', 'dashboard-address': '127.0.0.1:0', 'idle-timeout': '1m' }));
      launcher = start(PY, [RUN, 'scheduler', '--name', 'fg', '--config', config, '--idle-timeout', '10m'], home);
      await waitFor('the start document', () => launcher.out().includes(END), 20_000);
      started = parseDoc(launcher.out().slice(0, launcher.out().indexOf(END) + END.length));
    });

    it('publishes the scheduler file and its metadata', () => {
      assert.equal(started.ok, true);
      assert.equal(started.action, 'started');
      assert.match(started.address, /^tcp:\/\/127\.0\.0\.1:\d+$/);
      const file = readJson(join(dir, 'scheduler.json'));
      assert.equal(file.address, started.address);
      assert.equal(file.type, 'Scheduler');
      const meta = readJson(join(dir, 'runtime.json'));
      assert.equal(meta.state, 'running');
      assert.equal(meta.pid, launcher.pid);
      assert.equal(meta.schedulerId, file.id);
      assert.equal(meta.placement, 'login');
      assert.equal(meta.pbsJobId, null);
      assert.equal(meta.idleTimeout, 600);
      assert.ok(meta.dashboard.port > 0);
      assert.match(meta.distributedVersion, /^\d{4}\./);
    });

    it('answers /health and /json/identity.json on the dashboard port', async () => {
      const { host, port } = started.dashboard;
      const health = await fetch(`http://${host}:${port}/health`, { signal: AbortSignal.timeout(5000) });
      assert.equal(health.status, 200);
      assert.equal((await health.text()).trim(), 'ok');
      const identity = await fetch(`http://${host}:${port}/json/identity.json`, { signal: AbortSignal.timeout(5000) });
      assert.equal(((await identity.json()) as { id: string }).id, started.schedulerId);
    });

    it('shows a real worker with the PBS job id taken from its name', async () => {
      worker = startWorker(home, 'fg', 'dask-worker-12.gadi-pbs');
      const snap = await workersSeen(home, 'fg', 1);
      assert.equal(snap.via, 'http');
      assert.equal(snap.scheduler.address, started.address);
      assert.deepEqual(snap.dashboard, started.dashboard);
      const w = snap.workers[0];
      assert.equal(w.name, 'dask-worker-12.gadi-pbs');
      assert.equal(w.pbsJobId, '12.gadi-pbs');
      assert.equal(w.jobName, 'dask-worker');
      assert.equal(w.nthreads, 2);
      assert.ok(w.memory.limit > 0 && w.memory.used > 0);
      assert.equal(w.processing, 0);
      assert.equal(snap.scheduler.threads, 2);
      assert.equal(snap.scheduler.clients, 0);
      assert.equal(snap.adaptive.enabled, false);
    });

    it('gives the same snapshot over the scheduler protocol, fast', async () => {
      const r = await py(['status', '--name', 'fg', '--via', 'rpc'], home);
      assert.equal(r.code, 0);
      assert.equal(r.doc.via, 'rpc');
      assert.deepEqual(r.doc.workers.map((w: Doc) => [w.name, w.pbsJobId]), [['dask-worker-12.gadi-pbs', '12.gadi-pbs']]);
      const http = await py(['status', '--name', 'fg'], home);
      assert.ok(http.ms < 3000, `status took ${http.ms} ms`);
    });

    it('rejects unknown keys in its config file', async () => {
      const bad = join(home, 'bad.json');
      writeFileSync(bad, JSON.stringify({ 'dashboard-adress': ':0' }));
      const r = await py(['scheduler', '--name', 'other', '--config', bad], home);
      assert.equal(r.code, 2);
      assert.equal(r.doc.code, 'usage');
      assert.match(r.doc.error, /unknown keys dashboard-adress/);
    });

    it('refuses a second scheduler for the same cluster', async () => {
      const r = await py(['scheduler', '--name', 'fg', ...LOOPBACK], home);
      assert.equal(r.code, 1);
      assert.equal(r.doc.code, 'already-running');
      assert.equal(r.doc.address, started.address);
    });

    it('lists the cluster from its files', async () => {
      const r = await py(['list'], home);
      assert.equal(r.code, 0);
      const [c] = r.doc.clusters;
      assert.equal(c.name, 'fg');
      assert.equal(c.state, 'running');
      assert.equal(c.processAlive, true);
      assert.equal(c.schedulerFile, true);
    });

    it('cleans up on SIGTERM and its worker leaves', async () => {
      launcher.kill('SIGTERM');
      assert.equal(await exited(launcher), 0);
      assert.equal(existsSync(join(dir, 'scheduler.json')), false);
      const meta = readJson(join(dir, 'runtime.json'));
      assert.equal(meta.state, 'stopped');
      assert.equal(meta.stopReason, 'signal SIGTERM');
      await waitFor('the worker to exit', () => worker.exitCode !== null || worker.signalCode !== null, 20_000);
      const r = await py(['status', '--name', 'fg'], home);
      assert.equal(r.doc.code, 'no-scheduler-file');
      assert.match(r.doc.error, /stopped .*signal SIGTERM/);
    });
  });

  describe('the idle timeout', { concurrency: false }, () => {
    const idleStop = (dir: string) => waitFor('the idle stop', () => {
      const m = readJson(join(dir, 'runtime.json'));
      return m.state === 'stopped' ? m : null;
    }, 15_000);

    it('waits while a client is connected, then stops the scheduler and cleans up', async () => {
      const home = tempHome();
      const dir = clusterDir(home, 'idle');
      // The client is started first and waits for the scheduler file, so it connects at once, well inside the
      // 2 s the scheduler would otherwise wait before stopping; it leaves when told to on stdin.
      const client = start(PY, ['-c', [
        'import sys', 'from distributed import Client', 'print("imported", flush=True)',
        'c = Client(scheduler_file=sys.argv[1], timeout=20)', 'print("connected", flush=True)', 'sys.stdin.readline()',
        'c.close()',
      ].join('\n'), join(dir, 'scheduler.json')], home);
      await waitFor('the client to import distributed', () => client.out().includes('imported'));
      const up = await detached(home, 'idle', ['--idle-timeout', '2']);
      await waitFor('the client to connect', () => client.out().includes('connected'));
      await new Promise((r) => setTimeout(r, 2500));
      const during = await py(['status', '--name', 'idle'], home);
      assert.equal(during.doc.ok, true, 'a connected client keeps the scheduler alive past the idle timeout');
      assert.equal(during.doc.scheduler.clients, 1);
      assert.equal(during.doc.scheduler.idle.idleSince, null);
      // Timed from before the client is told to leave: the scheduler sees it go before its process has exited.
      const toldToLeave = Date.now();
      client.stdin!.end('leave\n');
      await exited(client);
      const meta = await idleStop(dir);
      assert.ok(Date.now() - toldToLeave >= 1900, 'stopped before the idle timeout had passed');
      assert.match(meta.stopReason, /^idle for 2s/);
      assert.equal(existsSync(join(dir, 'scheduler.json')), false);
      await waitFor('the launcher process to end', () => !alive(up.pid), 10_000);
    });

    it('counts idle time from when clients can connect, not from the launch (importing Dask takes time)', async () => {
      const home = tempHome();
      const dir = clusterDir(home, 'late');
      await detached(home, 'late', ['--idle-timeout', '2']);
      // From when the scheduler file was written (the launcher reports "running" only after that, and the idle clock
      // starts after it): a late look under load cannot make the stop seem early.
      const running = statSync(join(dir, 'scheduler.json')).mtimeMs;
      const meta = await idleStop(dir);
      assert.ok(Date.now() - running >= 1900, `stopped ${Date.now() - running} ms after it could first be reached`);
      assert.match(meta.stopReason, /^idle for 2s/);
    });
  });

  describe('the status probe without a scheduler', { concurrency: false }, () => {
    const home = tempHome();
    let blackHole: Server;
    const sockets: Socket[] = [];
    before(async () => {
      blackHole = createServer((s) => sockets.push(s)); // accepts, never answers
      await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', () => r()));
    });
    after(() => {
      sockets.forEach((s) => s.destroy());
      blackHole.close();
    });

    const cluster = (name: string, files: Record<string, unknown>) => {
      const dir = clusterDir(home, name);
      mkdirSync(dir, { recursive: true });
      for (const [file, content] of Object.entries(files)) {
        writeFileSync(join(dir, file), typeof content === 'string' ? content : JSON.stringify(content));
      }
    };

    it('says when the cluster does not exist', async () => {
      const r = await py(['status', '--name', 'nothing'], home);
      assert.equal(r.code, 0);
      assert.equal(r.doc.ok, false);
      assert.equal(r.doc.code, 'no-cluster');
    });

    it('says why a stopped cluster is not running', async () => {
      cluster('stopped', { 'runtime.json': { state: 'stopped', stoppedAt: '2026-01-01T00:00:00Z', stopReason: 'idle for 3600s (no client, no task)' } });
      const r = await py(['status', '--name', 'stopped'], home);
      assert.equal(r.code, 0);
      assert.equal(r.doc.code, 'no-scheduler-file');
      assert.match(r.doc.error, /not running.*idle for 3600s/);
      assert.equal(r.doc.metadata.state, 'stopped');
    });

    it('reports a scheduler file that is not JSON', async () => {
      cluster('garbled', { 'scheduler.json': '{"addr' });
      const r = await py(['status', '--name', 'garbled'], home);
      assert.equal(r.doc.code, 'bad-scheduler-file');
    });

    it('reports a stale scheduler file quickly', async () => {
      const port = await new Promise<number>((r) => {
        const s = createServer().listen(0, '127.0.0.1', () => {
          const p = (s.address() as { port: number }).port;
          s.close(() => r(p));
        });
      });
      cluster('stale', { 'scheduler.json': { address: `tcp://127.0.0.1:${port}`, id: 'S-1' } });
      const r = await py(['status', '--name', 'stale'], home);
      assert.equal(r.code, 0);
      assert.equal(r.doc.code, 'unreachable');
      assert.match(r.doc.error, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.ok(r.ms < 3000, `took ${r.ms} ms`);
    });

    it('never hangs on a scheduler that accepts and stays silent', async () => {
      const port = (blackHole.address() as { port: number }).port;
      cluster('silent', {
        'scheduler.json': { address: `tcp://127.0.0.1:${port}`, id: 'S-2' },
        'runtime.json': { state: 'running', schedulerId: 'S-2', dashboard: { host: '127.0.0.1', port } },
      });
      const r = await py(['status', '--name', 'silent', '--timeout', '2'], home, { timeoutMs: 10_000 });
      assert.equal(r.code, 0);
      assert.equal(r.doc.ok, false);
      assert.ok(['timeout', 'unreachable'].includes(r.doc.code), r.doc.code);
      assert.ok(r.ms < 4000, `took ${r.ms} ms`);
    });

    it('turns a usage error into a document too', async () => {
      const r = await py(['status', '--name', '../etc'], home);
      assert.equal(r.code, 2);
      assert.equal(r.doc.code, 'usage');
      assert.match(r.doc.error, /invalid cluster name/);
    });
  });

  describe('shutdown', { concurrency: false }, () => {
    it('retires the workers, stops the scheduler, cleans state and qdels the jobs', async () => {
      const home = tempHome();
      const dir = clusterDir(home, 'down');
      const fake = fakePbs(home);
      const up = await detached(home, 'down', [], fake.env);
      const worker = startWorker(home, 'down', 'dask-worker-34.gadi-pbs-0');
      await workersSeen(home, 'down', 1);
      writeFileSync(join(dir, 'adapt.json'), JSON.stringify({ min: 1, max: 1, threadsPerJob: 2, interval: 0.2 }));
      await waitFor('adaptivity to adopt job 34', () =>
        existsSync(join(dir, 'adapt-state.json')) && readJson(join(dir, 'adapt-state.json')).jobs.length === 1);
      const r = await py(['shutdown', '--name', 'down', '--qdel'], home, { env: fake.env });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const d = r.doc;
      assert.equal(d.wasRunning, true);
      assert.equal(d.stopped, true);
      assert.deepEqual(d.workers, ['dask-worker-34.gadi-pbs-0']);
      assert.deepEqual(d.retired, ['dask-worker-34.gadi-pbs-0']);
      assert.deepEqual(d.workerJobIds, ['34.gadi-pbs']);
      assert.deepEqual(d.jobIds, ['34.gadi-pbs']);
      assert.equal(d.schedulerJobId, null);
      assert.deepEqual(d.qdel, { '34.gadi-pbs': 'deleted' });
      assert.ok(d.removed.includes('adapt.json'));
      assert.equal(existsSync(join(dir, 'scheduler.json')), false);
      assert.equal(existsSync(join(dir, 'adapt.json')), false);
      const meta = readJson(join(dir, 'runtime.json'));
      assert.equal(meta.state, 'stopped');
      assert.equal(meta.stopReason, 'shutdown command');
      assert.deepEqual(meta.cancelledJobs, ['34.gadi-pbs'], 'the launcher cancels the jobs adaptivity owned');
      assert.equal(alive(up.pid), false);
      await waitFor('the worker to exit', () => worker.exitCode !== null || worker.signalCode !== null, 20_000)
        .catch((e: Error) => assert.fail(`${e.message}; the worker said:\n${worker.out().slice(-4000)}`));
      assert.ok(fake.log('qdel').includes('34.gadi-pbs'));

      const again = await py(['shutdown', '--name', 'down'], home);
      assert.equal(again.code, 0);
      assert.equal(again.doc.wasRunning, false);
      assert.equal(again.doc.stopped, false);
    });

    it('--no-retire (down, whose qdel takes the workers anyway) stops the scheduler without retiring them', async () => {
      const home = tempHome();
      const up = await detached(home, 'nort', []);
      const worker = startWorker(home, 'nort', 'dask-worker-35.gadi-pbs-0');
      try {
        await workersSeen(home, 'nort', 1);
        const r = await py(['shutdown', '--name', 'nort', '--no-retire'], home);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.deepEqual([r.doc.wasRunning, r.doc.stopped, r.doc.workers, r.doc.retired],
          [true, true, ['dask-worker-35.gadi-pbs-0'], []]);
        assert.equal(readJson(join(clusterDir(home, 'nort'), 'runtime.json')).state, 'stopped');
        assert.equal(alive(up.pid), false);
      } finally {
        worker.kill('SIGKILL');
      }
    });

    it('--job-cancelled (down has just qdel-ed the scheduler\'s job) waits for the launcher\'s own stop, asking nothing', async () => {
      const home = tempHome();
      const up = await detached(home, 'jc', []);
      const worker = startWorker(home, 'jc', 'dask-worker-36.gadi-pbs-0');
      try {
        await workersSeen(home, 'jc', 1);
        process.kill(up.pid, 'SIGTERM'); // what PBS sends at qdel
        const r = await py(['shutdown', '--name', 'jc', '--no-retire', '--job-cancelled'], home);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        // workers [] and no warning: the scheduler was not asked (the RPC names its workers, or fails on its close)
        assert.deepEqual([r.doc.wasRunning, r.doc.stopped, r.doc.workers, r.doc.warnings], [true, true, [], []]);
        const meta = readJson(join(clusterDir(home, 'jc'), 'runtime.json'));
        assert.deepEqual([meta.state, meta.stopReason], ['stopped', 'signal SIGTERM']);
        assert.equal(existsSync(join(clusterDir(home, 'jc'), 'scheduler.json')), false);
        await waitFor('the launcher to exit', () => !alive(up.pid));
      } finally {
        worker.kill('SIGKILL');
      }
    });
  });

  describe('adaptive mode', { concurrency: false }, () => {
    it('submits jobs for a backlog, runs the work, then retires and cancels them', async () => {
      const home = tempHome();
      const dir = clusterDir(home, 'ad');
      const fake = fakePbs(home);
      const up = await detached(home, 'ad', [], fake.env);
      writeFileSync(join(dir, 'worker.pbs'), [
        '#!/usr/bin/env bash', '#PBS -N dask-worker', '',
        `${PY} -m distributed.cli.dask_worker --scheduler-file ${join(dir, 'scheduler.json')} ` +
          `--name dask-worker-$PBS_JOBID --nthreads 1 --no-dashboard ${LOOPBACK.join(' ')}`,
      ].join('\n'));
      writeFileSync(join(dir, 'adapt.json'), JSON.stringify({
        min: 0, max: 2, threadsPerJob: 1, qsubArgs: ['-P', 'ab12'], interval: 0.3, cooldown: 1, scaleDownDelay: 2,
        qstatInterval: 600,
      }));
      const client = await run(PY, ['-c', [
        'import sys, time', 'from distributed import Client',
        'def slow(x):', '    time.sleep(1.5)', '    return x * 2',
        'c = Client(scheduler_file=sys.argv[1], timeout=20)', 'print(sum(c.gather(c.map(slow, range(4)))))',
        'c.close()',
      ].join('\n'), join(dir, 'scheduler.json')], home, { timeoutMs: 40_000 });
      assert.equal(client.stdout.trim(), '12', client.stderr);
      // Each under a unique name of the cluster's, journaled like the agent's own submissions.
      const qsubs = fake.log('qsub').trim().split('\n');
      assert.equal(qsubs.length, 2, 'two jobs for four tasks with max 2, and no more');
      for (const line of qsubs) assert.match(line, /^-N ad-[0-9a-f]{8} -P ab12 worker\.pbs$/);
      const journal = readFileSync(join(dir, 'journal.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(journal.filter((r) => r.op === 'submitted').map((r) => [r.id, r.role]).sort(),
        [['1.gadi-pbs', 'worker'], ['2.gadi-pbs', 'worker']]);
      const state = await waitFor('both jobs retired', () => {
        const s = readJson(join(dir, 'adapt-state.json'));
        return s.jobs.filter((j: Doc) => j.state === 'retired').length === 2 ? s : null;
      }, 20_000);
      assert.equal(state.enabled, true);
      assert.deepEqual(state.jobs.map((j: Doc) => j.id).sort(), ['1.gadi-pbs', '2.gadi-pbs']);
      assert.deepEqual(fake.log('qdel').trim().split('\n').sort(), ['1.gadi-pbs', '2.gadi-pbs']);
      const snap = await workersSeen(home, 'ad', 0);
      assert.equal(snap.adaptive.min, 0);
      assert.ok(snap.adaptive.lastAction.retired.length >= 1, 'the last action retired (one or both) jobs');
      assert.ok(alive(up.pid), 'the scheduler itself stays up');
      await py(['shutdown', '--name', 'ad'], home, { env: fake.env });
    });
  });

  describe('installer', { concurrency: false }, () => {
    const home = tempHome();
    const files = runtimeFiles(RT);
    const hash = runtimeHash(files);
    const script = readFileSync(join(RT, 'install.sh'), 'utf8');
    const root = join(home, '.gadi-dask');
    // As the extension runs it: the script's text as an argument, nothing uploaded for a check.
    const installer = (...args: string[]) => run('sh', ['-c', script, 'gadi-dask-install', ...args], home);
    const upload = (content: Buffer, name = 'runtime.tar.gz') => {
      mkdirSync(join(root, 'upload'), { recursive: true });
      writeFileSync(join(root, 'upload', name), content);
      return join(root, 'upload', name);
    };
    const snapshot = (dir: string) => runtimeFiles(dir).map((f) => {
      const st = statSync(join(dir, f.path));
      return `${f.path} ${st.ino} ${st.mtimeMs}`;
    }).concat(String(statSync(dir).ino));

    it('computes the same hash in TypeScript, sh and Python', async () => {
      assert.ok(files.some((f) => f.path === 'gadi_dask/scheduler.py') && files.some((f) => f.path === 'install.sh'));
      assert.ok(!files.some((f) => f.path.includes('__pycache__')));
      const sh = await run('sh', [join(RT, 'install.sh'), 'hash', RT], home);
      assert.equal(sh.doc.hash, hash);
      assert.equal(sh.doc.files, files.length);
      const python = await py(['hash', RT], home);
      assert.equal(python.doc.hash, hash);
    });

    it('installs once, and a second run changes nothing', async () => {
      const before = await installer('check', '0.1.0', hash);
      assert.equal(before.code, 0);
      assert.deepEqual([before.doc.installed, before.doc.installedHash], [false, null]);
      const first = await installer('install', '0.1.0', hash, upload(tarball(files)));
      assert.equal(first.code, 0, first.stdout + first.stderr);
      assert.equal(first.doc.action, 'installed');
      assert.equal(first.doc.replaced, false);
      const dest = join(root, 'runtime', '0.1.0');
      assert.equal(first.doc.path, dest);
      assert.equal(readFileSync(join(dest, 'gadi_dask', 'scheduler.py'), 'utf8'), readFileSync(join(RT, 'gadi_dask', 'scheduler.py'), 'utf8'));
      assert.equal(readJson(join(dest, '.gadi-dask-runtime.json')).hash, hash);
      assert.equal(existsSync(join(root, 'upload', 'runtime.tar.gz')), false, 'the upload is removed');
      assert.equal(existsSync(join(root, 'install.lock')), false, 'the lock is released');
      const check = await installer('check', '0.1.0', hash);
      assert.equal(check.doc.installed, true);
      const was = snapshot(dest);
      const second = await installer('install', '0.1.0', hash, upload(tarball(files)));
      assert.equal(second.code, 0);
      assert.equal(second.doc.action, 'already-installed');
      assert.deepEqual(snapshot(dest), was);
      const installed = await run(PY, [join(dest, 'run.py'), 'env'], home);
      assert.equal(installed.doc.runtimeVersion, '0.1.0');
      assert.match(installed.doc.distributedVersion, /^2022\.12\.1/);
      assert.deepEqual(readdirSync(join(root, 'runtime')), ['0.1.0'], 'no temporary directories left');
    });

    it('reinstalls a copy that was edited by hand', async () => {
      const dest = join(root, 'runtime', '0.1.0');
      writeFileSync(join(dest, 'README.md'), 'edited');
      assert.equal((await installer('check', '0.1.0', hash)).doc.installed, false);
      const r = await installer('install', '0.1.0', hash, upload(tarball(files, false), 'plain.tar'));
      assert.equal(r.doc.action, 'installed');
      assert.equal(r.doc.replaced, true);
      assert.equal(readFileSync(join(dest, 'README.md'), 'utf8'), readFileSync(join(RT, 'README.md'), 'utf8'));
    });

    it('serialises two installs under the lock', async () => {
      const [a, b] = await Promise.all([
        installer('install', '0.2.0', hash, upload(tarball(files), 'a.tar.gz')),
        installer('install', '0.2.0', hash, upload(tarball(files), 'b.tar.gz')),
      ]);
      assert.deepEqual([a.doc.action, b.doc.action].sort(), ['already-installed', 'installed']);
      assert.equal((await installer('check', '0.2.0', hash)).doc.installed, true);
    });

    it('refuses an archive whose content does not match the hash', async () => {
      const changed: RuntimeFile[] = files.map((f) => (f.path === 'README.md' ? { ...f, content: Buffer.from('other') } : f));
      const r = await installer('install', '0.3.0', hash, upload(tarball(changed)));
      assert.equal(r.code, 1);
      assert.equal(r.doc.code, 'hash-mismatch');
      assert.ok(r.doc.error.includes(runtimeHash(changed)));
      assert.equal(existsSync(join(root, 'runtime', '0.3.0')), false);
    });

    it('refuses members that would land outside the install directory', async () => {
      const evil: RuntimeFile[] = [{ path: '../../escaped.txt', content: Buffer.from('x'), mtime: 0 }];
      const r = await installer('install', '0.4.0', runtimeHash(evil), upload(tarball(evil)));
      assert.equal(r.code, 1);
      assert.equal(r.doc.code, 'bad-archive');
      assert.equal(existsSync(join(root, 'escaped.txt')), false);
      assert.equal(existsSync(join(home, 'escaped.txt')), false);
    });

    it('rejects a malformed version or hash', async () => {
      const r = await installer('check', '../x', hash);
      assert.equal(r.code, 2);
      assert.equal(r.doc.code, 'usage');
      assert.equal((await installer('check', '0.1.0', 'abc')).doc.code, 'usage');
    });
  });

  test('Python unit tests (python3 -m unittest in runtime/)', async (t) => {
    const r = await new Promise<{ code: number | null; err: string }>((done) => {
      const p = spawn(PY, ['-m', 'unittest', 'discover', '-s', 'tests', '-v'], { cwd: RT, env: env(tempHome()) });
      let err = '';
      p.stderr.on('data', (d) => (err += d));
      p.on('close', (code) => done({ code, err }));
    });
    const results = [...r.err.matchAll(/^(test\w+) \(([\w.]+)\)(?:\n[^\n]*?)?? \.\.\. (.+)$/gm)];
    assert.ok(results.length >= 40, `only ${results.length} Python tests found:\n${r.err}`);
    for (const [, name, where, outcome] of results) {
      await t.test(`${where.split('.').slice(0, 2).join('.')}: ${name}`, () => assert.equal(outcome, 'ok'));
    }
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, new RegExp(`Ran ${results.length} tests`));
  });
});

/** Stand-in qsub/qdel: qsub runs the job script with bash in the background, as the PBS emulator does. */
function fakePbs(home: string): { env: NodeJS.ProcessEnv; log: (tool: string) => string } {
  const bin = join(home, 'fake-pbs');
  mkdirSync(bin, { recursive: true });
  const tool = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/usr/bin/env bash\nstate=${JSON.stringify(bin)}\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  tool('qsub', [
    'n=$(( $(cat "$state/counter" 2>/dev/null || echo 0) + 1 )); echo $n >"$state/counter"',
    'id="$n.gadi-pbs"; echo "$*" >>"$state/qsub.log"',
    'PBS_JOBID=$id setsid bash "${@: -1}" >"$state/$id.out" 2>&1 </dev/null &',
    'echo $! >"$state/$id.pid"; echo "$id"',
  ].join('\n'));
  tool('qdel', [
    'for id in "$@"; do echo "$id" >>"$state/qdel.log"',
    '  pid=$(cat "$state/$id.pid" 2>/dev/null) && kill -TERM -- "-$pid" 2>/dev/null; done; exit 0',
  ].join('\n'));
  fakeBins.push(bin);
  return {
    env: { PATH: `${bin}:${process.env.PATH}` },
    log: (name) => (existsSync(join(bin, `${name}.log`)) ? readFileSync(join(bin, `${name}.log`), 'utf8') : ''),
  };
}
