// placement: persistent-session through the real sshd, the emulator's persistent-sessions stand-in (its own sshd on
// another loopback address, reached from the login account by the nested ssh Gadi sets up) and real Dask: the
// session is started once, the scheduler runs there with no walltime and outlives the walltime a scheduler job
// would have had, workers and a client connect to it, and down stops the scheduler but never the session.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliOverSsh, connectClient, runAs, smallClusterYaml } from './clusterFixture';
import { isLoopback, SANDBOX_SESSION_ADDRESS, startSandbox, type Sandbox } from './sandbox';

const USER = 'gdsession';
const NAME = 'insession';
const SESSION = 'dask-ps';
const PROJECT = 'ab12';
// The walltime a scheduler job of this config would have had (it defaults to the workers').
const WALLTIME_SECONDS = 40;

let sb: Sandbox;
let dir: string;
let config: string;

const sessionConfig = (session: string) => smallClusterYaml(NAME, 'gadi-sandbox', `scheduler:
  placement: persistent-session
  session: {name: '${session}', project: ${PROJECT}}
`).replace("walltime: '00:20:00'", `walltime: '00:00:${WALLTIME_SECONDS}'`);

before(async () => {
  sb = await startSandbox({ user: USER });
  dir = mkdtempSync(join(tmpdir(), 'persistent-session-'));
  config = join(dir, `${NAME}.dask-cluster.yaml`);
  writeFileSync(config, sessionConfig(SESSION));
});

after(async () => {
  if (sb) await cliOverSsh(sb, ['down'], config, 120_000);
  await sb?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const sessionsDir = () => join(sb.pbsStateDir, 'sessions');
const sessionSshdPid = () => Number(readFileSync(join(sessionsDir(), 'sshd.pid'), 'utf8'));
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
// The session's sshd logs each login it accepts.
const sessionLogins = () => (readFileSync(join(sessionsDir(), 'sshd.log'), 'utf8').match(/Accepted publickey/g) ?? []).length;
const runtimeJson = () => JSON.parse(readFileSync(join(sb.home, '.gadi-dask', 'clusters', NAME, 'runtime.json'), 'utf8')) as Record<string, unknown>;
const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');

describe('placement: persistent-session', { concurrency: false }, () => {
  let upAt = 0;
  let schedulerPid = 0;

  test('up starts the session and the scheduler in it, reached through the session\'s own sshd', async () => {
    upAt = Date.now();
    const up = await cliOverSsh(sb, ['up'], config, 180_000);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /^Scheduler running at tls:\/\/127\.0\.0\.1:\d+ \(persistent session dask-ps\)$/m);
    assert.match(up.stderr, new RegExp(`Started the persistent session ${SESSION} \\(${SESSION}\\.${USER}\\.${PROJECT}\\.ps\\.gadi\\.nci\\.org\\.au\\)`));
    const meta = runtimeJson();
    assert.equal(meta.placement, 'persistent-session');
    assert.equal(meta.pbsJobId, null, 'no PBS job runs the scheduler');
    schedulerPid = Number(meta.pid);
    assert.ok(alive(schedulerPid));
    // The session's sshd started it: its connection's server end is the session's address, and no PBS job is around it.
    const env = environ(schedulerPid);
    const connection = env.find((e) => e.startsWith('SSH_CONNECTION='))?.split(' ');
    assert.equal(connection?.[2], SANDBOX_SESSION_ADDRESS, `SSH_CONNECTION of the scheduler: ${connection?.join(' ')}`);
    assert.ok(!env.some((e) => e.startsWith('PBS_JOBID=')));
    assert.ok(alive(sessionSshdPid()));
    for (const s of sb.listeningSockets()) assert.ok(isLoopback(s.address), `${s.address}:${s.port} is not loopback`);
  });

  test('a second up reuses the running session and scheduler', async () => {
    const sshd = sessionSshdPid();
    const up = await cliOverSsh(sb, ['up'], config, 120_000);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /^Scheduler already running at tls:/m);
    assert.doesNotMatch(up.stderr, /Started the persistent session/);
    assert.equal(sessionSshdPid(), sshd);
    assert.equal(Number(runtimeJson().pid), schedulerPid);
  });

  test('scale 1 --wait gets a worker that joins the session\'s scheduler, and a client connects to it', async () => {
    const scale = await cliOverSsh(sb, ['scale', '1', '--wait'], config, 180_000);
    assert.equal(scale.code, 0, scale.stderr);
    assert.match(scale.stdout, /^Workers: 1\/1 workers? connected$/m);
    const client = await runAs(sb, ['/usr/bin/python3', '-c', `${connectClient(NAME)}print(c.submit(lambda x: x + 1, 41).result(timeout=60))\nc.close()\n`]);
    assert.equal(client.code, 0, client.stderr);
    assert.equal(client.stdout.trim(), '42');
  });

  test('the scheduler outlives the walltime a scheduler job would have had', async () => {
    const wait = upAt + (WALLTIME_SECONDS + 10) * 1000 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const status = await cliOverSsh(sb, ['status'], config, 120_000);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /scheduler running at tls:\/\/\S+ \(persistent session dask-ps, dask-ps\.gdsession\.ab12\.ps\.gadi\.nci\.org\.au\)/);
    assert.ok(alive(schedulerPid), 'the same scheduler process runs');
    // The first worker's job has reached its walltime; a new one joins the same scheduler, and so does a client.
    const scale = await cliOverSsh(sb, ['scale', '1', '--wait'], config, 180_000);
    assert.equal(scale.code, 0, scale.stderr);
    assert.match(scale.stdout, /^Workers: 1\/1 workers? connected$/m);
    const client = await runAs(sb, ['/usr/bin/python3', '-c', `${connectClient(NAME)}print(c.submit(sum, [1, 2]).result(timeout=60))\nc.close()\n`]);
    assert.equal(client.code, 0, client.stderr);
    assert.equal(client.stdout.trim(), '3');
  });

  test('down stops the scheduler in the session, leaves the session running and says so', async () => {
    const sshd = sessionSshdPid();
    const logins = sessionLogins();
    const down = await cliOverSsh(sb, ['down'], config, 180_000);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /^Scheduler stopped$/m);
    assert.match(down.stdout, /The persistent session dask-ps \(dask-ps\.gdsession\.ab12\.ps\.gadi\.nci\.org\.au\) is still running/);
    assert.ok(!alive(schedulerPid), 'the scheduler stopped');
    assert.ok(sessionLogins() > logins, 'the scheduler was stopped from inside the session, where its process is');
    assert.ok(alive(sshd), 'the session\'s sshd runs on');
    assert.ok(existsSync(join(sessionsDir(), `${SESSION}.json`)));
    // And the next up finds the session there and starts a new scheduler in it.
    const up = await cliOverSsh(sb, ['up'], config, 180_000);
    assert.equal(up.code, 0, up.stderr);
    assert.doesNotMatch(up.stderr, /Started the persistent session/);
    assert.match(up.stdout, /\(persistent session dask-ps\)/);
  });

  test('a session name that could reach a shell is refused before anything runs', async () => {
    const bad = join(dir, 'bad.dask-cluster.yaml');
    writeFileSync(bad, sessionConfig("x;touch $HOME/pwned"));
    const up = await cliOverSsh(sb, ['up'], bad, 60_000);
    assert.notEqual(up.code, 0);
    assert.match(up.stderr, /persistent session's name starts with a letter/);
    assert.ok(!existsSync(join(sb.home, 'pwned')));
  });
});
