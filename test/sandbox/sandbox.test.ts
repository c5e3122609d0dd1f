// The sandbox, proved through ssh2 (what the product uses) against the real sshd it starts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Client, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import YAML from 'yaml';
import { clusterConfigSchema } from '../../src/core/config/schema';
import { renderJobScript } from '../../src/core/pbs/jobScript';
import { smallClusterYaml } from './clusterFixture';
import { isLoopback, listeningSockets, SANDBOX_DASHBOARD_ADDRESS, SANDBOX_DASK_INTERFACE, startSandbox, type Sandbox } from './sandbox';

const execFileAsync = promisify(execFile);
const BANNER = 'Welcome to the gadi-dask sandbox';
const PROFILE = 'export SANDBOX_PROFILE=from-start';

let sb: Sandbox;
let client: Client;
let firstStartMs = 0;

function connect(config: ConnectConfig): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.once('ready', () => resolve(c));
    c.once('error', reject);
    c.connect({ readyTimeout: 5000, ...config });
  });
}

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(c: Client, command: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    c.exec(command, (err, ch) => {
      if (err) return reject(err);
      let stdout = '';
      let stderr = '';
      let code: number | null = null;
      ch.on('data', (d: Buffer) => (stdout += d.toString()));
      ch.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      ch.on('exit', (c: number | null) => (code = c));
      ch.on('close', () => resolve({ code, stdout, stderr }));
    });
  });
}

// Login shell, as the product runs every remote command.
const login = (c: Client, script: string) => run(c, `bash -lc ${"'" + script.replace(/'/g, `'\\''`) + "'"}`);

function sftpOf(c: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => c.sftp((err, s) => (err ? reject(err) : resolve(s))));
}

const fingerprintOf = (blob: Buffer) => 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');

before(async () => {
  const t0 = Date.now();
  sb = await startSandbox({ loginBanner: BANNER, loginProfile: PROFILE, qdelLingerSeconds: 2 });
  firstStartMs = Date.now() - t0;
  client = await connect(sb.connectOptions());
});

after(async () => {
  client?.end();
  await sb?.stop();
});

test('exec: login shells find the PBS emulator and Debian python; exit code and stderr come back apart', async (t) => {
  t.diagnostic(`startSandbox took ${firstStartMs} ms`);
  const r = await login(client, 'command -v qsub qstat qdel; echo "$PATH"; command -v python3; echo "$SANDBOX_PROFILE"');
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  // The banner comes first, as login noise does on the cluster.
  assert.equal(lines[0], BANNER);
  const bin = path.join(sb.home, '.local/pbs/bin');
  assert.equal(sb.pbsBinDir, bin);
  assert.deepEqual(lines.slice(1, 4), ['qsub', 'qstat', 'qdel'].map((x) => path.join(bin, x)));
  // Test wrappers come first, then the PBS tools, then Debian's python.
  assert.match(lines[4]!, new RegExp(`^${sb.wrapBinDir}:${bin}:/usr/bin:`));
  assert.equal(lines[5], '/usr/bin/python3');
  // The loginProfile snippet ran in the login shell.
  assert.equal(lines[6], 'from-start');

  const mixed = await run(client, 'echo out; echo err >&2; exit 3');
  assert.deepEqual(mixed, { code: 3, stdout: 'out\n', stderr: 'err\n' });

  // Without a login shell the PBS tools are missing, as on the cluster: the product must use bash -l.
  const plain = await run(client, 'command -v qsub; echo "rc=$?"');
  assert.equal(plain.stdout, 'rc=1\n');
  assert.equal(plain.code, 0);
});

test('host key: what ssh2 is shown matches known_hosts and the reported fingerprint', async () => {
  let seen: Buffer | undefined;
  const c = await connect({
    host: sb.host,
    port: sb.port,
    username: sb.user,
    privateKey: sb.privateKey,
    hostVerifier: (key: Buffer) => {
      seen = key;
      return true;
    },
  });
  c.end();
  assert.ok(seen);
  const [hostField, type, b64, ...rest] = fs.readFileSync(sb.knownHostsPath, 'utf8').trim().split(/\s+/);
  assert.equal(hostField, `[127.0.0.1]:${sb.port}`);
  assert.equal(type, 'ssh-ed25519');
  assert.deepEqual(rest, []);
  assert.ok(seen.equals(Buffer.from(b64!, 'base64')));
  assert.equal(`${type} ${b64}`, sb.hostPublicKey);
  assert.equal(fingerprintOf(seen), sb.hostKeyFingerprintSha256);
  // OpenSSH's own reading of the file agrees.
  const { stdout } = await execFileAsync('ssh-keygen', ['-lf', sb.knownHostsPath]);
  assert.equal(stdout.split(' ')[1], sb.hostKeyFingerprintSha256);
  // The verifier handed to tests accepts that key only.
  const verify = sb.connectOptions().hostVerifier;
  assert.equal(verify(seen), true);
  assert.equal(verify(randomBytes(seen.length)), false);
});

