// Acceptance: `gadi-dask run script.py` streams output while the job runs and exits with the script's status. The
// script's `Client()` (no arguments) reaches the TLS cluster through what its job script exports; no process's argv
// shows key material or the key files' paths' contents; Ctrl-C qdel's the job; a dropped link loses no output; a
// missing file and a stopped cluster are clear messages.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from '../../src/core/cluster/cluster';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import { refusingPrompt } from '../../src/core/remote/prompt';
import { SshTransportPool } from '../../src/core/remote/sshTransport';
import type { Transport } from '../../src/core/remote/transport';
import { until } from '../fixtures/poll';
import { cliArgv, cliOverSsh, smallClusterYaml } from './clusterFixture';
import { keyMaterial } from './stranger';
import { startSandbox, type Sandbox } from './sandbox';

const USER = 'gdrunfile';
const NAME = 'runfile';

let sb: Sandbox;
let pool: SshTransportPool;
let t: Transport;
let cluster: Cluster;
let dir: string;
let config: string;
const cdir = () => join(sb.home, '.gadi-dask', 'clusters', NAME);

before(async () => {
  sb = await startSandbox({ user: USER });
  pool = new SshTransportPool({ prompt: refusingPrompt, agent: null, sshConfig: { configFile: sb.sshConfigPath, systemConfigFile: null } });
  t = pool.open(sb.alias);
  cluster = new Cluster(t, parseClusterConfig(smallClusterYaml(NAME, sb.alias)));
  dir = mkdtempSync(join(tmpdir(), 'runfile-'));
  config = join(dir, `${NAME}.dask-cluster.yaml`);
  writeFileSync(config, smallClusterYaml(NAME, sb.alias));
});

