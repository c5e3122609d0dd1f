import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  appendKnownHost,
  hashHostName,
  hostKeyFingerprint,
  hostPatternsMatch,
  KnownHosts,
  knownHostsName,
  keyTypeOfBlob,
  parseKnownHosts,
} from '../../src/core/remote/knownHosts';

const dir = mkdtempSync(join(tmpdir(), 'known-hosts-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Key {
  type: string;
  b64: string;
  blob: Buffer;
  pubFile: string;
}

function keygen(name: string, type = 'ed25519'): Key {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', file]);
  const [kt, b64] = readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/);
  return { type: kt, b64, blob: Buffer.from(b64, 'base64'), pubFile: `${file}.pub` };
}

const a = keygen('a');
const b = keygen('b');
const ecdsa = keygen('c', 'ecdsa');

function hosts(text: string, file = 'kh'): KnownHosts {
  return new KnownHosts(parseKnownHosts(text, file));
}

test('the fingerprint is exactly what ssh-keygen -l prints', () => {
  for (const k of [a, b, ecdsa]) {
    const printed = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', k.pubFile], { encoding: 'utf8' }).split(' ')[1];
    assert.equal(hostKeyFingerprint(k.blob), printed);
    assert.match(hostKeyFingerprint(k.blob), /^SHA256:[A-Za-z0-9+/]{43}$/);
  }
});

test('the key type is read from the blob itself', () => {
  assert.equal(keyTypeOfBlob(a.blob), 'ssh-ed25519');
  assert.equal(keyTypeOfBlob(ecdsa.blob), 'ecdsa-sha2-nistp256');
  assert.equal(keyTypeOfBlob(Buffer.from([0, 0])), undefined);
});

test('plain entries: the listed host is ok, another host is unknown', () => {
  const kh = hosts(`gadi.nci.org.au ${a.type} ${a.b64}\n`);
  assert.equal(kh.verify('gadi.nci.org.au', 22, a.type, a.blob), 'ok');
  assert.equal(kh.verify('GADI.nci.org.au', 22, a.type, a.blob), 'ok');
  assert.equal(kh.verify('other.nci.org.au', 22, a.type, a.blob), 'unknown');
});

test('hashed entries made with HMAC-SHA1 as OpenSSH does match only their host', () => {
  const salt = randomBytes(20);
  const mac = createHmac('sha1', salt).update('gadi.nci.org.au').digest();
  const kh = hosts(`|1|${salt.toString('base64')}|${mac.toString('base64')} ${a.type} ${a.b64}\n`);
  assert.equal(kh.verify('gadi.nci.org.au', 22, a.type, a.blob), 'ok');
  assert.equal(kh.verify('gadi.nci.org.au', 22, b.type, b.blob), 'changed');
  assert.equal(kh.verify('gadi2.nci.org.au', 22, a.type, a.blob), 'unknown');
  // A hashed non-22 port hashes the bracketed form.
  const mac2 = createHmac('sha1', salt).update('[10.0.0.1]:2222').digest();
  const kh2 = hosts(`|1|${salt.toString('base64')}|${mac2.toString('base64')} ${a.type} ${a.b64}\n`);
  assert.equal(kh2.verify('10.0.0.1', 2222, a.type, a.blob), 'ok');
  assert.equal(kh2.verify('10.0.0.1', 22, a.type, a.blob), 'unknown');
});

test('[host]:port names other ports; port 22 is the bare name', () => {
  assert.equal(knownHostsName('Gadi.example', 22), 'gadi.example');
  assert.equal(knownHostsName('127.0.0.1', 2222), '[127.0.0.1]:2222');
  const kh = hosts(`[127.0.0.1]:2222 ${a.type} ${a.b64}\n`);
  assert.equal(kh.verify('127.0.0.1', 2222, a.type, a.blob), 'ok');
  assert.equal(kh.verify('127.0.0.1', 2223, a.type, a.blob), 'unknown');
  assert.equal(kh.verify('127.0.0.1', 22, a.type, a.blob), 'unknown');
});

test('wildcards and negation follow OpenSSH pattern lists', () => {
  const kh = hosts(`*.nci.org.au,!bad.nci.org.au ${a.type} ${a.b64}\ngadi-login-0?.example ${b.type} ${b.b64}\n`);
  assert.equal(kh.verify('gadi.nci.org.au', 22, a.type, a.blob), 'ok');
  assert.equal(kh.verify('bad.nci.org.au', 22, a.type, a.blob), 'unknown');
  assert.equal(kh.verify('gadi-login-05.example', 22, b.type, b.blob), 'ok');
  assert.equal(kh.verify('gadi-login-105.example', 22, b.type, b.blob), 'unknown');
  assert.equal(hostPatternsMatch('!x,*', 'x'), false);
  assert.equal(hostPatternsMatch('!x', 'y'), false, 'a negation alone matches nothing');
  assert.equal(hostPatternsMatch('a.b', 'aXb'), false, 'a dot is literal');
});

test('@revoked refuses the key even where a plain line trusts it', () => {
  const kh = hosts(`gadi ${a.type} ${a.b64}\n@revoked * ${a.type} ${a.b64}\n`);
  const check = kh.check('gadi', 22, a.type, a.blob);
  assert.equal(check.status, 'revoked');
  assert.equal(check.entry?.line, 2);
  assert.equal(kh.verify('gadi', 22, b.type, b.blob), 'changed');
});

