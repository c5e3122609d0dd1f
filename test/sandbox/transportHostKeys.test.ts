// The host key oracle: for each known_hosts situation and each StrictHostKeyChecking mode, OpenSSH itself
// (`ssh -o BatchMode=yes -F <config> target true`) and the project's transport, given the same config and the same
// files, connect to the sandbox's sshd. Every cell must agree; BatchMode refuses where ssh would ask, so the
// project's "would ask" counts as a refusal, and both must add the same number of keys to known_hosts. Where
// OpenSSH connects to a host whose key has CHANGED or is REVOKED (mode "no" only: it merely disables password
// logins), the project refuses: deliberately stricter, and checked as such.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostKeyError } from '../../src/core/remote/errors';
import { hashHostName } from '../../src/core/remote/knownHosts';
import type { SecretKind, SshPrompt } from '../../src/core/remote/prompt';
import { SshTransportPool } from '../../src/core/remote/sshTransport';
import { startSandbox, type Sandbox } from './sandbox';

const USER = 'gdhostkeys';
const MODES = ['yes', 'accept-new', 'ask', 'no'] as const;
type Mode = (typeof MODES)[number];

let sb: Sandbox;
let work: string;

interface Situation {
  name: string;
  /** UserKnownHostsFile contents, in order (one file each). */
  user: (k: Keys) => string[];
  global?: (k: Keys) => string;
  config?: string[];
}

interface Keys {
  /** How known_hosts names the sandbox: [127.0.0.1]:port. */
  name: string;
  port: number;
  server: string;
  otherEd25519: string;
  ecdsa: string;
  ca: string;
}

const SITUATIONS: Situation[] = [
  { name: 'unknown host (empty file)', user: () => [''] },
  { name: 'same key', user: (k) => [`${k.name} ${k.server}`] },
  { name: 'same key, hashed name', user: (k) => [`${hashHostName(k.name)} ${k.server}`] },
  { name: 'other key, same type', user: (k) => [`${k.name} ${k.otherEd25519}`] },
  { name: 'other key, same type, hashed', user: (k) => [`${hashHostName(k.name)} ${k.otherEd25519}`] },
  { name: 'only a key of another type', user: (k) => [`${k.name} ${k.ecdsa}`] },
  { name: 'another type and the same key', user: (k) => [`${k.name} ${k.ecdsa}\n${k.name} ${k.server}`] },
  { name: 'same key, @revoked for the host', user: (k) => [`${k.name} ${k.server}\n@revoked ${k.name} ${k.server}`] },
  { name: 'same key, @revoked for *', user: (k) => [`@revoked * ${k.server}`] },
  { name: 'other key @revoked, same key trusted', user: (k) => [`@revoked * ${k.otherEd25519}\n${k.name} ${k.server}`] },
  { name: '@cert-authority for the host only', user: (k) => [`@cert-authority ${k.name} ${k.ca}`] },
  { name: 'HostKeyAlias names the entry', user: (k) => [`gadi-alias ${k.server}`], config: ['HostKeyAlias gadi-alias'] },
  { name: 'HostKeyAlias, entry under host only', user: (k) => [`${k.name} ${k.server}`], config: ['HostKeyAlias gadi-alias'] },
  { name: 'HostKeyAlias with another key', user: (k) => [`gadi-alias ${k.otherEd25519}`], config: ['HostKeyAlias gadi-alias'] },
  { name: 'key in the second user file', user: (k) => ['', `${k.name} ${k.server}`] },
  { name: 'other key in file 1, same in file 2', user: (k) => [`${k.name} ${k.otherEd25519}`, `${k.name} ${k.server}`] },
  { name: 'key in GlobalKnownHostsFile', user: () => [''], global: (k) => `${k.name} ${k.server}` },
  { name: 'other key in GlobalKnownHostsFile', user: () => [''], global: (k) => `${k.name} ${k.otherEd25519}` },
  { name: 'wildcard pattern', user: (k) => [`[127.0.0.?]:${k.port} ${k.server}`] },
  { name: 'pattern negated for this host', user: (k) => [`[127.0.0.*]:${k.port},![127.0.0.1]:${k.port} ${k.server}`] },
  { name: 'entry for port 22 only', user: (k) => [`127.0.0.1 ${k.server}`] },
  { name: 'other key for port 22 only', user: (k) => [`127.0.0.1 ${k.otherEd25519}`] },
  { name: 'UpdateHostKeys yes, same key', user: (k) => [`${k.name} ${k.server}`], config: ['UpdateHostKeys yes'] },
];

