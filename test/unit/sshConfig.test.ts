import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SshConfigError } from '../../src/core/remote/errors';
import { expandTokens, parseJumpSpecs, resolveSshHost, type SshConfigOptions } from '../../src/core/remote/sshConfig';

const root = mkdtempSync(join(tmpdir(), 'ssh-config-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A fresh home with ~/.ssh/config = `config` and the given (empty) key files. */
function home(config: string, keys: string[] = []): SshConfigOptions & { home: string } {
  const h = join(root, `home${n++}`);
  mkdirSync(join(h, '.ssh'), { recursive: true });
  writeFileSync(join(h, '.ssh', 'config'), config);
  for (const k of keys) writeFileSync(join(h, '.ssh', k), '');
  return { home: h, localUser: 'alice', localHostName: 'laptop.example.org', systemConfigFile: null, env: { PROJ: 'ab12' } };
}

test('an alias resolves HostName, User, Port and IdentityFile with tokens and ~ expanded', () => {
  const o = home(`
Host gadi
  HostName gadi.nci.org.au
  User ab1234
  Port 2200
  IdentityFile ~/.ssh/id_gadi
  IdentityFile %d/keys/%u-%r@%h:%p-%n-%l-%L-100%%
  IdentityFile /keys/\${PROJ}/key
  ServerAliveInterval 30
  ServerAliveCountMax 5
  ConnectTimeout 12
`);
  const r = resolveSshHost('gadi', o);
  assert.equal(r.alias, 'gadi');
  assert.equal(r.hostName, 'gadi.nci.org.au');
  assert.equal(r.user, 'ab1234');
  assert.equal(r.port, 2200);
  assert.deepEqual(r.identityFiles, [
    join(o.home, '.ssh/id_gadi'),
    `${o.home}/keys/alice-ab1234@gadi.nci.org.au:2200-gadi-laptop.example.org-laptop-100%`,
    '/keys/ab12/key',
  ]);
  assert.equal(r.serverAliveInterval, 30);
  assert.equal(r.serverAliveCountMax, 5);
  assert.equal(r.connectTimeout, 12);
  assert.deepEqual(r.proxyJump, []);
});

test('OpenSSH defaults: port 22, the local user, default keys only when they exist, ed25519 first', () => {
  const o = home('', ['id_rsa', 'id_ed25519']);
  const r = resolveSshHost('plain.example', o);
  assert.equal(r.hostName, 'plain.example');
  assert.equal(r.port, 22);
  assert.equal(r.user, 'alice');
  assert.deepEqual(r.identityFiles, [join(o.home, '.ssh/id_ed25519'), join(o.home, '.ssh/id_rsa')]);
  assert.deepEqual(r.userKnownHostsFiles, [join(o.home, '.ssh/known_hosts'), join(o.home, '.ssh/known_hosts2')]);
  assert.deepEqual(r.globalKnownHostsFiles, ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2']);
  assert.equal(r.strictHostKeyChecking, 'ask');
  assert.equal(r.hashKnownHosts, true);
  assert.equal(r.serverAliveInterval, undefined);
  assert.equal(r.serverAliveCountMax, 3);
});

test('the first value obtained wins, and a configured IdentityFile replaces the defaults', () => {
  const o = home(`
Host gadi
  User first
Host *
  User second
  Port 2222
  IdentityFile ~/.ssh/everywhere
`, ['id_ed25519']);
  const r = resolveSshHost('gadi', o);
  assert.equal(r.user, 'first');
  assert.equal(r.port, 2222);
  assert.deepEqual(r.identityFiles, [join(o.home, '.ssh/everywhere')]);
});

test('user@alias overrides the configured user, as ssh does', () => {
  const o = home('Host gadi\n  HostName gadi.nci.org.au\n  User ab1234\n');
  const r = resolveSshHost('xy9876@gadi', o);
  assert.equal(r.user, 'xy9876');
  assert.equal(r.hostName, 'gadi.nci.org.au');
});

test('UserKnownHostsFile takes several files with ~; StrictHostKeyChecking and HostKeyAlias are read', () => {
  const o = home(`
Host gadi
  UserKnownHostsFile ~/.ssh/kh_one "~/.ssh/kh two"
  GlobalKnownHostsFile none
  StrictHostKeyChecking accept-new
  HostKeyAlias gadi-alias
  HashKnownHosts no
`);
  const r = resolveSshHost('gadi', o);
  assert.deepEqual(r.userKnownHostsFiles, [join(o.home, '.ssh/kh_one'), join(o.home, '.ssh/kh two')]);
  assert.deepEqual(r.globalKnownHostsFiles, []);
  assert.equal(r.strictHostKeyChecking, 'accept-new');
  assert.equal(r.hostKeyAlias, 'gadi-alias');
  assert.equal(r.hashKnownHosts, false);
});

test('ProxyJump a,b resolves each hop through the config, in order', () => {
  const o = home(`
Host target
  HostName gadi-login.internal
  User ab1234
  ProxyJump bastion,carol@inner:2200
Host bastion
  HostName bastion.example.org
  User jumper
  IdentityFile ~/.ssh/bastion_key
Host inner
  HostName inner.example.org
  User ignored
  ProxyJump somewhere-else
`);
  const r = resolveSshHost('target', o);
  assert.equal(r.hostName, 'gadi-login.internal');
  assert.deepEqual(
    r.proxyJump.map((h) => [h.alias, h.hostName, h.user, h.port]),
    [
      ['bastion', 'bastion.example.org', 'jumper', 22],
      ['inner', 'inner.example.org', 'carol', 2200],
    ],
  );
  assert.deepEqual(r.proxyJump[0].identityFiles, [join(o.home, '.ssh/bastion_key')]);
  // A later hop's own ProxyJump is replaced by the chain, as with `ssh -J a,b`.
  assert.deepEqual(r.proxyJump[1].proxyJump, []);
});

test("the first hop's own ProxyJump is kept in front of the chain", () => {
  const o = home(`
Host target
  ProxyJump hop1
Host hop1
  ProxyJump hop0
`);
  const r = resolveSshHost('target', o);
  assert.deepEqual(r.proxyJump.map((h) => h.alias), ['hop0', 'hop1']);
});

test('ProxyJump none switches jumping off, and a loop is reported instead of recursing forever', () => {
  const o = home(`
Host direct
  ProxyJump none
Host loop
  ProxyJump loop
`);
  assert.deepEqual(resolveSshHost('direct', o).proxyJump, []);
  assert.throws(() => resolveSshHost('loop', o), SshConfigError);
});

test('ProxyJump hops: user, port, ssh:// URIs and bracketed IPv6', () => {
  assert.deepEqual(parseJumpSpecs('a, u@b:2200,ssh://v@c:23,[::1]:2222,[fe80::1]'), [
    { host: 'a' },
    { host: 'b', user: 'u', port: 2200 },
    { host: 'c', user: 'v', port: 23 },
    { host: '::1', port: 2222 },
    { host: 'fe80::1' },
  ]);
  assert.throws(() => parseJumpSpecs('a,,b'), SshConfigError);
  assert.throws(() => parseJumpSpecs('a:70000'), SshConfigError);
});

test('Include pulls in files (globs, relative to ~/.ssh) where it stands', () => {
  const o = home('Include conf.d/*.conf\nHost *\n  User fallback\n');
  mkdirSync(join(o.home, '.ssh', 'conf.d'));
  writeFileSync(join(o.home, '.ssh', 'conf.d', '10-gadi.conf'), 'Host gadi\n  HostName gadi.nci.org.au\n  User included\n');
  writeFileSync(join(o.home, '.ssh', 'conf.d', 'ignored.txt'), 'Host gadi\n  Port 9\n');
  const r = resolveSshHost('gadi', o);
  assert.equal(r.hostName, 'gadi.nci.org.au');
  assert.equal(r.user, 'included');
  assert.equal(r.port, 22);
  assert.equal(resolveSshHost('elsewhere', o).user, 'fallback');
});

test('the system file is read after the user file', () => {
  const o = home('Host gadi\n  User mine\n');
  const system = join(o.home, 'system_config');
  writeFileSync(system, 'Host *\n  User theirs\n  Port 2022\n');
  const r = resolveSshHost('gadi', { ...o, systemConfigFile: system });
  assert.equal(r.user, 'mine');
  assert.equal(r.port, 2022);
});

test('Match exec is never run', () => {
  const marker = join(root, 'match-exec-ran');
  const o = home(`Match exec "touch ${marker}"\n  User matched\n`);
  assert.equal(resolveSshHost('gadi', o).user, 'alice');
  assert.equal(existsSync(marker), false);
});

test('unknown tokens and unset variables are reported with the keyword, not guessed', () => {
  assert.throws(() => resolveSshHost('gadi', home('Host gadi\n  IdentityFile ~/.ssh/%Z\n')), (e: Error) => e instanceof SshConfigError && /IdentityFile.*%Z/.test(e.message));
  assert.throws(() => resolveSshHost('gadi', home('Host gadi\n  IdentityFile ${NOPE}/k\n')), (e: Error) => e instanceof SshConfigError && /NOPE/.test(e.message));
  assert.throws(() => resolveSshHost('gadi', home('Host gadi\n  Port twenty\n')), SshConfigError);
  assert.equal(expandTokens('%h:%%', { h: 'x' }, 'K'), 'x:%');
});

test('HostName may use %h, and ProxyCommand is surfaced for the transport to refuse', () => {
  const o = home('Host *.short\n  HostName %h.example.org\n  ProxyCommand nc %h %p\n');
  const r = resolveSshHost('login.short', o);
  assert.equal(r.hostName, 'login.short.example.org');
  assert.equal(r.proxyCommand, 'nc %h %p');
});

test('IdentitiesOnly and IdentityAgent are read', () => {
  const o = home('Host a\n  IdentitiesOnly yes\n  IdentityAgent none\nHost b\n  IdentityAgent ~/agent.sock\n');
  const ra = resolveSshHost('a', o);
  assert.equal(ra.identitiesOnly, true);
  assert.equal(ra.identityAgent, 'none');
  assert.equal(resolveSshHost('b', o).identityAgent, join(o.home, 'agent.sock'));
});
