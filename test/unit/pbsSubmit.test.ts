// qsub's refusals as the user reads them (the agent runs qsub; this side explains what it answered).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JOB_ID, qsubError, QsubQueueLimitError } from '../../src/core/pbs/submit';

test('exit 0 without a job id, and unreadable statuses, are errors that quote what qsub printed', () => {
  assert.match(qsubError(0, 'something else', '').message, /exited 0 but printed no job id: "something else"/);
  const unreadable = qsubError(NaN, '', 'killed');
  assert.equal(unreadable.exitCode, undefined);
  assert.match(unreadable.message, /unreadable status: killed/);
});

test('exit 32 without a word is Gadi\'s queue limit; with a message it is an ordinary failure', () => {
  assert.ok(!(qsubError(32, '', 'qsub: Job violates queue limits') instanceof QsubQueueLimitError));
  const limit = qsubError(32, '', '  \n');
  assert.ok(limit instanceof QsubQueueLimitError);
  assert.match(limit.message, /gadi-dask lint/);
});

test('a message whose fix is in the config gets its hint', () => {
  assert.match(qsubError(188, '', 'qsub: "-lncpus" cannot be used with "select" or "place"').message, /job-directives-skip/);
  assert.match(qsubError(188, '', 'qsub: Job exceeds queue resource limits').message, /run the linter/);
  assert.doesNotMatch(qsubError(1, '', 'qsub: Unknown queue').message, /linter|skip/);
});

test('job ids: plain, array and array sub-jobs; nothing around them', () => {
  for (const id of ['123.gadi-pbs', '6[].gadi-pbs', '6[2].gadi-pbs', '42']) assert.match(id, JOB_ID);
  for (const id of ['x1.gadi-pbs', '1.gadi-pbs; rm -rf ~', '', '1 .gadi']) assert.doesNotMatch(id, JOB_ID);
});