test('ssh_config: the alias resolves, and OpenSSH logs in with it under strict host key checking', async () => {
  // ssh-config ships ESM types only, so a CommonJS test loads it dynamically.
  const { default: SSHConfig } = await import('ssh-config');
  const computed = SSHConfig.parse(fs.readFileSync(sb.sshConfigPath, 'utf8')).compute(sb.alias);
  assert.equal(computed.HostName, '127.0.0.1');
  assert.equal(computed.Port, String(sb.port));
  assert.equal(computed.User, sb.user);
  assert.deepEqual(computed.IdentityFile, [sb.privateKeyPath]);
  assert.equal(computed.UserKnownHostsFile, sb.knownHostsPath);
  const { stdout } = await execFileAsync('ssh', ['-F', sb.sshConfigPath, '-o', 'BatchMode=yes', sb.alias, 'id -un']);
  assert.equal(stdout, `${sb.user}\n`);
});

test('upload: a file sent over sftp reads back byte-equal and belongs to the user', async () => {
  const sftp = await sftpOf(client);
  const data = Buffer.concat([randomBytes(300_000), Buffer.from([0, 10, 13, 255])]);
  const remote = `${sb.home}/upload.bin`;
  await promisify(sftp.writeFile.bind(sftp))(remote, data);
  const back = (await promisify(sftp.readFile.bind(sftp))(remote)) as Buffer;
  sftp.end();
  assert.ok(back.equals(data));
  const st = fs.statSync(remote);
  assert.equal(st.uid, sb.uid);
  const sum = await run(client, `sha256sum ${remote}`);
  assert.equal(sum.stdout.split(' ')[0], createHash('sha256').update(data).digest('hex'));
});