type Verdict = 'connect' | 'connect-changed' | 'connect-revoked' | 'refuse-unknown' | 'refuse-changed' | 'refuse-revoked';

class RecordingPrompt implements SshPrompt {
  asked = 0;
  async askSecret(_m: string, _k: SecretKind): Promise<string | undefined> {
    return undefined;
  }
  async confirmHostKey(): Promise<boolean> {
    this.asked++;
    return false; // BatchMode: nobody answers
  }
}

function publicKey(file: string): string {
  return readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
}

/** A fresh directory with the situation's files and an ssh config naming them. */
function lay(situation: Situation, mode: Mode, keys: Keys, who: string): { dir: string; config: string; firstFile: string } {
  const dir = join(work, `${SITUATIONS.indexOf(situation)}-${mode}-${who}`);
  mkdirSync(dir, { recursive: true });
  const userFiles = situation.user(keys).map((text, i) => {
    const f = join(dir, `known_hosts_${i + 1}`);
    writeFileSync(f, text ? `${text}\n` : '');
    return f;
  });
  const global = join(dir, 'global_known_hosts');
  writeFileSync(global, situation.global ? `${situation.global(keys)}\n` : '');
  const identity = join(dir, 'id');
  copyFileSync(sb.privateKeyPath, identity);
  const config = join(dir, 'ssh_config');
  writeFileSync(config, [
    'Host target',
    '  HostName 127.0.0.1',
    `  Port ${keys.port}`,
    `  User ${sb.user}`,
    `  IdentityFile ${identity}`,
    '  IdentitiesOnly yes',
    `  UserKnownHostsFile ${userFiles.join(' ')}`,
    `  GlobalKnownHostsFile ${global}`,
    `  StrictHostKeyChecking ${mode}`,
    '  CheckHostIP no',
    ...(situation.config ?? []).map((l) => `  ${l}`),
    '',
  ].join('\n'));
  execFileSync('chmod', ['600', identity]);
  return { dir, config, firstFile: userFiles[0] };
}

function lines(file: string): number {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
}

function openssh(situation: Situation, mode: Mode, keys: Keys): { verdict: Verdict; added: number; stderr: string } {
  const { config, firstFile } = lay(situation, mode, keys, 'ssh');
  const before = lines(firstFile);
  const r = spawnSync('ssh', ['-o', 'BatchMode=yes', '-F', config, 'target', 'true'], { encoding: 'utf8', timeout: 20_000 });
  const changed = /REMOTE HOST IDENTIFICATION HAS CHANGED/.test(r.stderr);
  let verdict: Verdict;
  const revoked = /revoked/i.test(r.stderr);
  if (r.status === 0) verdict = changed ? 'connect-changed' : revoked ? 'connect-revoked' : 'connect';
  else if (revoked) verdict = 'refuse-revoked';
  else verdict = changed ? 'refuse-changed' : 'refuse-unknown';
  return { verdict, added: lines(firstFile) - before, stderr: r.stderr };
}

async function project(situation: Situation, mode: Mode, keys: Keys): Promise<{ verdict: Verdict; asked: number; added: number; message: string }> {
  const { config, firstFile } = lay(situation, mode, keys, 'project');
  const before = lines(firstFile);
  const prompt = new RecordingPrompt();
  const pool = new SshTransportPool({ prompt, agent: null, sshConfig: { configFile: config, systemConfigFile: null }, reconnectAttempts: 0 });
  try {
    const r = await pool.open('target').exec('true');
    assert.equal(r.code, 0);
    return { verdict: 'connect', asked: prompt.asked, added: lines(firstFile) - before, message: '' };
  } catch (e) {
    if (!(e instanceof HostKeyError)) throw e;
    const verdict: Verdict = e.problem === 'revoked' ? 'refuse-revoked' : e.problem === 'changed' ? 'refuse-changed' : 'refuse-unknown';
    return { verdict, asked: prompt.asked, added: lines(firstFile) - before, message: e.message };
  } finally {
    await pool.close();
  }
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'host-key-oracle-'));
  sb = await startSandbox({ user: USER, pbsEmulatorDir: null });
});

