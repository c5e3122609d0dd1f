// Acceptance: a whole cluster life on the sandbox (real sshd, the PBS emulator running jobs for real, Debian's Dask),
// first through the ssh transport with the lifecycle API, then through the local transport with the CLI run as the
// cluster account itself (what happens when the editor already runs on the login node). Each time: up → scale 2 →
// two workers join, named for their jobs → a computation through a Client → scale 1 → down → nothing left.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Cluster } from '../../src/core/cluster/cluster';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import { discoverClusters } from '../../src/core/cluster/discover';
import { InvalidClusterNameError, PbsUnavailableError, PythonNotFoundError, SchedulerStartError } from '../../src/core/cluster/errors';
import type { ClusterSnapshot } from '../../src/core/cluster/snapshot';
import { refusingPrompt } from '../../src/core/remote/prompt';
import { SshTransportPool } from '../../src/core/remote/sshTransport';
import { cliAs, connectClient, CountingTransport, processesOf, runAs, smallClusterYaml } from './clusterFixture';
import { isLoopback, SANDBOX_DASHBOARD_ADDRESS, startSandbox, type Sandbox } from './sandbox';
import { until as poll } from '../fixtures/poll';

const USER = 'gdcluster';
const BANNER = 'Welcome to the cluster sandbox';
const ROOT = resolve(__dirname, '..', '..');
const TSX = require.resolve('tsx');
const CLI = join(ROOT, 'src', 'cli', 'cli.ts');
const ANSWER = 328350; // sum of squares below 100

let sb: Sandbox;
let work: string;
let pool: SshTransportPool;
const started = Date.now();

before(async () => {
  // Deleted running jobs linger in R as on real PBS: the lifecycle must count them as exiting, not as workers.
  sb = await startSandbox({ user: USER, loginBanner: BANNER, qdelLingerSeconds: 4 });
  work = mkdtempSync(join(tmpdir(), 'cluster-acceptance-'));
  chmodSync(work, 0o755); // the cluster account reads its config from here
  pool = new SshTransportPool({ prompt: refusingPrompt, agent: null, sshConfig: { configFile: sb.sshConfigPath, systemConfigFile: null } });
});

