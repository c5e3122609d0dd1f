// Messages that once misled, each fault made for real through the sshd sandbox: a qdel that fails, a prologue
// that exits, a python that is not one, a home that moved, a login script that reads standard input, an unusable
// TMPDIR. Each run of the CLI must name what happened and what to do.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliOverSsh, smallClusterYaml } from './clusterFixture';
import { startSandbox, type Sandbox } from './sandbox';

const USER = 'gdmessages';
// Inside a job the prologue becomes the job: it holds its place in the queue and costs nothing.
const SLEEPER = "    job-script-prologue: ['if [ -n \"$PBS_JOBID\" ]; then exec sleep 900; fi']\n";

let sb: Sandbox;
let work: string;

before(async () => {
  sb = await startSandbox({ user: USER });
  work = mkdtempSync(join(tmpdir(), 'cli-messages-'));
  chmodSync(work, 0o755);
});

after(async () => {
  await sb?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A config for cluster `name` (with `extra` under jobqueue.pbs), its path. */
function configFor(name: string, extra = SLEEPER): string {
  const file = join(work, `${name}.dask-cluster.yaml`);
  writeFileSync(file, smallClusterYaml(name, sb.alias, extra));
  return file;
}

const cli = (args: string[], config: string) => cliOverSsh(sb, args, config);

describe('messages that say what happened', { concurrency: false }, () => {
  test('a qdel that fails is listed apart with its reason, never under "Cancelled:"', async () => {
    const config = configFor('qdel-fails');
    const up = await cli(['scale', '1', '--no-wait'], config);
    assert.equal(up.code, 0, up.stderr);
    const id = /^Submitted: (\S+)$/m.exec(up.stdout)?.[1];
    assert.ok(id, up.stdout);
    sb.wrapCommand('qdel', 'echo "qdel: Server is busy, try later $*" >&2\nexit 44\n');
    try {
      const r = await cli(['scale', '0'], config);
      assert.equal(r.code, 1, r.stderr);
      assert.doesNotMatch(r.stdout, /^Cancelled:/m, r.stdout);
      assert.match(r.stdout, new RegExp(`^Not cancelled: ${id.replace(/[.[\]]/g, '\\$&')}: .*Server is busy.*; it may still run`, 'm'));
      assert.doesNotMatch(r.stderr, /… Cancelled/, 'progress does not call it cancelled either');
    } finally {
      sb.unwrapCommand('qdel');
      const down = await cli(['down'], config);
      assert.equal(down.code, 0, down.stderr);
    }
  });

  test('a job-script-prologue that exits: named, with its exit status and what it printed', async () => {
    const r = await cli(['status'], configFor('prologue-exits', "    job-script-prologue: ['echo loading modules', 'exit 3']\n"));
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /job-script-prologue of cluster prologue-exits stopped the agent's shell .*exit status 3 before python ran; it printed: loading modules/);
    assert.match(r.stderr, /remove the `exit`/);
  });

  test('python: /bin/true: the python is named as what ended without answering, not the connection', async () => {
    const config = configFor('python-true');
    writeFileSync(config, readFileSync(config, 'utf8').replace('python: /usr/bin/python3', 'python: /bin/true'));
    const r = await cli(['status'], config);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /The Python for the cluster, "\/bin\/true", ran on \S+ and ended \(exit status 0\) without the gadi-dask agent answering/);
    assert.match(r.stderr, /and printed nothing\. Is it a Python 3\.8 or newer\?/);
    assert.doesNotMatch(r.stderr, /connection dropped/);
  });

  test('a login script that moves HOME: the home directory is named', async () => {
    sb.setLoginProfile('export HOME=/nonexistent/moved-home');
    try {
      const r = await cli(['status'], configFor('moved-home'));
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /Your home directory on \S+ cannot be used \(the home directory HOME=\/nonexistent\/moved-home does not exist/);
    } finally {
      sb.setLoginProfile(null);
    }
  });

  test('a login script that reads standard input: named as such, with how to guard it', async () => {
    sb.setLoginProfile('read -r _line || true');
    try {
      const r = await cli(['status'], configFor('reads-stdin'));
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /A login script on \S+ read the gadi-dask agent's standard input before the agent could/);
      assert.match(r.stderr, /if \[ -t 0 \]/);
    } finally {
      sb.setLoginProfile(null);
    }
  });

  test('an unusable TMPDIR: the agent makes its directory where Python would, and the command works', async () => {
    sb.setLoginProfile('export TMPDIR=/nonexistent/tmp');
    try {
      const r = await cli(['status'], configFor('bad-tmpdir'));
      assert.equal(r.code, 6, r.stderr); // no scheduler runs: the status itself was answered
      assert.match(r.stdout, /^No cluster named bad-tmpdir/m);
    } finally {
      sb.setLoginProfile(null);
    }
  });
});