test('a different key of the same type is "changed" and names the file and line', () => {
  const kh = hosts(`# comment\n\nother ${b.type} ${b.b64}\ngadi ${a.type} ${a.b64}\n`, '/home/u/.ssh/known_hosts');
  const check = kh.check('gadi', 22, b.type, b.blob);
  assert.equal(check.status, 'changed');
  assert.equal(check.entry?.file, '/home/u/.ssh/known_hosts');
  assert.equal(check.entry?.line, 4);
});

test('a known host presenting a key of a type never seen for it has CHANGED (as OpenSSH says)', () => {
  const kh = hosts(`other ${a.type} ${a.b64}\ngadi ${ecdsa.type} ${ecdsa.b64}\n`, '/home/u/.ssh/known_hosts');
  const check = kh.check('gadi', 22, a.type, a.blob);
  assert.equal(check.status, 'changed');
  assert.equal(check.entry?.line, 2, 'the offending line is the one for this host');
  assert.deepEqual(check.knownTypes, ['ecdsa-sha2-nistp256']);
  assert.equal(kh.verify('nobody', 22, a.type, a.blob), 'unknown');
});

test('several keys per host (rotation, several types) are each trusted', () => {
  const kh = hosts(`gadi ${a.type} ${a.b64}\ngadi ${b.type} ${b.b64}\ngadi ${ecdsa.type} ${ecdsa.b64}\n`);
  for (const k of [a, b, ecdsa]) assert.equal(kh.verify('gadi', 22, k.type, k.blob), 'ok');
});

test('@cert-authority lines neither trust a plain key nor make it "changed"', () => {
  const kh = hosts(`@cert-authority *.example ${a.type} ${a.b64}\n`);
  assert.equal(kh.verify('h.example', 22, a.type, a.blob), 'unknown');
  assert.equal(kh.verify('h.example', 22, b.type, b.blob), 'unknown');
  assert.equal(kh.check('h.example', 22, a.type, a.blob).authorities[0]?.line, 1, 'the CA is reported, to explain');
});

test('corrupt lines are skipped, never trusted', () => {
  const text = [
    `gadi ssh-rsa ${a.b64}`, // the blob says ed25519
    `gadi ${a.type} not-base64!`,
    `@bogus gadi ${a.type} ${a.b64}`,
    'gadi',
  ].join('\n');
  assert.equal(parseKnownHosts(text, 'kh').length, 0);
});

test('several files are read; missing ones count as empty', () => {
  const f1 = join(dir, 'kh1');
  const f2 = join(dir, 'kh2');
  writeFileSync(f1, `h1 ${a.type} ${a.b64}\n`);
  writeFileSync(f2, `h2 ${b.type} ${b.b64}\n`);
  const kh = KnownHosts.load([join(dir, 'missing'), f1, f2]);
  assert.equal(kh.verify('h1', 22, a.type, a.blob), 'ok');
  assert.equal(kh.verify('h2', 22, b.type, b.blob), 'ok');
  assert.equal(kh.check('h2', 22, a.type, a.blob).entry?.file, f2);
});

test('append writes a hashed line that OpenSSH itself finds, creating the file 0600', async () => {
  const file = join(dir, 'new', '.ssh', 'known_hosts');
  await appendKnownHost(file, '127.0.0.1', 2222, a.type, a.blob);
  const line = readFileSync(file, 'utf8');
  assert.match(line, /^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+ ssh-ed25519 [A-Za-z0-9+/=]+\n$/);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(KnownHosts.load([file]).verify('127.0.0.1', 2222, a.type, a.blob), 'ok');
  const found = spawnSync('ssh-keygen', ['-F', '[127.0.0.1]:2222', '-f', file], { encoding: 'utf8' });
  assert.equal(found.status, 0, found.stderr);
  assert.ok(found.stdout.includes(a.b64));
  assert.notEqual(spawnSync('ssh-keygen', ['-F', '127.0.0.1', '-f', file]).status, 0, 'port 22 is another name');
});

test('append starts a new line when the file lacks a final newline, and can write plain names', async () => {
  const file = join(dir, 'no-newline');
  writeFileSync(file, `h1 ${a.type} ${a.b64}`);
  await appendKnownHost(file, 'h2', 22, b.type, b.blob, false);
  assert.deepEqual(readFileSync(file, 'utf8').split('\n'), [`h1 ${a.type} ${a.b64}`, `h2 ${b.type} ${b.b64}`, '']);
  const kh = KnownHosts.load([file]);
  assert.equal(kh.verify('h1', 22, a.type, a.blob), 'ok');
  assert.equal(kh.verify('h2', 22, b.type, b.blob), 'ok');
});

test('hashHostName uses a fresh salt each time', () => {
  const h1 = hashHostName('gadi');
  const h2 = hashHostName('gadi');
  assert.notEqual(h1, h2);
  assert.ok(hostPatternsMatch(h1, 'gadi') && hostPatternsMatch(h2, 'gadi'));
  assert.ok(!hostPatternsMatch(h1, 'gadj'));
});
