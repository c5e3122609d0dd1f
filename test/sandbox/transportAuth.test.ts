// The ssh transport against an in-process ssh2 server, for what the sandbox's sshd is not set up to do: an
// encrypted key, a second factor (keyboard-interactive), a server with fewer sessions than OpenSSH's default, and
// prompts that take longer than the connect timeout.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, utils, type Connection, type ParsedKey } from 'ssh2';
import { AuthError } from '../../src/core/remote/errors';
import { hostKeyFingerprint, KnownHosts } from '../../src/core/remote/knownHosts';
import type { SecretKind, SshPrompt } from '../../src/core/remote/prompt';
import { SshTransportPool, type SshTransportOptions } from '../../src/core/remote/sshTransport';
import type { StateChange, TransportLogger } from '../../src/core/remote/transport';
import { until as poll } from '../fixtures/poll';

const dir = mkdtempSync(join(tmpdir(), 'transport-auth-'));
const PASSPHRASE = 'correct horse battery';
const CODE = '482913';

function keygen(name: string, passphrase: string): { file: string; pub: ParsedKey } {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', name, '-f', file]);
  const pub = utils.parseKey(readFileSync(`${file}.pub`));
  if (pub instanceof Error) throw pub;
  return { file, pub: Array.isArray(pub) ? pub[0] : pub };
}

const encrypted = keygen('encrypted', PASSPHRASE);
const plain = keygen('plain', '');
const hostKeys = utils.generateKeyPairSync('ed25519');
const hostPub = utils.parseKey(hostKeys.public) as ParsedKey;
const hostBlob = hostPub.getPublicSSH();

interface FakeServer {
  port: number;
  connections: Connection[];
  peakSessions: number;
  close(): Promise<void>;
}