after(async () => {
  await pool?.close();
  await sb?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
  process.stderr.write(`cluster acceptance: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
});

const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 40_000) => poll(what, probe, { timeoutMs, everyMs: 500 });

const COMPUTE = (name: string) => `
import json, os
${connectClient(name)}total = c.submit(sum, c.map(lambda x: x * x, range(100))).result()
print(json.dumps({"total": total, "workers": sorted(w["name"] for w in c.scheduler_info()["workers"].values()),
                  "ran": len(c.run(os.getpid))}))
c.close()
`;

/** Workers named <name>-<job id>, one per job, each in the job whose id it carries. */
function assertWorkersNamedForJobs(s: ClusterSnapshot, name: string, jobs: number): void {
  const workerJobs = s.jobs.filter((j) => j.role === 'worker');
  assert.equal(workerJobs.length, jobs);
  for (const j of workerJobs) {
    assert.equal(j.state, 'R');
    assert.deepEqual(j.workers.map((w) => w.name), [`${name}-${j.id}`]);
  }
  assert.deepEqual(s.otherWorkers, []);
}

/** The user's processes other than the sshd sessions serving our connections. */
const leftovers = () => processesOf(sb.uid).filter((p) => p.comm !== 'sshd');

describe('through the ssh transport', { concurrency: false }, () => {
  const name = 'acc-ssh';
  let t: CountingTransport;
  let cluster: Cluster;

  before(() => {
    t = new CountingTransport(pool.open(sb.alias));
    cluster = new Cluster(t, parseClusterConfig(smallClusterYaml(name, sb.alias)));
  });

  test('deploying twice uploads once', async () => {
    const first = await cluster.deploy();
    assert.deepEqual([first.uploaded, t.uploads], [true, 1]);
    t.reset();
    const second = await cluster.deploy();
    assert.deepEqual([second.uploaded, second.action, t.uploads, t.execs], [false, 'up-to-date', 0, 1]);
  });

  test('up starts the scheduler in its own PBS job and waits for it', async () => {
    const progress: string[] = [];
    const up = await cluster.up({ onProgress: (m) => progress.push(m) });
    const info = up.scheduler.info!;
    assert.match(info.address, /^tls:\/\//);
    assert.match(info.jobId!, /^\d+\.gadi-pbs$/);
    assert.ok(progress.some((m) => m.startsWith(`Submitted scheduler job ${info.jobId}`)), progress.join('\n'));
    const q = await t.exec(`qstat -f ${info.jobId}`);
    assert.match(q.stdout, /Job_Name = dask-scheduler-acc-ssh/);
    assert.match(q.stdout, /job_state = R/);
  });

  test('scale 2 is one round trip; two workers join, each named for its job', async () => {
    t.reset();
    const r = await cluster.scale({ jobs: 2 });
    assert.equal(t.execs, 1);
    assert.equal(r.submitted.length, 2);
    t.reset();
    const s = await until('two workers', async () => {
      const snap = await cluster.status();
      return snap.counts.workers === 2 ? snap : undefined;
    });
    assert.equal(s.scheduler.state, 'running');
    assert.deepEqual(s.jobs.filter((j) => j.role === 'worker').map((j) => j.id).sort(), [...r.submitted].sort());
    assertWorkersNamedForJobs(s, name, 2);
    assert.equal(s.jobs[0].role, 'scheduler');
    const open = sb.listeningSockets();
    assert.ok(open.length >= 3, 'the scheduler and two workers listen');
    assert.deepEqual(open.filter((o) => !isLoopback(o.address)), [], 'every listener of the cluster is on loopback');
  });

  test('the running cluster is discovered from the account, in one exec', async () => {
    t.reset();
    const found = await discoverClusters(t);
    assert.equal(t.execs, 1);
    const mine = found.find((c) => c.name === name);
    assert.ok(mine, JSON.stringify(found));
    assert.equal(mine.running, true);
    assert.equal(mine.jobs.filter((j) => j.role === 'worker').length, 2);
  });

  test('a computation through a Client on the scheduler file returns the right answer', async () => {
    const r = await t.exec('/usr/bin/python3 -', { stdin: COMPUTE(name), timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    assert.equal(out.total, ANSWER);
    assert.equal(out.ran, 2);
    assert.equal(out.workers.length, 2);
  });

  test('scale 1 retires one job\'s worker and cancels that job; one job is left', async () => {
    const r = await cluster.scale({ jobs: 1 });
    assert.equal(r.cancelled.length, 1);
    assert.equal(r.cancelled[0].outcome, 'deleted');
    assert.deepEqual(r.cancelled[0].retiredWorkers, [`${name}-${r.cancelled[0].id}`], 'its worker handed over before the job went');
    // The cancelled job stops counting at once, and stays listed while PBS ends it (it lingers in R here too).
    assert.equal((await cluster.status()).counts.workerJobs, 1);
    const s = await until('one worker job left in PBS', async () => {
      const snap = await cluster.status();
      return snap.jobs.filter((j) => j.role === 'worker').length === 1 && snap.counts.workers === 1 ? snap : undefined;
    });
    assertWorkersNamedForJobs(s, name, 1);
    assert.notEqual(s.jobs[1].id, r.cancelled[0].id);
  });

  test('cancelJobs retires the job\'s worker before qdel, in one exec; a scale brings a job back', async () => {
    const job = (await cluster.status()).jobs.find((j) => j.role === 'worker');
    assert.ok(job);
    t.reset();
    const r = await cluster.cancelJobs([job.id]);
    assert.equal(t.execs, 1);
    assert.deepEqual(r.cancelled.map((c) => [c.id, c.outcome]), [[job.id, 'deleted']]);
    assert.deepEqual(r.cancelled[0].retiredWorkers, [`${name}-${job.id}`], 'its worker handed over before the job went');
    await cluster.scale({ jobs: 1 });
    await until('one worker again', async () => {
      const snap = await cluster.status();
      return snap.counts.workerJobs === 1 && snap.counts.workers === 1 ? snap : undefined;
    });
  });

  test('down leaves no job, no process and no scheduler', async () => {
    const d = await cluster.down();
    assert.equal(d.wasRunning, true);
    const worker = d.cancelled[0];
    assert.deepEqual([worker?.outcome, d.cancelled.length], ['deleted', 2], 'its worker\'s job first, then its scheduler\'s');
    assert.ok(d.cancelled.every((c) => c.outcome === 'deleted' || c.outcome === 'gone'), JSON.stringify(d.cancelled));
    await until('an empty queue and no processes', async () => {
      const q = await t.exec('qstat');
      return q.stdout.replace(BANNER, '').trim() === '' && leftovers().length === 0 ? true : undefined;
    });
    const s = await cluster.status();
    assert.deepEqual([s.jobs, s.scheduler.state], [[], 'stopped']);
    const dir = join(sb.home, '.gadi-dask', 'clusters', name);
    assert.equal(existsSync(join(dir, 'scheduler.json')), false);
    assert.equal(JSON.parse(readFileSync(join(dir, 'runtime.json'), 'utf8')).state, 'stopped');
    await t.close();
  });
});

describe('a scheduler on the login node, kept adaptive by its launcher', { concurrency: false }, () => {
  const name = 'acc-login';
  let t: CountingTransport;
  let cluster: Cluster;

  before(() => {
    t = new CountingTransport(pool.open(sb.alias));
    cluster = new Cluster(t, parseClusterConfig(`${smallClusterYaml(name, sb.alias)}scheduler: {placement: login}\n`));
  });
  after(() => t.close());

  test('up starts a detached scheduler on the login node, no PBS job', async () => {
    const up = await cluster.up();
    assert.equal(up.scheduler.action.kind, 'started-login');
    assert.equal(up.scheduler.info?.placement, 'login');
    assert.equal(up.scheduler.info?.jobId, undefined);
    const s = await cluster.status();
    assert.deepEqual([s.scheduler.state, s.jobs.length], ['running', 0]);
  });

  test('adapt 1 2: the launcher submits the job itself and its worker joins; adapt off keeps it', async () => {
    const on = await cluster.adapt({ minimum: 1, maximum: 2 });
    assert.deepEqual([on.enabled, on.adopted], [true, 0]);
    const s = await until('a worker started by adaptivity', async () => {
      const snap = await cluster.status();
      return snap.counts.workers === 1 ? snap : undefined;
    }, 60_000);
    assert.deepEqual([s.adaptive?.enabled, s.adaptive?.min, s.adaptive?.max], [true, 1, 2]);
    assertWorkersNamedForJobs(s, name, 1);
    assert.equal(s.jobs[0].adaptive, true);
    await cluster.adapt('off');
    const off = await until('adaptivity off', async () => {
      const snap = await cluster.status();
      return snap.adaptive?.enabled === false ? snap : undefined;
    });
    assert.equal(off.counts.workerJobs, 1, 'turning adaptivity off leaves the jobs');
  });

  test('down stops the login scheduler and cancels the job adaptivity left', async () => {
    const d = await cluster.down();
    assert.deepEqual([d.wasRunning, d.cancelled.map((c) => c.outcome)], [true, ['deleted']]);
    await until('no processes and an empty queue', async () => {
      const q = await t.exec('qstat');
      return q.stdout.replace(BANNER, '').trim() === '' && leftovers().length === 0 ? true : undefined;
    });
  });
});

describe('hostile values and garbage', { concurrency: false }, () => {
  test('a hostile cluster name is refused before any command runs', async () => {
    const t = new CountingTransport(pool.open(sb.alias));
    assert.throws(() => new Cluster(t, parseClusterConfig(smallClusterYaml(`"x'$(touch ~/pwned)'"`, sb.alias))), InvalidClusterNameError);
    assert.equal(t.execs, 0);
    await t.close();
  });

  test('hostile config values reach the cluster as data, never as shell', async () => {
    const t = pool.open(sb.alias);
    const python = parseClusterConfig(smallClusterYaml('hostile', sb.alias).replace('/usr/bin/python3', '"/usr/bin/python3; touch ~/pwned-python"'));
    await assert.rejects(new Cluster(t, python).up(), (e: unknown) => e instanceof PythonNotFoundError && e.message.includes('touch ~/pwned-python'));
    const iface = parseClusterConfig(`${smallClusterYaml('hostile', sb.alias)}scheduler: {placement: login}\n`
      .replace(`{dashboard_address: '${SANDBOX_DASHBOARD_ADDRESS}'}`, `{dashboard_address: '${SANDBOX_DASHBOARD_ADDRESS}', interface: "lo'; touch ~/pwned-iface; echo '"}`));
    await assert.rejects(new Cluster(t, iface).up(), (e: unknown) => e instanceof SchedulerStartError && /interface/i.test(e.message));
    const ls = await t.exec('ls -a ~');
    assert.doesNotMatch(ls.stdout, /pwned/);
    await t.close();
  });

  test('garbage from a remote command is a clear error, not a crash', async () => {
    const profile = join(sb.home, '.bash_profile');
    const original = readFileSync(profile, 'utf8');
    // A broken site wrapper earlier on PATH that prints junk where qstat's JSON belongs, and exits 0.
    const wrappers = join(sb.home, 'wrappers');
    mkdirSync(wrappers, { recursive: true });
    writeFileSync(join(wrappers, 'qstat'), '#!/bin/sh\necho \'{"Jobs": {"1.gadi-pbs": [not json\'\n', { mode: 0o755 });
    chmodSync(wrappers, 0o755);
    writeFileSync(profile, `${original}export PATH="${wrappers}:$PATH"\n`);
    try {
      const t = pool.open(sb.alias);
      const c = new Cluster(t, parseClusterConfig(smallClusterYaml('garbage', sb.alias)));
      await c.scale({ jobs: 0 }); // creates the cluster's directory; no job to ask qstat about yet
      writeFileSync(join(sb.home, '.gadi-dask', 'clusters', 'garbage', 'journal.jsonl'), '{"op":"submitted","id":"1.gadi-pbs","role":"worker","at":1}\n');
      await assert.rejects(c.status(), (e: unknown) => e instanceof PbsUnavailableError && /qstat printed something that is not JSON/.test(e.message));
      await t.close();
    } finally {
      writeFileSync(profile, original);
      rmSync(wrappers, { recursive: true, force: true });
    }
  });
});

describe('host keys through the CLI', { concurrency: false }, () => {
  let sshConfig: string;
  let knownHosts: string;
  let config: string;

  before(() => {
    sshConfig = join(work, 'ssh_config_ask');
    knownHosts = join(work, 'known_hosts_empty');
    config = join(work, 'hostkey.dask-cluster.yaml');
    writeFileSync(sshConfig, [
      'Host sbx', '  HostName 127.0.0.1', `  Port ${sb.port}`, `  User ${USER}`, `  IdentityFile ${sb.privateKeyPath}`,
      '  IdentitiesOnly yes', '  StrictHostKeyChecking ask', '',
    ].join('\n'));
    writeFileSync(knownHosts, '');
    writeFileSync(config, smallClusterYaml('acc-hostkey', 'sbx'));
  });

  const args = () => ['status', '--config', config, '--ssh-config', sshConfig, '--known-hosts', knownHosts];

  function run(command: string, argv: string[], input: string): Promise<{ code: number | null; out: string }> {
    return new Promise((done, fail) => {
      const p = spawn(command, argv, { env: { ...process.env, SSH_AUTH_SOCK: '' }, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (out += d));
      p.on('error', fail);
      p.on('close', (code) => done({ code, out }));
      p.stdin.end(input);
    });
  }

  test('without a terminal an unknown host key is refused, with its fingerprint and what to do (exit 4)', async () => {
    const r = await run(process.execPath, ['--import', TSX, CLI, ...args()], 'y\n');
    assert.equal(r.code, 4, r.out);
    assert.ok(r.out.includes(sb.hostKeyFingerprintSha256), r.out);
    assert.match(r.out, /Without a terminal nobody can be asked/);
    assert.equal(readFileSync(knownHosts, 'utf8'), '', 'nothing was trusted');
  });

  test('on a terminal the CLI asks y/N with the SHA256 fingerprint; yes connects and remembers the key', async () => {
    // script(1) gives the CLI a pseudo-terminal; the answer is typed into it.
    const line = [process.execPath, '--import', TSX, CLI, ...args()].map((a) => `'${a}'`).join(' ');
    const r = await run('script', ['-qec', line, '/dev/null'], 'y\n');
    assert.match(r.out, new RegExp(`key fingerprint is ${sb.hostKeyFingerprintSha256.replace(/[+/]/g, '\\$&')}`));
    assert.match(r.out, /\(y\/N\)\?/);
    assert.equal(r.code, 6, `connected, and the cluster is not running: ${r.out}`);
    assert.match(readFileSync(knownHosts, 'utf8'), /ssh-ed25519 /);
  });
});

describe('through the local transport: the CLI as the cluster account', { concurrency: false }, () => {
  const name = 'acc-local';
  let config: string;

  /** Runs `gadi-dask <args>` as the sandbox user, on "the login node". */
  const cli = async (args: string[]) => {
    const r = await cliAs(sb, args, config);
    return { ...r, json: () => JSON.parse(r.stdout) };
  };

  const asUser = (command: string, input = '') => runAs(sb, ['/bin/bash', '-lc', command], input);

  before(() => {
    assert.deepEqual(leftovers(), [], 'the ssh run left nothing behind');
    // A fresh account: this run deploys through the local transport itself.
    rmSync(join(sb.home, '.gadi-dask'), { recursive: true, force: true });
    config = join(work, `${name}.dask-cluster.yaml`);
    writeFileSync(config, smallClusterYaml(name, 'unused-with-local'));
    chmodSync(config, 0o644);
  });

  test('up deploys and starts the scheduler', async () => {
    const r = await cli(['up', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const up = r.json();
    assert.equal(up.deploy.uploaded, true);
    assert.match(up.scheduler.info.address, /^tls:\/\//);
    assert.match(r.stderr, /… Submitted scheduler job/, 'progress on stderr');
  });

  test('scale 2: two workers join, each named for its job; a Client computes the right answer', async () => {
    const r = await cli(['scale', '2', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json().submitted.length, 2);
    const snap: ClusterSnapshot = await until('two workers', async () => {
      const s = await cli(['status', '--json']);
      const j = s.code === 0 ? s.json() : undefined;
      return j?.counts.workers === 2 ? j : undefined;
    });
    assertWorkersNamedForJobs(snap, name, 2);
    const c = await asUser('/usr/bin/python3 -', COMPUTE(name));
    assert.equal(c.code, 0, c.stderr);
    assert.equal(JSON.parse(c.stdout.trim().split('\n').at(-1)!).total, ANSWER);
  });

  test('scale 1 leaves one job; status in text names it and its worker', async () => {
    const r = await cli(['scale', '1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Cancelled: \d+\.gadi-pbs$/m);
    const text = await until('one worker', async () => {
      const s = await cli(['status']);
      return /^1 worker job\(s\) \(0 queued\), 1 worker\(s\)/m.test(s.stdout) ? s.stdout : undefined;
    });
    assert.match(text, new RegExp(`^(\\d+\\.gadi-pbs)\\s+worker\\s+Running\\s.*\\b${name}-\\1$`, 'm'));
  });

  test('down leaves no job, no process and no scheduler; status then exits 6', async () => {
    const r = await cli(['down']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Scheduler stopped$/m);
    await until('an empty queue and no processes', async () => {
      const q = await asUser('qstat');
      return q.stdout.replace(BANNER, '').trim() === '' && leftovers().length === 0 ? true : undefined;
    });
    const s = await cli(['status', '--json']);
    assert.equal(s.code, 6);
    assert.equal(s.json().scheduler.state, 'stopped');
    assert.equal(existsSync(join(sb.home, '.gadi-dask', 'clusters', name, 'scheduler.json')), false);
  });
});
