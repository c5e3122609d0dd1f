// The local transport: the login-shell wrapping (shared with the ssh transport) proved byte-exact with hostile
// input, and the exec/upload/readFile/forward behaviour the ssh transport also has.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { AbortedError, ConnectionError, RemoteFileError, TimeoutError } from '../../src/core/remote/errors';
import { LocalTransport } from '../../src/core/remote/localTransport';
import { loginShellCommand } from '../../src/core/remote/loginShell';
import type { StateChange } from '../../src/core/remote/transport';

// A home of our own: its .bash_profile proves the login shell ran, and keeps the machine's profile out of the way.
const home = mkdtempSync(join(tmpdir(), 'local-transport-'));
writeFileSync(join(home, '.bash_profile'), 'export FROM_PROFILE=login-shell-ran\n');
const transport = new LocalTransport({ home, host: 'test-host', env: { ...process.env, HOME: home } });
after(async () => {
  await transport.close();
  rmSync(home, { recursive: true, force: true });
});

/** Runs `command` and returns the command text bash itself received (base64 through stdout, so nothing is lost). */
async function receivedByBash(command: string): Promise<string> {
  const script = `printf %s "$BASH_EXECUTION_STRING" | base64 -w0; exit 0\n${command}`;
  const r = await transport.exec(script);
  assert.equal(r.code, 0, r.stderr);
  const received = Buffer.from(r.stdout.trim().split('\n').pop() ?? '', 'base64').toString('utf8');
  return received.slice(received.indexOf('\n') + 1);
}

test('the wrapper hands bash one quoted word and uses a login shell; a deadline is enforced by timeout(1)', () => {
  assert.equal(loginShellCommand('qstat -f'), `exec bash -lc 'qstat -f'`);
  assert.equal(loginShellCommand("it's"), `exec bash -lc 'it'\\''s'`);
  assert.equal(loginShellCommand('sleep 9', 2500), `exec timeout -s KILL 4 bash -lc 'sleep 9'`);
  assert.equal(loginShellCommand('true', 10), `exec timeout -s KILL 2 bash -lc true`);
});

test('commands run in a login shell from the home directory', async () => {
  const r = await transport.exec('echo "$FROM_PROFILE"; pwd; shopt -q login_shell && echo login');
  assert.deepEqual(r.stdout.split('\n'), ['login-shell-ran', home, 'login', '']);
});

test('hostile command text reaches bash byte for byte', async () => {
  const hostile = [
    "'", '"', '\\', '$(touch /tmp/pwned)', '`id`', '; rm -rf ~', 'a b\tc\nd', "it's", "''", '*', '~', '!', '#x',
    '\u00e9\u2603', '\r\n', '&&', '|', '>', '<(x)', "'\"'\"'", '$HOME ${IFS}', '\u0001\u001b[31m',
  ];
  for (const h of hostile) assert.equal(await receivedByBash(h), h, JSON.stringify(h));
});

test('property: any NUL-free command text round-trips through the login-shell wrapper', async () => {
  const noNul = fc.string({ unit: 'binary', maxLength: 60 }).filter((s) => !s.includes('\0'));
  await fc.assert(
    fc.asyncProperty(noNul, async (text) => {
      assert.equal(await receivedByBash(text), text);
    }),
    { numRuns: 120 },
  );
});

test('a NUL byte in a command is refused before anything runs', async () => {
  await assert.rejects(transport.exec('echo a\0b'), /NUL/);
});

test('exit code, stdout and stderr come back apart; a non-zero exit is a result', async () => {
  const r = await transport.exec('echo out; echo err >&2; exit 7');
  assert.deepEqual(r, { code: 7, stdout: 'out\n', stderr: 'err\n' });
});

test('stdin is delivered and closed; without it the command sees end of input at once', async () => {
  const bytes = Buffer.from([0, 1, 2, 250, 255, 10]);
  const r = await transport.exec('od -An -tx1 | tr -s " " | tr -d "\\n"', { stdin: bytes });
  assert.equal(r.stdout.trim(), '00 01 02 fa ff 0a');
  const empty = await transport.exec('cat; echo done', { timeoutMs: 5000 });
  assert.equal(empty.stdout, 'done\n');
});

test('a command killed by a signal reports the signal and no code', async () => {
  const r = await transport.exec('kill -KILL $$');
  assert.equal(r.code, null);
  assert.equal(r.signal, 'SIGKILL');
});

test('a timeout rejects with TimeoutError, keeps the output so far, and kills what the command started', async () => {
  const pidFile = join(home, 'bg.pid');
  const started = Date.now();
  const err = await transport.exec(`sleep 30 & echo $! > ${pidFile}; echo started; wait`, { timeoutMs: 300 }).catch((e: unknown) => e);
  assert.ok(err instanceof TimeoutError, String(err));
  assert.equal(err.timeoutMs, 300);
  assert.equal(err.stdout, 'started\n');
  assert.ok(Date.now() - started < 3000);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')), false, 'the background sleep was killed');
});

