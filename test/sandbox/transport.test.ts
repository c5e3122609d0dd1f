// Both transports against real parts: the ssh one through the sandbox's sshd (its ssh_config alias, its login
// shell), the local one on this machine. The shared contract runs against each; then what only ssh has: host keys,
// connection reuse, tunnels, dropped links, keepalives, ProxyJump and refused keys.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthError, ConnectionError, HostKeyError, OutputLimitError, RemoteFileError, TimeoutError } from '../../src/core/remote/errors';
import { KnownHosts } from '../../src/core/remote/knownHosts';
import { LocalTransport } from '../../src/core/remote/localTransport';
import type { SecretKind, SshPrompt } from '../../src/core/remote/prompt';
import { SshTransportPool, type SshTransportOptions } from '../../src/core/remote/sshTransport';
import type { StateChange, Transport, TransportLogger } from '../../src/core/remote/transport';
import { startSandbox, type Sandbox } from './sandbox';
import { until as poll } from '../fixtures/poll';

const BANNER = 'Welcome to the transport sandbox';
const USER = 'gdtransport'; // our own sandbox user, so this file never waits for another file's sandbox

let sb: Sandbox;
let work: string;
const pools: SshTransportPool[] = [];

class CountingPrompt implements SshPrompt {
  readonly secrets: SecretKind[] = [];
  readonly hostKeys: Array<[string, string, string]> = [];
  constructor(private readonly acceptHostKey = false) {}
  async askSecret(_message: string, kind: SecretKind): Promise<string | undefined> {
    this.secrets.push(kind);
    return undefined;
  }
  async confirmHostKey(host: string, fingerprint: string, keyType: string): Promise<boolean> {
    this.hostKeys.push([host, fingerprint, keyType]);
    return this.acceptHostKey;
  }
}

const quiet: TransportLogger = { debug() {}, info() {}, warn() {} };

function sshPool(prompt: SshPrompt = new CountingPrompt(), extra: Partial<SshTransportOptions> = {}, configFile = sb.sshConfigPath): SshTransportPool {
  const p = new SshTransportPool({ prompt, logger: quiet, agent: null, sshConfig: { configFile, systemConfigFile: null }, ...extra });
  pools.push(p);
  return p;
}

/** A config that puts `lines` under the sandbox alias in front of the sandbox's own file (first value wins). */
function configOverriding(lines: string[], extraHosts = ''): string {
  const file = join(work, `ssh_config_${randomBytes(4).toString('hex')}`);
  writeFileSync(file, [`Host ${sb.alias}`, ...lines.map((l) => `  ${l}`), extraHosts, `Include ${sb.sshConfigPath}`, ''].join('\n'));
  return file;
}

function record(t: Transport): StateChange[] {
  const seen: StateChange[] = [];
  t.onStateChange((c) => seen.push(c));
  return seen;
}

/** The user-owned sshd process of each live connection (the one that runs the session). */
function sessionSshdPids(): number[] {
  const r = spawnSync('pgrep', ['-u', USER, '-x', 'sshd'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

const waitFor = (cond: () => boolean, what: string, timeoutMs = 10_000) => poll(what, cond, { timeoutMs, everyMs: 10 });

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'transport-sandbox-'));
  sb = await startSandbox({ user: USER, loginBanner: BANNER, pbsEmulatorDir: null });
});