after(async () => {
  await sb?.stop();
  rmSync(work, { recursive: true, force: true });
});

test(`OpenSSH and the project decide alike: ${SITUATIONS.length} known_hosts situations × ${MODES.length} modes`, async () => {
  const keyDir = join(work, 'keys');
  mkdirSync(keyDir);
  const gen = (name: string, type: string) => {
    const f = join(keyDir, name);
    execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', f]);
    return publicKey(f);
  };
  const keys: Keys = {
    name: `[127.0.0.1]:${sb.port}`,
    port: sb.port,
    server: sb.hostPublicKey,
    otherEd25519: gen('other_ed25519', 'ed25519'),
    ecdsa: gen('other_ecdsa', 'ecdsa'),
    ca: gen('ca', 'ed25519'),
  };

  const rows: string[] = [];
  const problems: string[] = [];
  let stricter = 0;
  for (const s of SITUATIONS) {
    const cells: string[] = [];
    for (const mode of MODES) {
      const ssh = openssh(s, mode, keys);
      const ours = await project(s, mode, keys);
      // BatchMode: where the project would ask, ssh refuses without asking.
      const oursBatch = ours.verdict;
      let agree: boolean;
      if (ssh.verdict === 'connect-changed' || ssh.verdict === 'connect-revoked') {
        // Stricter by design: a changed or revoked key is never used, whatever StrictHostKeyChecking says.
        agree = oursBatch === (ssh.verdict === 'connect-changed' ? 'refuse-changed' : 'refuse-revoked');
        if (agree) stricter++;
      } else {
        agree = ssh.verdict === oursBatch && ssh.added === ours.added;
      }
      if (ours.asked && mode !== 'ask') agree = false; // only "ask" may ask
      if (!agree) problems.push(`${s.name} / ${mode}: ssh ${ssh.verdict} (+${ssh.added} keys) but project ${ours.verdict}${ours.asked ? ' after asking' : ''} (+${ours.added})\n  ssh: ${ssh.stderr.trim().split('\n').at(-1)}\n  project: ${ours.message}`);
      if (ours.verdict === 'refuse-changed') {
        assert.match(ours.message, /ssh-keygen -R/, `${s.name}/${mode}: the advice is given`);
        assert.match(ours.message, /SHA256:/, `${s.name}/${mode}: the fingerprint is shown`);
      }
      const short = ssh.verdict === oursBatch ? ssh.verdict : `${ssh.verdict}→${oursBatch}`;
      cells.push(`${agree ? ' ' : '✗'}${short}${ours.asked ? '(asked)' : ''}${ssh.added ? ` +${ssh.added}` : ''}`);
    }
    rows.push([s.name.padEnd(40), ...cells.map((c) => c.padEnd(34))].join(''));
  }
  const header = ['situation'.padEnd(40), ...MODES.map((m) => m.padEnd(34))].join('');
  console.log(`\nHost key oracle: ssh verdict (→ project's where it differs; +N keys added to known_hosts)\n${header}\n${rows.join('\n')}\n` +
    `${SITUATIONS.length * MODES.length - problems.length} of ${SITUATIONS.length * MODES.length} cells agree` +
    ` (${stricter} of them where OpenSSH connects despite a CHANGED or REVOKED key and the project refuses)`);
  assert.deepEqual(problems, []);
  // The type change refuses in every mode: OpenSSH agrees in all but "no", where the project is stricter.
  const typeChange = SITUATIONS.find((x) => x.name === 'only a key of another type')!;
  for (const mode of MODES) assert.equal((await project(typeChange, mode, keys)).verdict, 'refuse-changed', mode);
});