test('an abort signal rejects with AbortedError', async () => {
  const ac = new AbortController();
  const p = transport.exec('sleep 30', { signal: ac.signal });
  setTimeout(() => ac.abort(), 50);
  await assert.rejects(p, AbortedError);
  const pre = new AbortController();
  pre.abort();
  await assert.rejects(transport.exec('echo never', { signal: pre.signal }), AbortedError);
});

test('upload creates parent directories, applies the mode despite the umask, and leaves no temporary file', async () => {
  await transport.upload('#!/bin/sh\necho hi\n', '~/a/b/run.sh', 0o750);
  const file = join(home, 'a', 'b', 'run.sh');
  assert.equal(statSync(file).mode & 0o777, 0o750);
  assert.equal((await transport.exec('a/b/run.sh')).stdout, 'hi\n');
  await transport.upload(Buffer.from('v2'), 'a/b/run.sh');
  assert.equal(readFileSync(file, 'utf8'), 'v2');
  assert.equal(statSync(file).mode & 0o777, 0o644);
  assert.deepEqual(readdirSync(join(home, 'a', 'b')), ['run.sh']);
});

test('upload is atomic: a reader never sees a partly written file', async () => {
  const size = 1 << 20;
  const versions = [Buffer.alloc(size, 'a'), Buffer.alloc(size, 'b')];
  const file = join(home, 'big.bin');
  await transport.upload(versions[0], file);
  let writing = true;
  let reads = 0;
  const reader = (async () => {
    while (writing) {
      const got = readFileSync(file);
      assert.equal(got.length, size);
      assert.ok(got.equals(versions[0]) || got.equals(versions[1]));
      reads++;
      await new Promise((r) => setImmediate(r));
    }
  })();
  for (let i = 1; i <= 20; i++) await transport.upload(versions[i % 2], file);
  writing = false;
  await reader;
  assert.ok(reads > 0);
});

test('readFile returns the exact bytes; a missing file is a RemoteFileError with ENOENT', async () => {
  const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  await transport.upload(bytes, 'all-bytes.bin');
  assert.ok((await transport.readFile('~/all-bytes.bin')).equals(bytes));
  const err = await transport.readFile('no/such/file').catch((e: unknown) => e);
  assert.ok(err instanceof RemoteFileError);
  assert.equal(err.code, 'ENOENT');
});

test('forward: loopback needs no proxy; another local port gets a TCP proxy that close() stops', async () => {
  const server = createServer((s) => s.end('hello from the remote side\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const direct = await transport.forward('127.0.0.1', port);
    assert.equal(direct.localPort, port);
    await direct.close();

    const local = await freePort();
    const proxied = await transport.forward('localhost', port, local);
    assert.equal(proxied.localPort, local);
    assert.equal(await readAll(proxied.localPort), 'hello from the remote side\n');
    await proxied.close();
    await assert.rejects(readAll(proxied.localPort));
  } finally {
    server.close();
  }
});

test('forward to a closed port: the client connection is closed, the proxy stays up', async () => {
  const closedPort = await freePort();
  const fwd = await transport.forward('localhost', closedPort, await freePort());
  try {
    assert.equal(await readAll(fwd.localPort), '');
    const server = createServer((s) => s.end('late\n'));
    await new Promise<void>((r) => server.listen(closedPort, '127.0.0.1', r));
    assert.equal(await readAll(fwd.localPort), 'late\n');
    server.close();
  } finally {
    await fwd.close();
  }
});

test('HTTP through a forward', async () => {
  const server = createServer((s) => s.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhealthy'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const fwd = await transport.forward('127.0.0.1', (server.address() as AddressInfo).port, await freePort());
  try {
    const body = await new Promise<string>((resolve, reject) => {
      get({ host: '127.0.0.1', port: fwd.localPort, path: '/health' }, (res) => {
        let b = '';
        res.on('data', (d: Buffer) => (b += d));
        res.on('end', () => resolve(b));
      }).on('error', reject);
    });
    assert.equal(body, 'healthy');
  } finally {
    await fwd.close();
    server.close();
  }
});

test('state is connected until close; afterwards every call is refused with ConnectionError', async () => {
  const t = new LocalTransport({ home, env: { ...process.env, HOME: home } });
  const seen: StateChange[] = [];
  t.onStateChange((c) => seen.push(c));
  assert.equal(t.state, 'connected');
  await t.close();
  assert.equal(t.state, 'closed');
  assert.deepEqual(seen.map((c) => c.state), ['closed']);
  await assert.rejects(t.exec('true'), ConnectionError);
  await assert.rejects(t.upload('x', 'y'), ConnectionError);
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function readAll(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let data = '';
    s.on('data', (d: Buffer) => (data += d));
    s.on('end', () => resolve(data));
    s.on('close', () => resolve(data));
    s.on('error', reject);
  });
}