/** A server that wants publickey and, when `secondFactor`, then a code; it runs no command, it echoes it. */
async function startServer(opts: { secondFactor: boolean; maxSessions: number; execDelayMs: number }): Promise<FakeServer> {
  const state: FakeServer = { port: 0, connections: [], peakSessions: 0, close: async () => undefined };
  let open = 0;
  const server = new Server({ hostKeys: [hostKeys.private] }, (conn) => {
    state.connections.push(conn);
    let keyOk = false;
    conn.on('error', () => undefined);
    conn.on('authentication', (ctx) => {
      if (ctx.method === 'publickey') {
        const known = [encrypted.pub, plain.pub].find((k) => k.getPublicSSH().equals(ctx.key.data));
        if (!known) return ctx.reject();
        if (!ctx.signature || !ctx.blob) return ctx.accept(); // the client asks whether this key would do
        if (known.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject();
        keyOk = true;
        return opts.secondFactor ? ctx.reject(['keyboard-interactive'], true) : ctx.accept();
      }
      if (ctx.method === 'keyboard-interactive' && keyOk) {
        ctx.prompt([{ prompt: 'Verification code: ', echo: false }], 'Two-factor', 'Enter the code from your app', (answers) => {
          if (answers[0] === CODE) ctx.accept();
          else ctx.reject(['keyboard-interactive']);
        });
        return;
      }
      ctx.reject(keyOk ? ['keyboard-interactive'] : ['publickey']);
    });
    conn.on('ready', () => {
      conn.on('session', (accept, reject) => {
        if (open >= opts.maxSessions) return reject();
        open++;
        state.peakSessions = Math.max(state.peakSessions, open);
        const session = accept();
        session.once('close', () => open--);
        session.on('exec', (acceptExec, _rejectExec, info) => {
          const ch = acceptExec();
          setTimeout(() => {
            ch.write(`ran: ${info.command}\n`);
            ch.exit(0);
            ch.end();
          }, opts.execDelayMs);
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const c of state.connections) c.end();
      server.close(() => resolve());
    });
  return state;
}

let n = 0;
/** An ssh config (and known_hosts, trusting the server unless `trusted` is false) for the alias `fake`. */
function configFor(server: FakeServer, key: string, trusted = true): { configFile: string; knownHosts: string } {
  const configFile = join(dir, `config${n}`);
  const knownHosts = join(dir, `known_hosts${n++}`);
  writeFileSync(knownHosts, trusted ? `[127.0.0.1]:${server.port} ssh-ed25519 ${hostBlob.toString('base64')}\n` : '');
  writeFileSync(
    configFile,
    `Host fake\n  HostName 127.0.0.1\n  Port ${server.port}\n  User tester\n  IdentityFile ${key}\n  UserKnownHostsFile ${knownHosts}\n  StrictHostKeyChecking ask\n`,
  );
  return { configFile, knownHosts };
}

/** Answers from a script and records every question. */
class ScriptedPrompt implements SshPrompt {
  readonly asked: Array<{ kind: SecretKind; message: string }> = [];
  readonly hostKeys: Array<[string, string, string]> = [];
  constructor(
    private readonly answers: Partial<Record<SecretKind, Array<string | undefined>>>,
    private readonly hostKeyAnswer = false,
    private readonly hostKeyDelayMs = 0,
  ) {}
  async askSecret(message: string, kind: SecretKind): Promise<string | undefined> {
    this.asked.push({ kind, message });
    return this.answers[kind]?.shift();
  }
  async confirmHostKey(host: string, fingerprint: string, keyType: string): Promise<boolean> {
    this.hostKeys.push([host, fingerprint, keyType]);
    await new Promise((r) => setTimeout(r, this.hostKeyDelayMs));
    return this.hostKeyAnswer;
  }
}

class RecordingLogger implements TransportLogger {
  readonly lines: string[] = [];
  debug(m: string) {
    this.lines.push(m);
  }
  info(m: string) {
    this.lines.push(m);
  }
  warn(m: string) {
    this.lines.push(m);
  }
}

function pool(configFile: string, prompt: SshPrompt, logger: TransportLogger, extra: Partial<SshTransportOptions> = {}): SshTransportPool {
  return new SshTransportPool({ prompt, logger, agent: null, sshConfig: { configFile, systemConfigFile: null }, ...extra });
}

let twoFactor: FakeServer;
before(async () => {
  twoFactor = await startServer({ secondFactor: true, maxSessions: 10, execDelayMs: 0 });
});
after(async () => {
  await twoFactor?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('an encrypted key and a second factor are asked through the prompt (retrying wrong answers) and never logged', async () => {
  const { configFile } = configFor(twoFactor, encrypted.file);
  const prompt = new ScriptedPrompt({ passphrase: ['hunter2', PASSPHRASE], '2fa': ['000000', CODE, CODE] });
  const logger = new RecordingLogger();
  const p = pool(configFile, prompt, logger);
  const t = p.open('fake');
  try {
    const r = await t.exec('echo hi');
    // The server echoes what reached it: the command wrapped for a login shell.
    assert.equal(r.stdout, `ran: exec bash -lc 'echo hi'\n`);
    assert.deepEqual(prompt.asked.map((a) => a.kind), ['passphrase', 'passphrase', '2fa', '2fa']);
    assert.match(prompt.asked[0].message, /^Passphrase for .*encrypted$/);
    assert.match(prompt.asked[1].message, /Wrong passphrase/);
    assert.match(prompt.asked[2].message, /Two-factor[\s\S]*Enter the code from your app[\s\S]*tester@127\.0\.0\.1:\d+: Verification code:/);

    // The server drops us; the next command reconnects: a fresh code is needed, the passphrase is not.
    for (const c of twoFactor.connections) c.end();
    await waitFor(() => t.state !== 'connected');
    const again = await t.exec('echo again');
    assert.equal(again.stdout, `ran: exec bash -lc 'echo again'\n`);
    assert.deepEqual(prompt.asked.map((a) => a.kind), ['passphrase', 'passphrase', '2fa', '2fa', '2fa']);

    const log = logger.lines.join('\n');
    assert.ok(log.length > 0);
    for (const secret of [PASSPHRASE, 'hunter2', CODE, '000000']) assert.ok(!log.includes(secret), `the log holds ${secret}`);
  } finally {
    await p.close();
  }
});

test('cancelling the second factor ends sign-in with AuthError and nothing is retried', async () => {
  const { configFile } = configFor(twoFactor, plain.file);
  const prompt = new ScriptedPrompt({ '2fa': [undefined] });
  const p = pool(configFile, prompt, new RecordingLogger());
  const t = p.open('fake');
  const states: StateChange[] = [];
  t.onStateChange((c) => states.push(c));
  try {
    const err = await t.exec('true').catch((e: unknown) => e);
    assert.ok(err instanceof AuthError, String(err));
    assert.match(err.message, /cancelled/);
    assert.equal(t.state, 'failed');
    await assert.rejects(t.exec('true'), AuthError);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(states.filter((s) => s.state === 'connecting').length, 1);
    assert.equal(prompt.asked.length, 1);
  } finally {
    await p.close();
  }
});

test('a cancelled passphrase skips that key, and the AuthError says which key went unused', async () => {
  const { configFile } = configFor(twoFactor, encrypted.file);
  const prompt = new ScriptedPrompt({ passphrase: [undefined] });
  const p = pool(configFile, prompt, new RecordingLogger());
  try {
    const err = await p.open('fake').connect().catch((e: unknown) => e);
    assert.ok(err instanceof AuthError, String(err));
    assert.match(err.message, /^Permission denied for tester@127\.0\.0\.1:\d+\./);
    assert.match(err.message, /encrypted \(no passphrase given\)/);
    assert.deepEqual(prompt.asked.map((a) => a.kind), ['passphrase']);
  } finally {
    await p.close();
  }
});

test('no more than 10 sessions at once, yet 30 concurrent commands all complete', async () => {
  const server = await startServer({ secondFactor: false, maxSessions: 100, execDelayMs: 40 });
  const { configFile } = configFor(server, plain.file);
  const p = pool(configFile, new ScriptedPrompt({}), new RecordingLogger());
  try {
    const t = p.open('fake');
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => t.exec(`echo ${i}`)));
    assert.deepEqual(results.map((r) => r.stdout), results.map((_, i) => `ran: exec bash -lc 'echo ${i}'\n`));
    assert.equal(server.peakSessions, 10);
  } finally {
    await p.close();
    await server.close();
  }
});

test('a server that allows fewer sessions refuses some; they wait and run instead of failing', async () => {
  const server = await startServer({ secondFactor: false, maxSessions: 3, execDelayMs: 30 });
  const { configFile } = configFor(server, plain.file);
  const logger = new RecordingLogger();
  const p = pool(configFile, new ScriptedPrompt({}), logger);
  try {
    const t = p.open('fake');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => t.exec(`echo ${i}`)));
    assert.equal(results.filter((r) => r.code === 0).length, 20);
    assert.equal(server.peakSessions, 3);
  } finally {
    await p.close();
    await server.close();
  }
});

test('the connect deadline does not run while the user reads the host key prompt', async () => {
  const server = await startServer({ secondFactor: false, maxSessions: 10, execDelayMs: 0 });
  const { configFile, knownHosts } = configFor(server, plain.file, false);
  const prompt = new ScriptedPrompt({}, true, 600);
  const p = pool(configFile, prompt, new RecordingLogger(), { connectTimeoutMs: 250 });
  try {
    const t = p.open('fake');
    await t.connect();
    assert.deepEqual(prompt.hostKeys, [[`[127.0.0.1]:${server.port}`, hostKeyFingerprint(hostBlob), 'ssh-ed25519']]);
    assert.equal(KnownHosts.load([knownHosts]).verify('127.0.0.1', server.port, 'ssh-ed25519', hostBlob), 'ok');
  } finally {
    await p.close();
    await server.close();
  }
});

const waitFor = (cond: () => boolean, timeoutMs = 5000) => poll('the condition', cond, { timeoutMs, everyMs: 10 });
