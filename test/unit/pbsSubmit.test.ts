import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildCancelCommand, buildSubmitCommand, newMarker, parseCancelOutput, parseSubmitOutput, PbsOutputError, QsubError,
  qsubError, QsubQueueLimitError, type CancelResult, type SubmitJob,
} from '../../src/core/pbs/submit';

// Stand-ins for qsub and qdel that answer as the real ones did in shared/pbs-samples: qsub prints `N.gadi-pbs` and
// records its stdin and arguments; scripts containing FAIL32 or FAILMSG fail as Gadi's qsub does.
function fakePbs() {
  const dir = mkdtempSync(join(tmpdir(), 'gd-pbs-'));
  const tool = (name: string, body: string) => {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}`);
    chmodSync(join(dir, name), 0o755);
  };
  tool('qsub', `
n=$(cat "${dir}/counter" 2>/dev/null || echo 100); n=$((n+1)); echo $n > "${dir}/counter"
cat > "${dir}/script.$n"
for a in "$@"; do printf '%s\\0' "$a"; done > "${dir}/args.$n"
if grep -q FAIL32 "${dir}/script.$n"; then exit 32; fi
if grep -q FAILMSG "${dir}/script.$n"; then echo 'qsub: "-lresource=" cannot be used with "select" or "place", resource is: ncpus' >&2; exit 1; fi
echo "$n.gadi-pbs"
`);
  tool('qdel', `
for a in "$@"; do case $a in
  7.gadi-pbs) echo "qdel: Job has finished $a" >&2; exit 35;;
  9999.gadi-pbs) echo "qdel: Unknown Job Id $a" >&2; exit 153;;
  666.gadi-pbs) echo "qdel: Unauthorized Request  $a" >&2; exit 159;;
