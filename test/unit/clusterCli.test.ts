// The command line without a cluster: job-script, help, argument and config errors with their exit statuses, and
// the terminal prompts (host key y/N with the fingerprint, hidden secrets, nothing asked without a terminal).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/cli';
import { findConfigFile } from '../../src/cli/clusterCommands';
import { EXIT } from '../../src/cli/exitCodes';
import { TerminalPrompt } from '../../src/cli/terminal';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import { renderJobScript } from '../../src/core/pbs/jobScript';

let dir: string;
const CONFIG = `connection: {host: gadi}
jobqueue:
  pbs:
    name: demo
    cores: 48
    memory: 192GB
    job-extra-directives: ['-P ab12']
`;

function io(cwd: string, tty = false) {
  let out = '';
  let err = '';
  const stdout = new PassThrough();
  stdout.on('data', (d) => (out += d));
  const stderr = Object.assign(new PassThrough(), { isTTY: tty });
  stderr.on('data', (d) => (err += d));
  const stdin: PassThrough & { isTTY: boolean; setRawMode: (on: boolean) => unknown } = Object.assign(new PassThrough(), {
    isTTY: tty, setRawMode: (_on: boolean): unknown => stdin,
  });
  return {
    io: { stdout, stderr: stderr as unknown as NodeJS.WriteStream, stdin: stdin as unknown as NodeJS.ReadStream, cwd },
    stdin,
    out: () => out,
    err: () => err,
  };
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cluster-cli-'));
  writeFileSync(join(dir, 'demo.dask-cluster.yaml'), CONFIG);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('gadi-dask', () => {
  test('job-script prints the worker script from the config in the working directory, without connecting', async () => {
    const c = io(dir);
    assert.equal(await main(['job-script'], c.io), EXIT.ok);
    const d = '~/.gadi-dask/clusters/demo';
    const expected = renderJobScript(parseClusterConfig(CONFIG).jobqueue.pbs, {
      schedulerFile: `${d}/scheduler.json`, tls: { caFile: `${d}/tls-cert.pem`, cert: `${d}/tls-cert.pem`, key: `${d}/tls-key.pem` },
    });
    assert.equal(c.out(), expected);
    assert.match(c.out(), /^#PBS -P ab12$/m);
    const s = io(dir);
    assert.equal(await main(['job-script', '--scheduler', '--config', 'demo.dask-cluster.yaml'], s.io), EXIT.ok);
    assert.match(s.out(), /^exec python3 "\$HOME"\/\.gadi-dask\/runtime\/[^/]+\/run\.py scheduler --name demo --placement job --tls on$/m);
  });

  test('--help lists the commands and the exit statuses', async () => {
    const c = io(dir);
    assert.equal(await main(['--help'], c.io), EXIT.ok);
    for (const word of ['job-script', 'scale N [--workers]', 'adapt MIN MAX', 'status [--json]', 'down [--purge] [--keep-kernel]', '--ssh-config', '--known-hosts', '--transport']) {
      assert.ok(c.out().includes(word), word);
    }
    assert.match(c.out(), /^ {2}4 {4}cannot connect/m);
    const v = io(dir);
    assert.equal(await main(['-V'], v.io), EXIT.ok);
    assert.match(v.out(), /^\d+\.\d+\.\d+\n$/);
  });

  test('usage errors exit 2 before anything connects', async () => {
    for (const argv of [['scale'], ['scale', 'two'], ['scale', '1', '2'], ['adapt', '3'], ['adapt', '4', '2'], ['status', '--purge'], ['status', '--keep-kernel'], ['down', '--keep-kernel', 'now'], ['frobnicate'], ['up', '--wait', 'soon']]) {
      const c = io(dir);
      assert.equal(await main(argv, c.io), EXIT.usage, argv.join(' '));
      assert.ok(c.err().length > 0, `${argv.join(' ')} says why`);
      assert.equal(c.out(), '');
    }
  });

  test('config problems exit 3 and say how to fix them', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'cluster-cli-empty-'));
    try {
      const none = io(empty);
      assert.equal(await main(['status'], none.io), EXIT.config);
      assert.match(none.err(), /No \*\.dask-cluster\.yaml in .*pass --config FILE/);
      writeFileSync(join(empty, 'a.dask-cluster.yaml'), CONFIG);
      writeFileSync(join(empty, 'b.dask-cluster.yml'), CONFIG);
      assert.throws(() => findConfigFile(undefined, empty), /Several cluster configs .*a\.dask-cluster\.yaml, b\.dask-cluster\.yml/);
      const bad = io(empty);
      writeFileSync(join(empty, 'bad.yaml'), 'jobqueue: {pbs: {cores: 0, memory: 1GB}}');
      assert.equal(await main(['up', '--config', 'bad.yaml'], bad.io), EXIT.config);
      assert.match(bad.err(), /jobqueue\.pbs\.cores/);
      mkdirSync(join(empty, 'nohost'));
      writeFileSync(join(empty, 'nohost', 'x.dask-cluster.yaml'), 'jobqueue: {pbs: {cores: 1, memory: 1GB}}');
      const noHost = io(join(empty, 'nohost'));
      assert.equal(await main(['status'], noHost.io), EXIT.config);
      assert.match(noHost.err(), /no connection\.host.*--transport local/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('terminal prompts', () => {
  test('without a terminal nothing is asked: unknown host keys are refused, secrets unanswered', async () => {
    const c = io(dir, false);
    const p = new TerminalPrompt({ input: c.io.stdin, output: c.io.stderr });
    assert.equal(await p.confirmHostKey('[127.0.0.1]:2222', 'SHA256:abc', 'ssh-ed25519'), false);
    assert.equal(await p.askSecret('Passphrase for key:', 'passphrase'), undefined);
    assert.equal(c.err(), '');
  });

  test('on a terminal the host key question shows the SHA256 fingerprint; only y/yes trusts it', async () => {
    for (const [answer, trusted] of [['y\n', true], ['YES\r', true], ['\n', false], ['n\n', false]] as const) {
      const c = io(dir, true);
      const p = new TerminalPrompt({ input: c.io.stdin, output: c.io.stderr });
      const asked = p.confirmHostKey('gadi.nci.org.au', 'SHA256:AbCdEf', 'ssh-ed25519');
      c.stdin.write(answer);
      assert.equal(await asked, trusted, JSON.stringify(answer));
      assert.match(c.err(), /ssh-ed25519 key fingerprint is SHA256:AbCdEf/);
      assert.match(c.err(), /\(y\/N\)\? /);
    }
  });

  test('a passphrase is read without echo', async () => {
    const c = io(dir, true);
    let raw = false;
    c.stdin.setRawMode = (on: boolean) => {
      raw = on;
      return c.stdin;
    };
    const p = new TerminalPrompt({ input: c.io.stdin, output: c.io.stderr });
    const asked = p.askSecret('Passphrase for /home/u/.ssh/id_ed25519:', 'passphrase');
    assert.equal(raw, true, 'raw mode while typing');
    c.stdin.write('s3cr');
    c.stdin.write('x\u007fet\r');
    assert.equal(await asked, 's3cret');
    assert.equal(raw, false);
    assert.ok(!c.err().includes('s3cr'), 'nothing typed is echoed');
    assert.match(c.err(), /^Passphrase for \/home\/u\/\.ssh\/id_ed25519: /);
  });
});
