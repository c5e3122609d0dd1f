// The CLI as an adversary would meet it, through the real sshd and the PBS emulator: a config with a newline that
// would cut qsub's directives short, PBS output carrying terminal escape sequences, numbers out of range, a missing
// ssh config, and secrets (a prologue token, a key passphrase) that must appear nowhere the project writes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { smallClusterYaml } from './clusterFixture';
import { startSandbox, type Sandbox } from './sandbox';

const USER = 'gdclisec';
const ROOT = resolve(__dirname, '..', '..');
const TSX = require.resolve('tsx');
const CLI = join(ROOT, 'src', 'cli', 'cli.ts');
const HOSTILE = '\u001b[2J\u001b]0;pwned\u0007\u009b';

let sb: Sandbox;
let work: string;

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: Buffer;
}

/** `gadi-dask <args>` over ssh to the sandbox, its stdout and stderr as bytes. */
function cli(args: string[], config: string, sshConfig = sb.sshConfigPath): Promise<Run> {
  return new Promise((done, fail) => {
    const p = spawn(process.execPath, ['--import', TSX, CLI, ...args, '--config', config, '--ssh-config', sshConfig], {
      env: { ...process.env, SSH_AUTH_SOCK: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => err.push(d));
    p.on('error', fail);
    p.on('close', (code) => done({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
  });
}

/** Writes a file in the sandbox user's home, owned by them. */
function writeHome(rel: string, text: string, mode = 0o644): string {
  const file = join(sb.home, rel);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text, { mode });
  chownSync(file, sb.uid, sb.gid);
  chownSync(join(file, '..'), sb.uid, sb.gid);
  return file;
}

/** The emulator's commands, wrapped: every qsub is logged, and flag files make qsub or qstat hostile. */
function installWrappers(): void {
  const real = sb.pbsBinDir!;
  writeHome('wrap/qsub', [
    '#!/bin/bash',
    'printf "%s\\n" "$*" >> "$HOME/qsub.calls"',
    'if [ -e "$HOME/hostile-qsub" ]; then',
    `  printf 'qsub: \\033[2J\\033]0;pwned\\007 Unknown queue\\n' >&2`,
    '  exit 170',
    'fi',
    `exec ${real}/qsub "$@"`,
    '',
  ].join('\n'), 0o755);
  writeHome('wrap/qstat', [
    '#!/bin/bash',
    'if [ -e "$HOME/hostile-qstat" ] && [[ " $* " == *" json "* ]]; then',
    // JSON carries the controls as \u escapes; after parsing, the queue name holds raw ESC, BEL and CSI (C1).
    `  ${real}/qstat "$@" | sed -E 's/("queue":[[:space:]]*")([^"]*)"/\\1\\2\\\\u001b[2J\\\\u001b]0;pwned\\\\u0007\\\\u009b"/'`,
    '  exit "${PIPESTATUS[0]}"',
    'fi',
    `exec ${real}/qstat "$@"`,
    '',
  ].join('\n'), 0o755);
  appendFileSync(join(sb.home, '.bash_profile'), 'export PATH="$HOME/wrap:$PATH"\n');
}

const qsubCalls = () => {
  try {
    return readFileSync(join(sb.home, 'qsub.calls'), 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
};

/** No ESC, BEL, CSI or other control byte but newline and tab: the terminal gets text, not commands. */
function assertInert(bytes: Buffer, what: string): void {
  const text = bytes.toString('utf8');
  const bad = [...text].filter((ch) => {
    const c = ch.charCodeAt(0);
    return (c < 0x20 && ch !== '\n' && ch !== '\t') || (c >= 0x7f && c <= 0x9f);
  });
  assert.deepEqual(bad, [], `${what} carries control characters: ${JSON.stringify(text)}`);
}

before(async () => {
  sb = await startSandbox({ user: USER });
  work = mkdtempSync(join(tmpdir(), 'cli-security-'));
  chmodSync(work, 0o755);
  installWrappers();
});

after(async () => {
  await sb?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the lint gate', { concurrency: false }, () => {
  test('a newline in queue never reaches qsub: scale refuses with file:line:col and submits nothing', async () => {
    const config = join(work, 'newline.dask-cluster.yaml');
    writeFileSync(config, smallClusterYaml('sec-newline', sb.alias, '    queue: "normal\\n#PBS -l walltime=99:00:00"\n'));
    const before = qsubCalls();
    for (const args of [['scale', '1'], ['up'], ['adapt', '0', '2']]) {
      const r = await cli(args, config);
      const err = r.stderr.toString('utf8');
      assert.equal(r.code, 3, `${args.join(' ')}: ${err}`);
      assert.match(err, new RegExp(`${config.replace(/[.]/g, '\\.')}:\\d+:\\d+ This value holds a newline: "normal\\\\n#PBS -l walltime=99:00:00"`));
      assert.match(err, /nothing was submitted/);
    }
    assert.equal(qsubCalls(), before, 'qsub never ran');
    assert.equal(existsIn(join(sb.home, '.gadi-dask', 'clusters'), 'sec-newline'), false, 'no remote state either');
  });

  test('warnings do not block: a config with only a warning gets past the gate', async () => {
    const config = join(work, 'warning.dask-cluster.yaml');
    // dask/worker-memory: under 1 GiB per worker process is a warning.
    writeFileSync(config, smallClusterYaml('sec-warning', sb.alias).replace('memory: 1GB', 'memory: 500MB'));
    const lint = spawnSync(process.execPath, ['--import', TSX, CLI, 'lint', config], { encoding: 'utf8' });
    assert.match(lint.stdout, / warning /, lint.stdout);
    assert.equal(lint.status, 0, 'only warnings');
    const r = await cli(['adapt', 'off'], config);
    assert.doesNotMatch(r.stderr.toString('utf8'), /nothing was submitted/);
  });
});

function existsIn(dir: string, name: string): boolean {
  try {
    return readdirSync(dir).includes(name);
  } catch {
    return false;
  }
}

describe('numbers and files the CLI is given', { concurrency: false }, () => {
  test('scale 1.5, -1 and 1000000000 are clear usage errors (the last above the job ceiling), with no Node warning and no connection', async () => {
    const config = join(work, 'bounds.dask-cluster.yaml');
    writeFileSync(config, smallClusterYaml('sec-bounds', sb.alias));
    const expected: Record<string, RegExp> = {
      '1.5': /N must be a whole number, not "1\.5"/,
      '-1': /takes whole numbers from 0 up, not "-1"/,
      '1000000000': /Scaling the cluster to 1000000000 worker jobs is refused: that is above a ceiling of 300 jobs queued or running per user \(the default: .*; set scheduler\.max-jobs in the cluster config to change it\)\. Nothing was submitted\./,
    };
    for (const [n, message] of Object.entries(expected)) {
      const r = await cli(['scale', n], config);
      const err = r.stderr.toString('utf8');
      assert.equal(r.code, 2, err);
      assert.match(err, message);
      assert.doesNotMatch(err, /Warning|TimeoutOverflow|timed out/i);
    }
    const r = await cli(['scale', '1', '--timeout', '99999999999'], config.replace('bounds', 'missing'));
    assert.doesNotMatch(r.stderr.toString('utf8'), /TimeoutOverflowWarning/);
  });

  test('an --ssh-config that does not exist is an error naming it, not a silent fallback to ~/.ssh/config', async () => {
    const config = join(work, 'nossh.dask-cluster.yaml');
    writeFileSync(config, smallClusterYaml('sec-nossh', sb.alias));
    const missing = join(work, 'no-such-ssh-config');
    const r = await cli(['status'], config, missing);
    const err = r.stderr.toString('utf8');
    assert.equal(r.code, 4, err);
    assert.ok(err.includes(missing) && /no such file/.test(err), err);
  });
});

describe('remote text reaches the terminal inert', { concurrency: false }, () => {
  const config = () => join(work, 'escapes.dask-cluster.yaml');
  before(() => writeFileSync(config(), smallClusterYaml('sec-escapes', sb.alias)));
  after(async () => {
    rmSync(join(sb.home, 'hostile-qsub'), { force: true });
    rmSync(join(sb.home, 'hostile-qstat'), { force: true });
    await cli(['down', '--purge'], config());
  });

  test("qsub's stderr with ESC[2J and an OSC title: shown escaped, never as raw bytes", async () => {
    writeHome('hostile-qsub', '');
    const r = await cli(['scale', '1', '--no-wait'], config());
    rmSync(join(sb.home, 'hostile-qsub'));
    assert.notEqual(r.code, 0);
    assertInert(r.stdout, 'stdout');
    assertInert(r.stderr, 'stderr');
    assert.ok(r.stderr.toString('utf8').includes('\\e[2J\\e]0;pwned\\x07'), r.stderr.toString('utf8'));
  });

  test("qstat's queue field carrying the same: status shows it escaped, in text and in JSON", async () => {
    const up = await cli(['up'], config());
    assert.equal(up.code, 0, up.stderr.toString('utf8'));
    writeHome('hostile-qstat', '');
    const r = await cli(['status'], config());
    const json = await cli(['status', '--json'], config());
    rmSync(join(sb.home, 'hostile-qstat'));
    for (const [what, run] of [['status', r], ['status --json', json]] as const) {
      assertInert(run.stdout, `${what} stdout`);
      assertInert(run.stderr, `${what} stderr`);
    }
    assert.ok(r.stdout.toString('utf8').includes('\\e[2J\\e]0;pwned\\x07\\x9b'), r.stdout.toString('utf8'));
    assert.ok(JSON.stringify(JSON.parse(json.stdout.toString('utf8'))).includes(JSON.stringify(HOSTILE).slice(1, -1)), 'JSON keeps the value, escaped');
  });
});

describe('secrets', { concurrency: false }, () => {
  const TOKEN = `tok-${Math.random().toString(36).slice(2)}-secret`;
  const PASSPHRASE = `pass-${Math.random().toString(36).slice(2)}-phrase`;
  let config: string;
  let sshConfig: string;
  const argvSeen = new Set<string>();
  const outputs: Buffer[] = [];

  before(() => {
    const key = join(work, 'id_protected');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', PASSPHRASE, '-C', 'protected', '-f', key]);
    appendFileSync(join(sb.home, '.ssh', 'authorized_keys'), readFileSync(`${key}.pub`));
    sshConfig = join(work, 'ssh_config_protected');
    writeFileSync(sshConfig, [
      `Host ${sb.alias}`, '  HostName 127.0.0.1', `  Port ${sb.port}`, `  User ${sb.user}`, `  IdentityFile ${key}`,
      '  IdentitiesOnly yes', `  UserKnownHostsFile ${sb.knownHostsPath}`, '  StrictHostKeyChecking yes', '',
    ].join('\n'));
    config = join(work, 'secrets.dask-cluster.yaml');
    writeFileSync(config, smallClusterYaml('sec-secrets', sb.alias, `    job-script-prologue: ['export API_TOKEN=${TOKEN}']\n`));
  });

  /** The CLI on a pseudo-terminal (script(1)), typing the passphrase when asked; every process's argv is sampled. */
  function onTerminal(args: string[]): Promise<{ code: number | null; out: Buffer }> {
    const line = [process.execPath, '--import', TSX, CLI, ...args, '--config', config, '--ssh-config', sshConfig].map((a) => `'${a}'`).join(' ');
    return new Promise((done, fail) => {
      const p = spawn('script', ['-qec', line, '/dev/null'], { env: { ...process.env, SSH_AUTH_SOCK: '' }, stdio: ['pipe', 'pipe', 'pipe'] });
      const chunks: Buffer[] = [];
      let typed = 0;
      const sample = setInterval(() => {
        for (const args of spawnSync('ps', ['-eo', 'args='], { encoding: 'utf8' }).stdout.split('\n')) argvSeen.add(args);
      }, 25);
      const onData = (d: Buffer) => {
        chunks.push(d);
        const asked = (Buffer.concat(chunks).toString('utf8').match(/Passphrase for|passphrase/gi) ?? []).length;
        if (asked > typed) {
          typed = asked;
          p.stdin.write(`${PASSPHRASE}\r`);
        }
      };
      p.stdout.on('data', onData);
      p.stderr.on('data', onData);
      p.on('error', fail);
      p.on('close', (code) => {
        clearInterval(sample);
        const out = Buffer.concat(chunks);
        outputs.push(out);
        done({ code, out });
      });
    });
  }

  test('up, scale, status and down with a prologue token and a passphrase-protected key', async () => {
    const up = await onTerminal(['up']);
    assert.equal(up.code, 0, up.out.toString('utf8'));
    const scale = await onTerminal(['scale', '1']);
    assert.equal(scale.code, 0, scale.out.toString('utf8'));
    const status = await onTerminal(['status']);
    assert.equal(status.code, 0, status.out.toString('utf8'));
    const down = await onTerminal(['down']);
    assert.equal(down.code, 0, down.out.toString('utf8'));
  });

  const secretsIn = (what: string, text: string) =>
    ([['token', TOKEN], ['passphrase', PASSPHRASE]] as const).filter(([, secret]) => text.includes(secret)).map(([name]) => `${name} in ${what}`);

  test('the token and the passphrase appear in no output and no file the project wrote', () => {
    const found: string[] = [];
    outputs.forEach((o, i) => found.push(...secretsIn(`the output of run ${i + 1}`, o.toString('utf8'))));
    // What the project keeps on the cluster account, and beside the config here (the config and key excepted).
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (p !== config && !name.startsWith('id_protected')) found.push(...secretsIn(p, readFileSync(p, 'latin1')));
      }
    };
    walk(join(sb.home, '.gadi-dask'));
    walk(work);
    assert.ok(outputs.length === 4 && outputs.every((o) => o.length > 0), 'four runs were captured');
    assert.deepEqual(found, []);
  });

  test('no process argv, as `ps` shows any user, carries the token or the passphrase', () => {
    assert.ok(argvSeen.size > 10, 'ps was sampled');
    const found = [...argvSeen].flatMap((args) => secretsIn(`argv "${args.slice(0, 120)}…"`, args));
    assert.deepEqual(found, []);
  });
});