test('forward: a Dask scheduler started over exec answers /health through a forwardOut tunnel', async () => {
  const file = `${sb.home}/scheduler.json`;
  const start = await run(
    client,
    `cd ~; rm -f ${file}; nohup /usr/bin/python3 -m distributed.cli.dask_scheduler --scheduler-file ${file} ` +
      `--host 127.0.0.1 --port 0 --dashboard-address 127.0.0.1:0 >scheduler.log 2>&1 </dev/null &`,
  );
  assert.equal(start.code, 0, start.stderr);

  // The scheduler writes the file once it listens; it may be caught half-written.
  const sftp = await sftpOf(client);
  const readFile = promisify(sftp.readFile.bind(sftp));
  let info: { address: string; services: { dashboard: number } } | undefined;
  const deadline = Date.now() + 15_000;
  while (!info) {
    try {
      info = JSON.parse(((await readFile(file)) as Buffer).toString());
    } catch {
      if (Date.now() > deadline) assert.fail(`no scheduler file; log:\n${fs.readFileSync(`${sb.home}/scheduler.log`, 'utf8')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  sftp.end();
  assert.match(info.address, /^tcp:\/\/127\.0\.0\.1:\d+$/);
  const dashboard = info.services.dashboard;
  assert.ok(dashboard > 0);

  const server = net.createServer((sock) => {
    client.forwardOut('127.0.0.1', 0, '127.0.0.1', dashboard, (err, ch) => {
      if (err) return sock.destroy(err);
      sock.pipe(ch).pipe(sock);
      sock.on('error', () => ch.close());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const localPort = (server.address() as net.AddressInfo).port;
  try {
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: localPort, path: '/health', agent: false }, (res) => {
          let b = '';
          res.on('data', (d) => (b += d));
          res.on('end', () => (res.statusCode === 200 ? resolve(b) : reject(new Error(`HTTP ${res.statusCode}: ${b}`))));
        })
        .on('error', reject);
    });
    assert.equal(body, 'ok');
  } finally {
    server.close();
  }
});

test('pbs: a job submitted over ssh runs as the user and shows in qstat -f -F json', async () => {
  const script = [
    '#!/bin/bash',
    '#PBS -N sbxjob',
    '#PBS -l walltime=00:05:00',
    '#PBS -l ncpus=1',
    'echo "$PBS_JOBID $(id -un)" > "$HOME/job-started"',
    'sleep 120',
    '',
  ].join('\n');
  const sftp = await sftpOf(client);
  await promisify(sftp.writeFile.bind(sftp))(`${sb.home}/job.sh`, script);
  const sub = await login(client, 'cd ~ && qsub job.sh');
  assert.equal(sub.code, 0, sub.stderr);
  // Login noise comes first; qsub's own output is the last line.
  const jobId = sub.stdout.trim().split('\n').pop()!;
  assert.match(jobId, /^\d+\.\S+$/);

  // The job's script really runs, as the user, with PBS's environment.
  const readFile = promisify(sftp.readFile.bind(sftp));
  let started = '';
  const deadline = Date.now() + 10_000;
  while (!started.endsWith('\n') && Date.now() < deadline) {
    started = await readFile(`${sb.home}/job-started`).then((b) => (b as Buffer).toString(), () => '');
    if (!started) await new Promise((r) => setTimeout(r, 50));
  }
  sftp.end();
  assert.equal(started, `${jobId} ${sb.user}\n`);

  const stat = await login(client, `qstat -f -F json ${jobId}`);
  assert.equal(stat.code, 0, stat.stderr);
  const json = JSON.parse(stat.stdout.slice(stat.stdout.indexOf('{'))) as {
    Jobs: Record<string, { Job_Name: string; Job_Owner: string; job_state: string }>;
  };
  const job = json.Jobs[jobId];
  assert.ok(job, `job ${jobId} missing from ${Object.keys(json.Jobs).join(', ')}`);
  assert.equal(job.Job_Name, 'sbxjob');
  assert.equal(job.job_state, 'R');
  assert.ok(job.Job_Owner.startsWith(`${sb.user}@`), job.Job_Owner);
});

test('loopback only: a scheduler and a worker job started as the test config says listen on 127.0.0.1, like sshd', async () => {
  // The scheduler with the tests' cluster config's interface and the sandbox's dashboard address, and a worker job
  // rendered from that config by the product's job-script renderer.
  const pbs = clusterConfigSchema.parse(YAML.parse(smallClusterYaml('loopback', sb.alias))).jobqueue.pbs;
  assert.equal(pbs.interface, SANDBOX_DASK_INTERFACE);
  const dir = `${sb.home}/loopback`;
  const schedulerFile = `${dir}/scheduler.json`;
  const start = await login(
    client,
    `mkdir -p ${dir}; cd ${dir}; nohup /usr/bin/python3 -m distributed.cli.dask_scheduler --scheduler-file ${schedulerFile} ` +
      `--interface ${pbs.interface} --port 0 --dashboard-address ${SANDBOX_DASHBOARD_ADDRESS} >scheduler.log 2>&1 </dev/null &`,
  );
  assert.equal(start.code, 0, start.stderr);
  const sftp = await sftpOf(client);
  await promisify(sftp.writeFile.bind(sftp))(`${dir}/worker.pbs`, renderJobScript(pbs, { schedulerFile }));
  sftp.end();
  for (let i = 0; i < 100 && !fs.existsSync(schedulerFile); i++) await new Promise((r) => setTimeout(r, 100));
  const sub = await login(client, `cd ${dir} && qsub worker.pbs`);
  assert.equal(sub.code, 0, sub.stderr);
  const joined = await login(
    client,
    `/usr/bin/python3 -c 'from distributed import Client; c = Client(scheduler_file="${schedulerFile}", timeout=30); ` +
      `c.wait_for_workers(1, timeout=30); print(len(c.scheduler_info()["workers"]))'`,
  );
  assert.equal(joined.stdout.trim().split('\n').pop(), '1', joined.stderr);

  const sockets = sb.listeningSockets();
  // Scheduler, its dashboard, the nanny and the worker at least (and the scheduler of the forward test).
  assert.ok(sockets.length >= 4, JSON.stringify(sockets));
  assert.deepEqual(sockets.filter((s) => !isLoopback(s.address)), [], 'every listening socket of the user is on loopback');
  const sshd = listeningSockets(0).filter((s) => s.port === sb.port);
  assert.deepEqual(sshd, [{ address: '127.0.0.1', port: sb.port }]);

  // The check sees a listener on every interface for what it is.
  const wide = await run(
    client,
    `nohup /usr/bin/python3 -c 'import socket, time; s = socket.socket(); s.bind(("0.0.0.0", 0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)' ` +
      `>${dir}/wide.port 2>&1 </dev/null & echo $!`,
  );
  const widePid = Number(wide.stdout.trim());
  try {
    let port = 0;
    for (let i = 0; i < 100 && !port; i++) {
      port = Number(fs.readFileSync(`${dir}/wide.port`, 'utf8').trim()) || 0;
      if (!port) await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(sb.listeningSockets().filter((s) => !isLoopback(s.address)), [{ address: '0.0.0.0', port }]);
  } finally {
    process.kill(widePid, 'SIGKILL');
  }
});

test('wrapCommand: a wrapper first on the login PATH stands in for a PBS command and can call the real one', async () => {
  assert.throws(() => sb.wrapCommand('../qsub', 'exit 0'), /bad command name/);
  assert.equal(sb.realCommand('qstat'), path.join(sb.pbsBinDir!, 'qstat'));
  assert.equal(sb.realCommand('python3'), '/usr/bin/python3');

  // A broken qstat: garbage and exit 0. No shebang given: bash is added.
  const wrapper = sb.wrapCommand('qstat', 'echo "garbage from a broken qstat"\nexit 0\n');
  assert.equal(wrapper, path.join(sb.wrapBinDir, 'qstat'));
  assert.equal(fs.statSync(wrapper).uid, sb.uid);
  const broken = await login(client, 'qstat -f -F json');
  assert.deepEqual(broken, { code: 0, stdout: `${BANNER}\ngarbage from a broken qstat\n`, stderr: '' });

  // A chatty qsub around the real one; the job it submits is real.
  sb.wrapCommand('qsub', `#!/bin/bash\nid=$(${sb.realCommand('qsub')} "$@") || exit\necho "Job submitted: $id"\n`);
  const sub = await login(client, 'cd ~ && echo "sleep 1" | qsub -N wrapped');
  assert.equal(sub.code, 0, sub.stderr);
  const id = /^Job submitted: (\d+\.gadi-pbs)$/m.exec(sub.stdout)?.[1];
  assert.ok(id, sub.stdout);

  sb.unwrapCommand('qstat');
  sb.unwrapCommand('qsub');
  // qdelLingerSeconds reaches the emulator: a deleted running job stays R for those 2 s.
  const long = await login(client, 'cd ~ && echo "sleep 60" | qsub -N lingers');
  const longId = long.stdout.trim().split('\n').pop()!;
  const deleted = await login(client, `qdel ${longId}; sleep 0.5; qstat ${longId} | tail -1`);
  assert.match(deleted.stdout, /\s+R\s+\S+\s*$/, deleted.stdout);
  const t0 = Date.now();
  while ((await login(client, `qstat ${longId}`)).code === 0 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 200));
  assert.equal((await login(client, `qstat ${longId}`)).code, 35, 'gone from the live list after the linger');
  sb.unwrapCommand('qsub'); // idempotent
  const real = await login(client, `command -v qsub qstat; qstat -x -f -F json ${id}`);
  assert.equal(real.code, 0, real.stderr);
  const [qsubPath, qstatPath] = real.stdout.split('\n').slice(1, 3);
  assert.deepEqual([qsubPath, qstatPath], [sb.realCommand('qsub'), sb.realCommand('qstat')]);
  const job = (JSON.parse(real.stdout.slice(real.stdout.indexOf('{'))) as { Jobs: Record<string, { Job_Name: string }> }).Jobs[id];
  assert.equal(job?.Job_Name, 'wrapped');
});

test('setLoginProfile: a snippet runs in every new login shell (a slow module profile), null removes it', async () => {
  sb.setLoginProfile('sleep 1\nexport SANDBOX_PROFILE=slow');
  const t0 = Date.now();
  const slow = await login(client, 'echo "$SANDBOX_PROFILE"');
  const ms = Date.now() - t0;
  assert.equal(slow.stdout, `${BANNER}\nslow\n`);
  assert.ok(ms >= 1000, `login took ${ms} ms`);
  sb.setLoginProfile(null);
  await assert.rejects(startSandbox({ user: 'gdbadlinger', qdelLingerSeconds: -1 }), /qdelLingerSeconds/);
  const plain = await login(client, 'echo "[$SANDBOX_PROFILE]"');
  assert.equal(plain.stdout, `${BANNER}\n[]\n`);
});

// A client whose link the test is about to break: errors are expected, so they are recorded, not thrown.
async function breakable(): Promise<{ c: Client; closed: Promise<void> }> {
  const c = await connect(sb.connectOptions());
  c.on('error', () => undefined);
  return { c, closed: new Promise((resolve) => c.once('close', () => resolve())) };
}

test('killSessions: every connection drops at once, the listener stays, commands left behind keep running', async () => {
  const a = await breakable();
  const b = await breakable();
  client.end();
  // One connection sits in a long command, as a scale does while qsub runs.
  const marker = `${sb.home}/left-behind`;
  const longRun = run(b.c, `sleep 2; touch ${marker}`).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 200));
  const listener = sb.sshdPid;
  const killed = await sb.killSessions();
  assert.ok(killed >= 4, `killed ${killed}`); // a privileged monitor and a user process per connection
  await Promise.all([a.closed, b.closed, longRun]);
  assert.equal(sb.sshdPid, listener);
  assert.ok(fs.existsSync(`/proc/${listener}`));
  assert.equal(await sb.killSessions(), 0);
  // The command whose channel died finishes on the server, as on a real link drop.
  await assert.doesNotReject(async () => {
    for (let i = 0; i < 100 && !fs.existsSync(marker); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(fs.existsSync(marker));
  });
  client = await connect(sb.connectOptions());
  assert.equal((await run(client, 'id -un')).stdout, `${sb.user}\n`);
});

test('stopSshd/startSshd: refused while stopped, open sessions live on, then the same port and host key', async () => {
  const open = await breakable();
  const before = sb.sshdPid;
  await sb.stopSshd();
  assert.equal(sb.sshdPid, 0);
  assert.equal(fs.existsSync(`/proc/${before}`), false);
  await sb.stopSshd(); // idempotent
  await assert.rejects(connect(sb.connectOptions()), /ECONNREFUSED/);
  assert.equal((await run(open.c, 'echo still here')).stdout, 'still here\n');

  await sb.startSshd();
  assert.ok(sb.sshdPid > 0 && sb.sshdPid !== before);
  await sb.startSshd(); // idempotent
  // connectOptions' verifier accepts only the sandbox's host key, so this proves the key is the same.
  const again = await connect(sb.connectOptions());
  assert.equal((await run(again, 'id -un')).stdout, `${sb.user}\n`);
  again.end();
  // Sessions of the old listener can still be killed.
  assert.ok((await sb.killSessions()) >= 2);
  await open.closed;
  client = await connect(sb.connectOptions());
});

test('stop: no process of the user and no sshd survive; a second stop is harmless', async (t) => {
  // The scheduler and the emulator's job are still running: stop() has something to kill.
  const running = spawnSync('pgrep', ['-a', '-u', sb.user], { encoding: 'utf8' });
  assert.equal(running.status, 0);
  assert.match(running.stdout, /dask_scheduler/);
  assert.match(running.stdout, /sleep 120/);
  assert.ok(fs.existsSync(`/proc/${sb.sshdPid}`));

  const t0 = Date.now();
  await sb.stop();
  const stopMs = Date.now() - t0;
  const left = spawnSync('pgrep', ['-a', '-u', sb.user], { encoding: 'utf8' });
  assert.equal(left.status, 1, `still running:\n${left.stdout}`);
  assert.equal(fs.existsSync(`/proc/${sb.sshdPid}`), false);
  const sshdLeft = spawnSync('pgrep', ['-f', sb.stateDir], { encoding: 'utf8' });
  assert.equal(sshdLeft.status, 1, `sshd left:\n${sshdLeft.stdout}`);
  assert.equal(fs.existsSync(sb.stateDir), false);
  await assert.rejects(
    new Promise((resolve, reject) => net.connect(sb.port, '127.0.0.1').once('connect', resolve).once('error', reject)),
    /ECONNREFUSED/,
  );
  await sb.stop();
  t.diagnostic(`stop took ${stopMs} ms`);
});

test('restart: the same user comes back quickly with a fresh home and fresh keys', async (t) => {
  const old = sb;
  const t0 = Date.now();
  sb = await startSandbox();
  const ms = Date.now() - t0;
  t.diagnostic(`startSandbox with the user already there took ${ms} ms`);
  assert.ok(ms < 2000, `took ${ms} ms`);
  assert.equal(sb.user, old.user);
  assert.notEqual(sb.hostKeyFingerprintSha256, old.hostKeyFingerprintSha256);
  assert.equal(fs.existsSync(`${sb.home}/upload.bin`), false);
  assert.equal(fs.existsSync(sb.pbsStateDir), false);
  // The old client key no longer opens the account; the new one does.
  await assert.rejects(connect({ ...sb.connectOptions(), privateKey: old.privateKey }), /authentication/i);
  const c = await connect(sb.connectOptions());
  const r = await run(c, 'id -un');
  c.end();
  assert.equal(r.stdout, `${sb.user}\n`);
});