esac; done
printf '%s\\0' "$@" >> "${dir}/qdel.log"
exit 0
`);
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp);
  const run = (command: string) => {
    const r = spawnSync('bash', ['-c', `echo 'Welcome to Gadi'; ${command}; echo 'Last login banner'`], {
      env: { PATH: `${dir}:/usr/bin:/bin`, HOME: dir, TMPDIR: tmp },
    });
    return r.stdout.toString();
  };
  const submitted = (n: number) => ({
    script: readFileSync(join(dir, `script.${n}`), 'utf8'),
    args: readFileSync(join(dir, `args.${n}`), 'utf8').split('\0').slice(0, -1),
  });
  return { dir, tmp, run, submitted, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test('N scripts in one command: byte-exact scripts, quoted arguments, one id each, in order', () => {
  const pbs = fakePbs();
  try {
    const hostile = "#!/usr/bin/env bash\n#PBS -N x\necho 'it''s' \"$HOME\" `id` $(id) \\\n; exit 0 \u00e9\n\n";
    const jobs: SubmitJob[] = [
      { script: hostile },
      { script: 'two\n', qsubArgs: ['-N', 'name with space', '-v', "GADI_DASK_CLUSTER=a'b;c"] },
      { script: 'three\n' },
    ];
    const plan = buildSubmitCommand(jobs);
    const outcome = parseSubmitOutput(pbs.run(plan.command), plan);
    assert.deepEqual(outcome.results, [
      { index: 0, ok: true, jobId: '101.gadi-pbs', stderr: '' },
      { index: 1, ok: true, jobId: '102.gadi-pbs', stderr: '' },
      { index: 2, ok: true, jobId: '103.gadi-pbs', stderr: '' },
    ]);
    assert.deepEqual(outcome.warnings, []);
    assert.deepEqual(pbs.submitted(101), { script: hostile, args: [] });
    assert.deepEqual(pbs.submitted(102), { script: 'two\n', args: ['-N', 'name with space', '-v', "GADI_DASK_CLUSTER=a'b;c"] });
    // qsub's stderr went through a temporary directory, which is gone afterwards.
    assert.deepEqual(readdirSync(pbs.tmp), []);
    assert.match(plan.command, /mktemp -d/);
  } finally {
    pbs.cleanup();
  }
});

test('workers depend on the scheduler job submitted in the same command; a failed dependency skips its dependents', () => {
  const pbs = fakePbs();
  try {
    const plan = buildSubmitCommand([
      { script: 'scheduler\n' },
      { script: 'worker\n', dependsOn: { on: [0] } },
      { script: 'worker\n', dependsOn: { type: 'afterok', on: [0, '55[].gadi-pbs'] } },
      { script: 'FAIL32\n' },
      { script: 'after the failure\n', dependsOn: { on: [3] } },
      { script: 'FAILMSG\n' },
      { script: 'last\n' },
    ], { mkdirs: [join(pbs.dir, 'logs dir/nested')] });
    const { results } = parseSubmitOutput(pbs.run(plan.command), plan);
    assert.deepEqual(results.map((r) => (r.ok ? r.jobId : r.error.name)),
      ['101.gadi-pbs', '102.gadi-pbs', '103.gadi-pbs', 'QsubQueueLimitError', 'QsubError', 'QsubError', '106.gadi-pbs']);
    assert.deepEqual(pbs.submitted(102).args, ['-W', 'depend=after:101.gadi-pbs']);
    assert.deepEqual(pbs.submitted(103).args, ['-W', 'depend=afterok:101.gadi-pbs:55[].gadi-pbs']);
    assert.ok(statSync(join(pbs.dir, 'logs dir/nested')).isDirectory());

    const limit = results[3];
    assert.ok(!limit.ok && limit.error instanceof QsubQueueLimitError && limit.error instanceof QsubError);
    assert.equal(limit.error.exitCode, 32);
    assert.match(limit.error.message, /exit status 32 and no message.*queue.*linter/s);
    const skipped = results[4];
    assert.ok(!skipped.ok);
    assert.equal(skipped.error.exitCode, undefined);
    assert.equal(skipped.error.message, 'Not submitted: it depends on job 4 of this batch, which was not submitted.');
    const mixed = results[5];
    assert.ok(!mixed.ok);
    assert.equal(mixed.error.exitCode, 1);
    assert.match(mixed.error.message, /^qsub failed with exit status 1: qsub: "-lresource=" cannot be used.*job-directives-skip/);
    assert.match(mixed.error.stderr, /resource is: ncpus/);
  } finally {
    pbs.cleanup();
  }
});

test('a directory that cannot be created is a warning, not a failed submission', () => {
  const pbs = fakePbs();
  try {
    writeFileSync(join(pbs.dir, 'file'), '');
    const plan = buildSubmitCommand([{ script: 'x\n' }], { mkdirs: [join(pbs.dir, 'file', 'logs')] });
    const outcome = parseSubmitOutput(pbs.run(plan.command), plan);
    assert.equal(outcome.results[0].ok, true);
    assert.equal(outcome.warnings.length, 1);
    assert.match(outcome.warnings[0], /Could not create a directory before submitting: .*Not a directory/);
  } finally {
    pbs.cleanup();
  }
});

test('a missing qsub fails every job with its message; the output is still read', () => {
  const bin = mkdtempSync(join(tmpdir(), 'gd-noqsub-'));
  try {
    // Only the tools the command uses besides qsub.
    for (const tool of ['mktemp', 'cat', 'rm', 'mkdir']) {
      const found = ['/usr/bin', '/bin'].map((d) => join(d, tool)).find((p) => spawnSync('test', ['-x', p]).status === 0);
      if (found) symlinkSync(found, join(bin, tool));
    }
    const plan = buildSubmitCommand([{ script: 'x\n' }, { script: 'y\n' }]);
    const stdout = spawnSync('/bin/bash', ['-c', plan.command], { env: { PATH: bin } }).stdout.toString();
    const { results } = parseSubmitOutput(stdout, plan);
    assert.equal(results.length, 2);
    for (const r of results) {
      assert.ok(!r.ok);
      assert.equal(r.error.exitCode, 127);
      assert.match(r.error.message, /qsub.*not found/);
    }
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});

const M = 'GADI-DASK-0123456789abcdef';
const output = (...lines: string[]) => lines.join('\n');

test('parsing ignores banners and marker-looking noise outside begin/end; CRLF line ends are fine', () => {
  const plan = { command: '', marker: M, count: 2, dependencies: [[], []] };
  const text = output(
    'Welcome', `${M}:job:0:rc:0`, `${M}:begin`,
    `${M}:job:0:stdout`, '12345678.gadi-pbs', `${M}:job:0:stderr`, '', `${M}:job:0:rc:0`,
    `${M}:job:1:stdout`, '', `${M}:job:1:stderr`, 'qsub: Unknown queue', '', `${M}:job:1:rc:170`,
    `${M}:end`, `${M}:job:1:rc:0`, 'bye',
  ).replace(/\n/g, '\r\n');
  const { results } = parseSubmitOutput(text, plan);
  assert.deepEqual(results[0], { index: 0, ok: true, jobId: '12345678.gadi-pbs', stderr: '' });
  assert.ok(!results[1].ok);
  assert.equal(results[1].error.message, 'qsub failed with exit status 170: qsub: Unknown queue');
});

test('output cut short: a PbsOutputError that keeps the ids already read', () => {
  const plan = { command: '', marker: M, count: 3, dependencies: [[], [], []] };
  const cut = output(`${M}:begin`, `${M}:job:0:stdout`, '1.gadi-pbs', `${M}:job:0:stderr`, `${M}:job:0:rc:0`, `${M}:job:1:stdout`, '2.gad');
  assert.throws(() => parseSubmitOutput(cut, plan), (e: unknown) => {
    assert.ok(e instanceof PbsOutputError);
    assert.match(e.message, /ends before the result of job 2 of 3/);
    assert.deepEqual(e.partial, [{ index: 0, ok: true, jobId: '1.gadi-pbs', stderr: '' }]);
    return true;
  });
  assert.throws(() => parseSubmitOutput('bash: line 1: syntax error\n', plan),
    (e: unknown) => e instanceof PbsOutputError && /printed none of its markers.*syntax error/.test(e.message));
  assert.throws(() => parseSubmitOutput('', plan), PbsOutputError);
});

test('exit 0 without a job id, and unreadable statuses, are errors too', () => {
  const plan = { command: '', marker: M, count: 2, dependencies: [[], []] };
  const { results } = parseSubmitOutput(output(`${M}:begin`,
    `${M}:job:0:stdout`, 'something else', `${M}:job:0:stderr`, `${M}:job:0:rc:0`,
    `${M}:job:1:stdout`, `${M}:job:1:stderr`, 'killed', `${M}:job:1:rc:`,
  ), plan);
  assert.ok(!results[0].ok && /exited 0 but printed no job id: "something else"/.test(results[0].error.message));
  assert.ok(!results[1].ok && results[1].error.exitCode === undefined && /unreadable status: killed/.test(results[1].error.message));
  // Exit 32 with a message is an ordinary failure: the message says what is wrong.
  assert.ok(!(qsubError(32, '', 'qsub: Job violates queue limits') instanceof QsubQueueLimitError));
  assert.ok(qsubError(32, '', '  \n') instanceof QsubQueueLimitError);
});

test('dependencies must point at earlier jobs or be job ids', () => {
  assert.throws(() => buildSubmitCommand([{ script: 'x', dependsOn: { on: [0] } }]), RangeError);
  assert.throws(() => buildSubmitCommand([{ script: 'x' }, { script: 'y', dependsOn: { on: [5] } }]), RangeError);
  assert.throws(() => buildSubmitCommand([{ script: 'x', dependsOn: { on: ['1.gadi-pbs; rm -rf ~'] } }]), /not a PBS job id/);
  assert.match(newMarker(), /^GADI-DASK-[0-9a-f]{16}$/);
  assert.notEqual(newMarker(), newMarker());
});

test('cancelling a set of jobs in one command: ok, unknown (153), finished (35), error', () => {
  const pbs = fakePbs();
  try {
    const ids = ['8.gadi-pbs', '7.gadi-pbs', '9999.gadi-pbs', '9[].gadi-pbs', '666.gadi-pbs'];
    const plan = buildCancelCommand(ids);
    const results = parseCancelOutput(pbs.run(plan.command), plan);
    assert.deepEqual(results, [
      { jobId: '8.gadi-pbs', outcome: 'ok', exitCode: 0, message: '' },
      { jobId: '7.gadi-pbs', outcome: 'finished', exitCode: 35, message: 'qdel: Job has finished 7.gadi-pbs' },
      { jobId: '9999.gadi-pbs', outcome: 'unknown', exitCode: 153, message: 'qdel: Unknown Job Id 9999.gadi-pbs' },
      { jobId: '9[].gadi-pbs', outcome: 'ok', exitCode: 0, message: '' },
      { jobId: '666.gadi-pbs', outcome: 'error', exitCode: 159, message: 'qdel: Unauthorized Request  666.gadi-pbs' },
    ]);
    assert.deepEqual(readFileSync(join(pbs.dir, 'qdel.log'), 'utf8').split('\0').slice(0, -1), ['8.gadi-pbs', '9[].gadi-pbs']);
    const forced = buildCancelCommand(['8.gadi-pbs'], { force: true });
    parseCancelOutput(pbs.run(forced.command), forced);
    assert.deepEqual(readFileSync(join(pbs.dir, 'qdel.log'), 'utf8').split('\0').slice(-4, -1), ['-W', 'force', '8.gadi-pbs']);
  } finally {
    pbs.cleanup();
  }
});

test('cancel output: messages recognised whatever the status, cut-short output reported with what was read', () => {
  const plan = { command: '', marker: M, jobIds: ['1.gadi-pbs', '2.gadi-pbs', '3.gadi-pbs'] };
  const text = output('banner', `${M}:begin`,
    `${M}:del:0:out`, 'qdel: Unknown Job Id 1.gadi-pbs', `${M}:del:0:rc:1`,
    `${M}:del:1:out`, 'qdel: Job has finished 2.gadi-pbs', `${M}:del:1:rc:1`,
    `${M}:del:2:out`);
  assert.throws(() => parseCancelOutput(text, plan), (e: unknown) => {
    assert.ok(e instanceof PbsOutputError);
    assert.match(e.message, /before the result for 3\.gadi-pbs \(3 of 3/);
    assert.deepEqual((e.partial as readonly CancelResult[]).map((r) => r.outcome), ['unknown', 'finished']);
    return true;
  });
  assert.throws(() => buildCancelCommand(['12; rm -rf ~']), /not a PBS job id/);
  assert.throws(() => parseCancelOutput('Welcome\n', plan), PbsOutputError);
});