after(async () => {
  try {
    await cluster?.down();
  } finally {
    await pool?.close();
    await sb?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

/** PBS's state of the user's run jobs (named dask-run-<cluster>-…), by id. */
async function runJobs(): Promise<Record<string, string>> {
  const r = await t.exec('for id in $(qselect -x -u "$USER"); do qstat -x -f -F json "$id"; done', { timeoutMs: 60_000 });
  const out: Record<string, string> = {};
  for (const doc of r.stdout.split(/\n(?=\{)/).filter((d) => d.trim())) {
    for (const [id, job] of Object.entries((JSON.parse(doc) as { Jobs?: Record<string, { Job_Name: string; job_state: string }> }).Jobs ?? {})) {
      if (job.Job_Name.startsWith(`dask-run-${NAME}-`)) out[id] = job.job_state;
    }
  }
  return out;
}

interface Live {
  stdout: () => string;
  stderr: () => string;
  /** When each stdout line first arrived (ms since start). */
  seen: (pattern: RegExp) => number | undefined;
  exited: Promise<number | null>;
  kill: (signal: NodeJS.Signals) => void;
}

function startCli(args: string[]): Live {
  const p = spawn(process.execPath, cliArgv([...args.slice(0, 2), '--config', config, '--ssh-config', sb.sshConfigPath, ...args.slice(2)]).slice(1),
    { env: { ...process.env, SSH_AUTH_SOCK: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const started = Date.now();
  let stdout = '';
  let stderr = '';
  const times: { at: number; text: string }[] = [];
  p.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    times.push({ at: Date.now() - started, text: stdout });
  });
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    seen: (pattern) => times.find((x) => pattern.test(x.text))?.at,
    exited: new Promise((resolve) => p.on('close', resolve)),
    kill: (signal) => p.kill(signal),
  };
}

const SCRIPT = `import sys, time
print("first line", sys.argv[1:])
time.sleep(3)
from dask.distributed import Client
c = Client()
print("result", c.submit(sum, [1, 2, 3]).result())
c.close()
sys.exit(3)
`;

describe('gadi-dask run', { concurrency: false }, () => {
  test('up and scale 1', async () => {
    await cluster.up();
    await cluster.scale({ jobs: 1 });
    const w = await cluster.waitForWorkers(1, { timeoutMs: 90_000 });
    assert.ok(w.done, JSON.stringify(w));
  });

  test('streams the output while the job runs, computes with Client(), exits with the script\'s status', async () => {
    const file = join(dir, 'compute.py');
    writeFileSync(file, SCRIPT);
    const secrets = [...keyMaterial(cdir()), 'PRIVATE KEY', 'BEGIN CERTIFICATE'];
    const live = startCli(['run', file, '--', 'a b', 'c']);
    // While it runs: every process's argv, as `ps -eo args` shows it, again and again.
    let done = false;
    const argvSeen: string[] = [];
    const watching = (async () => {
      while (!done) {
        for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
          try {
            argvSeen.push(readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' '));
          } catch {
            // gone meanwhile
          }
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const first = await until('the first line', async () => live.seen(/first line \['a b', 'c'\]/), { timeoutMs: 60_000, everyMs: 100 });
    // Read while the job is still running: PBS still has it R.
    const states = await runJobs();
    assert.deepEqual(Object.values(states), ['R'], JSON.stringify(states));
    const code = await live.exited;
    done = true;
    await watching;
    const result = live.seen(/result 6/);
    assert.equal(code, 3, live.stderr());
    assert.ok(result !== undefined, live.stdout());
    assert.ok(result - first >= 2500, `the first line came ${first} ms in, the result ${result} ms: streamed, not at the end`);
    assert.match(live.stdout(), /^first line \['a b', 'c'\]\nresult 6\n$/);
    assert.match(live.stderr(), /Submitted compute\.py as job \S+/);
    assert.deepEqual(Object.values(await runJobs()), ['F']);
    for (const args of argvSeen) {
      for (const s of secrets) assert.ok(!args.includes(s), `an argv shows ${s}: ${args.slice(0, 300)}`);
      assert.doesNotMatch(args, /DASK_DISTRIBUTED__COMM/);
    }
    // The run's files are private, and what the job exported is in its script (paths only), not in PBS's attributes.
    const runs = join(cdir(), 'runs');
    const [run] = readdirSync(runs);
    const script = readFileSync(join(runs, run, 'run.pbs'), 'utf8');
    assert.match(script, /^export DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY="\$HOME"\/.*tls-key\.pem$/m);
    const q = await t.exec('qstat -x -f $(qselect -x -u "$USER")', { timeoutMs: 60_000 });
    assert.doesNotMatch(q.stdout, /DASK_DISTRIBUTED__COMM|tls-key/);
    for (const s of secrets) assert.ok(!q.stdout.includes(s));
  });

  test('Ctrl-C cancels the job with qdel', async () => {
    const file = join(dir, 'long.py');
    writeFileSync(file, 'import time\nprint("waiting", flush=True)\ntime.sleep(300)\n');
    const live = startCli(['run', file]);
    await until('the job runs', async () => live.seen(/waiting/), { timeoutMs: 60_000, everyMs: 100 });
    const id = /as job (\S+?);/.exec(live.stderr())![1];
    live.kill('SIGINT');
    assert.equal(await live.exited, 130, live.stderr());
    assert.match(live.stderr(), new RegExp(`Cancelled job ${id.replace(/[.[\]]/g, '\\$&')}`));
    await until('PBS ends the job', async () => ((await runJobs())[id] === 'F' ? true : undefined), { timeoutMs: 60_000, everyMs: 1000 });
  });

  test('a dropped link mid-run: the output goes on from where it was, once, and the status still arrives', async () => {
    const file = join(dir, 'through.py');
    writeFileSync(file, 'import time\nprint("one")\ntime.sleep(6)\nprint("two")\n');
    const live = startCli(['run', file]);
    await until('the first line', async () => live.seen(/one/), { timeoutMs: 60_000, everyMs: 100 });
    assert.ok((await sb.killSessions()) > 0);
    assert.equal(await live.exited, 0, live.stderr());
    assert.equal(live.stdout(), 'one\ntwo\n');
    assert.match(live.stderr(), /connection dropped/i);
  });

  test('a file that does not exist: a clear message, nothing submitted', async () => {
    const before = Object.keys(await runJobs()).length;
    const r = await cliOverSsh(sb, ['run', join(dir, 'missing.py')], config, 60_000);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /missing\.py does not exist/);
    assert.equal(Object.keys(await runJobs()).length, before);
  });

  test('a cluster without a scheduler: refused before any job', async () => {
    await cluster.down();
    const file = join(dir, 'compute.py');
    const before = Object.keys(await runJobs()).length;
    const r = await cliOverSsh(sb, ['run', file], config, 120_000);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /no running scheduler.*up or scale/s);
    assert.equal(Object.keys(await runJobs()).length, before);
  });
});