after(async () => {
  await Promise.all(pools.map((p) => p.close()));
  await sb?.stop();
  rmSync(work, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------------
// The contract both transports keep.

function contract(name: string, open: () => { transport: Transport; home: string; cleanup?: () => void }): void {
  describe(`${name} transport`, () => {
    let t: Transport;
    let home: string;
    let cleanup: (() => void) | undefined;
    before(() => ({ transport: t, home, cleanup } = open()));
    after(async () => {
      await t?.close();
      cleanup?.();
    });

    test('exec runs a login shell in the home directory; exit code, stdout and stderr come back apart', async () => {
      const r = await t.exec('pwd; echo to-stderr >&2; exit 3');
      assert.equal(r.code, 3);
      assert.equal(r.stdout, `${BANNER}\n${home}\n`, 'the login profile ran (its banner) and we start at home');
      assert.equal(r.stderr, 'to-stderr\n');
    });

    test('stdin reaches the command byte for byte', async () => {
      const data = randomBytes(4096);
      const r = await t.exec('sha256sum | cut -d" " -f1', { stdin: data });
      assert.equal(r.stdout.split('\n').at(-2), execFileSync('sha256sum', { input: data, encoding: 'utf8' }).split(' ')[0]);
    });

    test('a timeout rejects with TimeoutError, the command and its children are killed, the transport stays usable', async () => {
      const started = Date.now();
      const err = await t.exec('sleep 20 & echo $! > timeout.pid; echo before; wait', { timeoutMs: 500 }).catch((e: unknown) => e);
      assert.ok(err instanceof TimeoutError, String(err));
      assert.ok(err.stdout.endsWith('before\n'));
      assert.ok(Date.now() - started < 2000, 'the caller is not kept waiting');
      let alive = true;
      for (let i = 0; i < 50 && alive; i++) {
        // A killed process may linger as a zombie until its new parent reaps it; that counts as gone.
        alive = (await t.exec('case "$(ps -o stat= -p "$(cat timeout.pid)")" in ""|Z*) echo gone;; *) echo alive;; esac')).stdout.endsWith('alive\n');
        if (alive) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(alive, false, 'the background sleep was killed');
    });

    test('25 concurrent commands all complete, at most 10 at a time over one connection', async () => {
      const dir = `running-${randomBytes(3).toString('hex')}`;
      await t.exec(`mkdir -p ${dir}`);
      const results = await Promise.all(
        Array.from({ length: 25 }, (_, i) => t.exec(`touch ${dir}/${i}; ls ${dir} | wc -l; sleep 0.3; rm ${dir}/${i}`)),
      );
      assert.deepEqual(results.map((r) => r.code), Array(25).fill(0));
      const seen = results.map((r) => Number(r.stdout.trim().split('\n').at(-1)));
      assert.ok(Math.max(...seen) >= 2, 'commands ran in parallel');
      if (t.host === sb.alias) assert.ok(Math.max(...seen) <= 10, `at most 10 sessions, saw ${Math.max(...seen)}`);
    });

    test('upload lands atomically with its mode, creating directories; readFile returns the same bytes', async () => {
      const data = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(300_000)]);
      await t.upload(data, '~/deploy/v1/blob.bin', 0o640);
      assert.ok((await t.readFile('deploy/v1/blob.bin')).equals(data));
      assert.ok((await t.readFile(`${home}/deploy/v1/blob.bin`)).equals(data));
      const ls = await t.exec('stat -c "%a %s" deploy/v1/blob.bin; ls -A deploy/v1');
      assert.deepEqual(ls.stdout.split('\n').slice(-3), [`640 ${data.length}`, 'blob.bin', ''], 'mode, size, and no temporary file left');
      await t.upload('replaced\n', 'deploy/v1/blob.bin');
      assert.equal((await t.readFile('deploy/v1/blob.bin')).toString(), 'replaced\n');
    });

    test('a reader never sees a half-written upload', async () => {
      const size = 512 * 1024;
      await t.upload(Buffer.alloc(size, 'a'), 'atomic.bin');
      await t.exec('rm -f atomic.done atomic.watching');
      const watcher = t.exec(
        `touch atomic.watching; end=$((SECONDS+20)); n=0; bad=0; while [ $SECONDS -lt $end ] && [ ! -e atomic.done ]; do ` +
          `s=$(stat -c %s atomic.bin); [ "$s" = ${size} ] || bad=$((bad+1)); n=$((n+1)); done; echo "$n $bad"`,
      );
      // On a loaded machine the watcher's login shell may start late: upload only once it reads.
      await poll('the watcher to start', async () => ((await t.exec('test -e atomic.watching')).code === 0 ? true : undefined), { timeoutMs: 20_000, everyMs: 50 });
      for (let i = 0; i < 8; i++) await t.upload(Buffer.alloc(size, i % 2 ? 'a' : 'b'), 'atomic.bin');
      await t.upload('', 'atomic.done');
      const [reads, bad] = (await watcher).stdout.trim().split('\n').at(-1)!.split(' ').map(Number);
      assert.ok(reads > 0);
      assert.equal(bad, 0);
    });

    test('output past maxOutputBytes kills the command and rejects with OutputLimitError; the transport stays usable', async () => {
      const err = await t.exec('head -c 3000000 /dev/zero; echo unreachable >&2; sleep 20', { maxOutputBytes: 1_000_000 }).catch((e: unknown) => e);
      assert.ok(err instanceof OutputLimitError, String(err));
      assert.match(err.message, /remote output exceeded 1000000 bytes/);
      assert.equal(new OutputLimitError('x', 64 * 2 ** 20).message, 'x: remote output exceeded 64 MiB; the command was stopped.');
      assert.equal((await t.exec('echo ok')).stdout.endsWith('ok\n'), true);
    });

    test('spawn: a line-by-line round trip through stdin and stdout, in the login shell; end() lets it exit', async () => {
      const p = await t.spawn('echo "ready $PWD"; while read -r line; do echo "got:$line"; done; echo bye >&2; exit 4');
      const lines: string[] = [];
      let pending = '';
      let stderr = '';
      p.onStdout((c) => {
        pending += c.toString('utf8');
        const parts = pending.split('\n');
        pending = parts.pop()!;
        lines.push(...parts);
      });
      p.onStderr((c) => (stderr += c.toString('utf8')));
      await waitFor(() => lines.includes(`ready ${home}`), 'the login shell started in the home directory');
      assert.equal(lines[0], BANNER, 'the login profile ran first');
      for (const word of ['one', 'two', 'three']) {
        p.write(`${word}\n`);
        await waitFor(() => lines.at(-1) === `got:${word}`, `the answer to ${word}`);
      }
      p.end();
      const exit = await p.exited;
      assert.deepEqual(exit, { code: 4 });
      assert.equal(stderr, 'bye\n');
    });

    test('spawn: kill() settles exited, and a spawned process past maxOutputBytes is stopped with OutputLimitError', async () => {
      const p = await t.spawn('cat');
      p.kill();
      const exit = await p.exited;
      assert.equal(exit.code, null);
      const loud = await t.spawn('head -c 2000000 /dev/zero; sleep 20', { maxOutputBytes: 100_000 });
      let got = 0;
      loud.onStdout((c) => (got += c.length));
      const e2 = await loud.exited;
      assert.ok(e2.error instanceof OutputLimitError, String(e2.error));
      assert.ok(got <= 100_000, `delivered ${got} bytes`);
      assert.equal((await t.exec('echo still')).code, 0);
    });

    test('reading a missing file is a RemoteFileError with ENOENT', async () => {
      const err = await t.readFile('no/such/file').catch((e: unknown) => e);
      assert.ok(err instanceof RemoteFileError, String(err));
      assert.equal(err.code, 'ENOENT');
    });
  });
}

contract('ssh', () => ({ transport: sshPool().open(sb.alias), home: sb.home }));
contract('local', () => {
  const home = mkdtempSync(join(tmpdir(), 'transport-local-home-'));
  writeFileSync(join(home, '.bash_profile'), `printf '%s\\n' '${BANNER}'\n`);
  const transport = new LocalTransport({ home, env: { ...process.env, HOME: home } });
  return { transport, home, cleanup: () => rmSync(home, { recursive: true, force: true }) };
});

// ---------------------------------------------------------------------------------------------------------------
// ssh only.

describe('ssh transport', () => {
  // Every test closes what it opened, so a later one counting sshd sessions sees only its own.
  afterEach(() => Promise.all(pools.splice(0).map((p) => p.close())));

  test('connects through the ssh_config alias, silently with a known host key, and reports its states', async () => {
    const prompt = new CountingPrompt();
    const t = sshPool(prompt).open(sb.alias);
    const seen = record(t);
    assert.equal(t.state, 'idle');
    await t.connect();
    assert.deepEqual(seen.map((s) => s.state), ['connecting', 'connected']);
    assert.equal(t.host, sb.alias);
    assert.equal(t.resolved.hostName, '127.0.0.1');
    assert.equal(t.resolved.port, sb.port);
    assert.equal(t.resolved.user, sb.user);
    assert.deepEqual(prompt.hostKeys, []);
    assert.deepEqual(prompt.secrets, []);
    assert.equal((await t.exec('whoami')).stdout.split('\n').at(-2), sb.user);
  });

  test('handles for the same destination share one connection; closing one keeps the other working', async () => {
    const pool = sshPool();
    const a = pool.open(sb.alias);
    const b = pool.open(`${sb.user}@${sb.alias}`);
    const [ra, rb] = await Promise.all([a.exec('echo $SSH_CONNECTION'), b.exec('echo $SSH_CONNECTION')]);
    assert.equal(ra.stdout, rb.stdout, 'same client port: same TCP connection');
    await a.close();
    assert.equal(a.state, 'closed');
    await assert.rejects(a.exec('true'), ConnectionError);
    assert.equal((await b.exec('echo $SSH_CONNECTION')).stdout, rb.stdout);
  });

  test('forward serves a local port that reaches a server on the remote side', async () => {
    const t = sshPool().open(sb.alias);
    const port = await freePort();
    const content = `served ${randomBytes(8).toString('hex')}\n`;
    await t.upload(content, 'www/hello.txt');
    await t.exec(`cd www; nohup /usr/bin/python3 -m http.server ${port} --bind 127.0.0.1 >../http.log 2>&1 </dev/null &`);
    const fwd = await t.forward('127.0.0.1', port);
    try {
      assert.notEqual(fwd.localPort, port);
      let res: { status: number; body: string } | undefined;
      for (let i = 0; i < 100 && !res; i++) {
        res = await httpGet(fwd.localPort, '/hello.txt').catch(() => undefined);
        if (!res) await new Promise((r) => setTimeout(r, 50));
      }
      assert.deepEqual(res, { status: 200, body: content });
      const many = await Promise.all(Array.from({ length: 15 }, () => httpGet(fwd.localPort, '/hello.txt')));
      assert.ok(many.every((r) => r.body === content), 'tunnels are not sessions: 15 at once pass');
    } finally {
      await fwd.close();
      await t.exec(`pkill -u ${sb.user} -f 'http.server ${port}'`);
    }
    await assert.rejects(httpGet(fwd.localPort, '/hello.txt'), 'closed tunnels stop listening');
  });

  test('a tunnel to a port where nothing listens closes that connection and stays up', async () => {
    const t = sshPool().open(sb.alias);
    const fwd = await t.forward('127.0.0.1', await freePort());
    try {
      const data = await new Promise<string>((resolve, reject) => {
        const s = connect(fwd.localPort, '127.0.0.1');
        let got = '';
        s.on('data', (d: Buffer) => (got += d));
        s.on('close', () => resolve(got));
        s.on('error', reject);
      });
      assert.equal(data, '');
      assert.equal((await t.exec('echo still-fine')).code, 0);
    } finally {
      await fwd.close();
    }
  });

  test('unknown host key: the prompt shows the exact fingerprint; refusing is a HostKeyError and saves nothing', async () => {
    const knownHosts = join(work, 'kh-refuse');
    const prompt = new CountingPrompt(false);
    const t = sshPool(prompt, {}, configOverriding(['StrictHostKeyChecking ask', `UserKnownHostsFile ${knownHosts}`])).open(sb.alias);
    const err = await t.connect().catch((e: unknown) => e);
    assert.ok(err instanceof HostKeyError, String(err));
    assert.equal(err.problem, 'unknown');
    assert.deepEqual(prompt.hostKeys, [[`[127.0.0.1]:${sb.port}`, sb.hostKeyFingerprintSha256, 'ssh-ed25519']]);
    assert.equal(t.state, 'failed');
    assert.throws(() => readFileSync(knownHosts), /ENOENT/);
  });

  test('unknown host key accepted: appended hashed to known_hosts, and the next connection asks nothing', async () => {
    const knownHosts = join(work, 'kh-accept');
    const config = configOverriding(['StrictHostKeyChecking ask', `UserKnownHostsFile ${knownHosts}`]);
    const first = new CountingPrompt(true);
    await sshPool(first, {}, config).open(sb.alias).connect();
    assert.equal(first.hostKeys.length, 1);
    assert.equal(first.hostKeys[0][1], sb.hostKeyFingerprintSha256);
    const text = readFileSync(knownHosts, 'utf8');
    assert.match(text, /^\|1\|\S+ ssh-ed25519 \S+\n$/);
    assert.ok(text.includes(sb.hostPublicKey.split(' ')[1]));
    assert.equal(spawnSync('ssh-keygen', ['-F', `[127.0.0.1]:${sb.port}`, '-f', knownHosts]).status, 0, 'OpenSSH finds the entry');
    const blob = Buffer.from(sb.hostPublicKey.split(' ')[1], 'base64');
    assert.equal(KnownHosts.load([knownHosts]).verify('127.0.0.1', sb.port, 'ssh-ed25519', blob), 'ok');

    const second = new CountingPrompt(false);
    const t2 = sshPool(second, {}, config).open(sb.alias);
    assert.equal((await t2.exec('echo ok')).code, 0);
    assert.deepEqual(second.hostKeys, []);
  });

  test('StrictHostKeyChecking yes refuses an unknown key without asking', async () => {
    const prompt = new CountingPrompt(true);
    const t = sshPool(prompt, { knownHostsFiles: [join(work, 'kh-empty')] }).open(sb.alias);
    const err = await t.connect().catch((e: unknown) => e);
    assert.ok(err instanceof HostKeyError && err.problem === 'unknown', String(err));
    assert.match(err.message, /StrictHostKeyChecking/);
    assert.deepEqual(prompt.hostKeys, []);
  });

  test('a changed host key is refused without asking, naming the known_hosts file and line', async () => {
    const knownHosts = join(work, 'kh-changed');
    const other = join(work, 'other_host_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const otherLine = readFileSync(`${other}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    const before = `# managed by hand\n[127.0.0.1]:${sb.port} ${otherLine}\n`;
    writeFileSync(knownHosts, before);
    const prompt = new CountingPrompt(true);
    const t = sshPool(prompt, {}, configOverriding(['StrictHostKeyChecking ask', `UserKnownHostsFile ${knownHosts}`])).open(sb.alias);
    const err = await t.exec('true').catch((e: unknown) => e);
    assert.ok(err instanceof HostKeyError, String(err));
    assert.equal(err.problem, 'changed');
    assert.equal(err.knownHostsFile, knownHosts);
    assert.equal(err.knownHostsLine, 2);
    assert.ok(err.message.includes(`${knownHosts}:2`) && err.message.includes(sb.hostKeyFingerprintSha256), err.message);
    assert.ok(err.message.includes(`ssh-keygen -R '[127.0.0.1]:${sb.port}' -f '${knownHosts}'`), err.message);
    assert.deepEqual(prompt.hostKeys, []);
    assert.equal(readFileSync(knownHosts, 'utf8'), before);
    await assert.rejects(t.exec('true'), HostKeyError, 'and nothing reconnects by itself');
  });

  test('a dropped link reconnects for the next command; a command cut off by the drop is reported, not retried', async () => {
    const pool = sshPool();
    const t = pool.open(sb.alias);
    const seen = record(t);
    const firstConnection = (await t.exec('echo $SSH_CONNECTION')).stdout;
    const running = t.exec('sleep 30; echo finished');
    await new Promise((r) => setTimeout(r, 300));
    const pids = sessionSshdPids();
    assert.ok(pids.length >= 1);
    for (const pid of pids) process.kill(pid, 'SIGKILL');

    const err = await running.catch((e: unknown) => e);
    assert.ok(err instanceof ConnectionError, String(err));
    assert.match(err.message, /may or may not have completed/);
    const after = await t.exec('echo $SSH_CONNECTION');
    assert.equal(after.code, 0);
    assert.notEqual(after.stdout, firstConnection, 'a new TCP connection');
    const states = seen.map((s) => s.state);
    assert.deepEqual(states.slice(0, 2), ['connecting', 'connected']);
    assert.ok(states.includes('reconnecting'));
    assert.equal(states.at(-1), 'connected');
  });

  test('keepalives notice a link that went silent, and the transport reconnects', async () => {
    const t = sshPool(new CountingPrompt(), { keepaliveIntervalMs: 200 }).open(sb.alias);
    const seen = record(t);
    const before = sessionSshdPids();
    await t.connect();
    const mine = sessionSshdPids().filter((p) => !before.includes(p));
    assert.equal(mine.length, 1);
    process.kill(mine[0], 'SIGSTOP'); // the connection stays open but nothing answers
    try {
      await waitFor(() => seen.some((s) => s.state === 'reconnecting'), 'the keepalive to give up', 5000);
      assert.equal((await t.exec('echo back')).code, 0);
    } finally {
      process.kill(mine[0], 'SIGKILL');
    }
  });

  test('ProxyJump through a chain of two hops reaches the target', async () => {
    const config = configOverriding(
      [],
      [
        'Host jumped',
        '  HostName 127.0.0.1',
        `  Port ${sb.port}`,
        `  User ${sb.user}`,
        `  IdentityFile ${sb.privateKeyPath}`,
        `  UserKnownHostsFile ${sb.knownHostsPath}`,
        `  ProxyJump ${sb.alias},${sb.alias}`,
      ].join('\n'),
    );
    const infos: string[] = [];
    const pool = sshPool(new CountingPrompt(), { logger: { debug() {}, info: (m) => infos.push(m), warn() {} } }, config);
    const before = sessionSshdPids();
    const t = pool.open('jumped');
    assert.deepEqual(t.resolved.proxyJump.map((h) => h.alias), [sb.alias, sb.alias]);
    assert.equal((await t.exec('echo through')).stdout.split('\n').at(-2), 'through');
    const added = sessionSshdPids().filter((p) => !before.includes(p));
    assert.equal(added.length, 3, 'two hops and the target: three new sshd sessions');
    assert.ok(infos.some((m) => m.includes(`via ${sb.alias}, ${sb.alias}`)), infos.join('\n'));
  });

  test('a key the server does not accept is an AuthError once, with no retry loop', async () => {
    const wrong = join(work, 'wrong_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', wrong]);
    const prompt = new CountingPrompt();
    const t = sshPool(prompt, { identityFiles: [wrong] }).open(sb.alias);
    const seen = record(t);
    const err = await t.exec('true').catch((e: unknown) => e);
    assert.ok(err instanceof AuthError, String(err));
    assert.match(err.message, new RegExp(`Permission denied for ${sb.user}@127\\.0\\.0\\.1:${sb.port}`));
    assert.ok(err.message.includes('wrong_key') && err.message.includes('authorized_keys'), err.message);
    assert.equal(t.state, 'failed');
    await new Promise((r) => setTimeout(r, 1500));
    await assert.rejects(t.exec('true'), AuthError);
    assert.equal(seen.filter((s) => s.state === 'connecting').length, 1, 'one attempt, however long we wait or ask');
    await assert.rejects(t.reconnect(), AuthError);
    assert.equal(seen.filter((s) => s.state === 'connecting').length, 2, 'reconnect() tries exactly once more');
  });

  test('a ProxyCommand in the config is refused with advice, not ignored', () => {
    const config = configOverriding([], 'Host proxied\n  ProxyCommand nc %h %p\n');
    assert.throws(() => sshPool(new CountingPrompt(), {}, config).open('proxied'), /ProxyJump/);
  });

  test('600 MB of output: a clear OutputLimitError at the default 64 MiB, and this process stays under 300 MB', async () => {
    const t = sshPool().open(sb.alias);
    await t.exec('true');
    let peak = process.memoryUsage().rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    try {
      const err = await t.exec('head -c 600000000 /dev/zero').catch((e: unknown) => e);
      assert.ok(err instanceof OutputLimitError, String(err));
      assert.match(err.message, /remote output exceeded 64 MiB/);
    } finally {
      clearInterval(sampler);
    }
    assert.ok(peak < 300 * 2 ** 20, `peak RSS ${(peak / 2 ** 20).toFixed(0)} MB`);
    assert.equal((await t.exec('echo ok')).code, 0, 'the connection is still usable');
  });

  test('spawn: killing the sshd session settles exited with a ConnectionError promptly', async () => {
    const t = sshPool().open(sb.alias);
    const p = await t.spawn('cat');
    let echoed = '';
    p.onStdout((c) => (echoed += c.toString('utf8')));
    p.write('ping\n');
    await waitFor(() => echoed.endsWith('ping\n'), 'the echo');
    for (const pid of sessionSshdPids()) process.kill(pid, 'SIGKILL');
    const started = Date.now();
    const exit = await p.exited;
    assert.ok(exit.error instanceof ConnectionError, String(exit.error));
    assert.ok(Date.now() - started < 3000, `settled after ${Date.now() - started} ms`);
    assert.equal((await t.exec('echo back')).code, 0, 'exec reconnects afterwards');
  });

  test('long-lived processes never take the last session: exec still runs, one spawn too many is refused', async () => {
    const t = sshPool(new CountingPrompt(), { maxSessions: 3 }).open(sb.alias);
    const a = await t.spawn('cat');
    const b = await t.spawn('cat');
    await assert.rejects(t.spawn('cat'), (e: unknown) => e instanceof ConnectionError && /stop one first/.test(e.message));
    const r = await Promise.all([t.exec('echo 1'), t.exec('echo 2')]);
    assert.deepEqual(r.map((x) => x.code), [0, 0]);
    a.end();
    assert.equal((await a.exited).code, 0);
    const c = await t.spawn('cat');
    for (const p of [b, c]) p.end();
    await Promise.all([b.exited, c.exited]);
  });

  test('a known host that presents a key of another type is refused as CHANGED in every mode, asking nothing', async () => {
    const other = join(work, 'other_ecdsa_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ecdsa', '-N', '', '-f', other]);
    const line = `[127.0.0.1]:${sb.port} ${readFileSync(`${other}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`;
    for (const mode of ['yes', 'accept-new', 'ask', 'no', 'off']) {
      const knownHosts = join(work, `kh-type-${mode}`);
      writeFileSync(knownHosts, line);
      const prompt = new CountingPrompt(true);
      const t = sshPool(prompt, {}, configOverriding([`StrictHostKeyChecking ${mode}`, `UserKnownHostsFile ${knownHosts}`])).open(sb.alias);
      const err = await t.exec('true').catch((e: unknown) => e);
      assert.ok(err instanceof HostKeyError && err.problem === 'changed', `${mode}: ${String(err)}`);
      assert.match(err.message, /REMOTE HOST IDENTIFICATION HAS CHANGED/);
      assert.ok(err.message.includes('ecdsa-sha2-nistp256') && err.message.includes(`${knownHosts}:1`), err.message);
      assert.deepEqual(prompt.hostKeys, [], mode);
      assert.equal(readFileSync(knownHosts, 'utf8'), line, `${mode}: nothing appended`);
    }
  });

  test('an ssh config file that does not exist is a clear error naming it, not a silent fallback', () => {
    const missing = join(work, 'no-such-ssh-config');
    assert.throws(() => sshPool(new CountingPrompt(), {}, missing).open(sb.alias), (e: unknown) => e instanceof Error && e.message.includes(missing) && /no such file/.test(e.message));
  });
});
