import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describeExitStatus, PBS_STATES, pbsState, QDEL_EXIT_STATUSES } from '../../src/core/pbs/states';

test('every PBS Pro job state letter is in the table, with its phase', () => {
  const phases = Object.fromEntries(Object.values(PBS_STATES).map((s) => [s.code, s.phase]));
  assert.deepEqual(phases, {
    Q: 'pending', H: 'pending', W: 'pending', T: 'pending',
    R: 'running', B: 'running', E: 'running', S: 'running', U: 'running',
    F: 'finished', X: 'finished', M: 'finished',
  });
  for (const [key, info] of Object.entries(PBS_STATES)) {
    assert.equal(info.code, key);
    assert.equal(info.active, !info.finished);
    assert.ok(info.label.length > 0 && info.meaning.endsWith('.'), key);
  }
});

test('pbsState looks letters up and keeps an unknown one active', () => {
  assert.equal(pbsState('R'), PBS_STATES.R);
  assert.equal(pbsState('Q').label, 'Queued');
  assert.equal(pbsState('F').finished, true);
  const unknown = pbsState('Z');
  assert.deepEqual([unknown.phase, unknown.active, unknown.finished, unknown.label], ['unknown', true, false, 'State Z']);
  assert.equal(pbsState('Z'), unknown);
  assert.equal(pbsState('toString').phase, 'unknown'); // not an inherited property
});

test('exit statuses: script codes, signals (qdel gives 271) and PBS codes (walltime gives -29)', () => {
  assert.equal(describeExitStatus(0), 'finished normally (exit status 0)');
  assert.equal(describeExitStatus(3), 'the job script exited with status 3');
  // A shell ended by a signal exits 128 + it: 143 is SIGTERM (qdel on the emulator, or a job's own kill), not a code.
  assert.equal(describeExitStatus(143), 'the job script ended on SIGTERM: deleted (qdel) or stopped by PBS (exit status 143)');
  assert.equal(describeExitStatus(137), 'the job script ended on SIGKILL (exit status 137)');
  assert.equal(describeExitStatus(128), 'the job script exited with status 128');
  assert.equal(describeExitStatus(271), 'killed by SIGTERM: deleted (qdel) or stopped by PBS (exit status 271)');
  assert.equal(describeExitStatus(265), 'killed by SIGKILL (exit status 265)');
  assert.equal(describeExitStatus(-29), 'killed by PBS: walltime exceeded (exit status -29)');
  assert.equal(describeExitStatus(-27), 'killed by PBS: memory above the requested mem (exit status -27)');
  assert.equal(describeExitStatus(-99), 'PBS ended the job (exit status -99)');
});

test("the runtime's SIGTERM exit statuses are this side's qdel statuses, without the clean 0", () => {
  const py = execFileSync('python3', ['-c', 'from gadi_dask import pbs; print(" ".join(map(str, pbs.SIGTERM_EXIT_STATUSES)))'],
    { cwd: resolve(__dirname, '..', '..', 'runtime'), encoding: 'utf8' });
  assert.deepEqual(py.trim().split(' ').map(Number), QDEL_EXIT_STATUSES.filter((s) => s !== 0));
});
