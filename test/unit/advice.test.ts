// Right-sizing advice from a cluster's history: only from 3 finished jobs, a fix that edits only its key, the SU
// effect by Gadi's formula (none when cores set the charge).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adviseFromHistory, type HistoryFacts } from '../../src/core/cluster/advice';
import { parseConfigDocument } from '../../src/core/config/document';

const GiB = 2 ** 30;
const CONFIG = `jobqueue:
  pbs:
    name: demo
    cores: 48
    memory: 192GB   # what every job asks for
    walltime: '10:00:00'
    queue: normal
`;

const job = (peakGiB: number, minutes: number, ncpus = 48) => ({
  queue: 'normal', ncpus, memPeakBytes: peakGiB * GiB, memRequestBytes: 192 * GiB, walltimeSeconds: minutes * 60, walltimeLimitSeconds: 10 * 3600,
});

function apply(text: string, edit: { range: { start: { line: number; character: number }; end: { line: number; character: number } }; newText: string }): string {
  const doc = parseConfigDocument(text);
  return text.slice(0, doc.offsetAt(edit.range.start)) + edit.newText + text.slice(doc.offsetAt(edit.range.end));
}

test('over-requested memory: an information with the peak, a fix editing only memory, and no SU change when cores set it', () => {
  const facts: HistoryFacts = { cluster: 'demo', jobs: [job(30, 40), job(38, 45), job(20, 30), job(25, 41), job(33, 44)] };
  const [memory, walltime] = adviseFromHistory(CONFIG, facts);
  assert.equal(memory.code, 'history/memory');
  assert.match(memory.message, /^The last 5 runs peaked at 38\/192 GB each job asked for: memory: 57GB/);
  assert.match(memory.message, /stays [\d.]+ SU a job: its 48 cores set it/);
  assert.equal(apply(CONFIG, memory.fixes[0].edits[0]), CONFIG.replace('192GB', '57GB'));
  assert.equal(memory.fixes[0].edits.length, 1);
  assert.equal(walltime.code, 'history/walltime');
  assert.match(walltime.message, /at most 00:45:00 of a 10:00:00 walltime: 02:15:00 would queue sooner\. The estimate before Scale drops from 960 SU to 216 SU/);
  assert.equal(apply(CONFIG, walltime.fixes[0].edits[0]), CONFIG.replace("'10:00:00'", "'02:15:00'"));
});

test('memory-bound jobs: the fix lowers the charge, and says by how much', () => {
  const text = CONFIG.replace('cores: 48', 'cores: 4');
  const [memory] = adviseFromHistory(text, { cluster: 'demo', jobs: [job(10, 300, 4), job(12, 300, 4), job(11, 300, 4)] });
  // 192 GiB is 48 cores' share (4 GiB each) on normal: 2 × 48 × 5 h = 480 SU; 18 GB is 5 shares: 2 × 5 × 5 = 50.
  assert.match(memory.message, /charged 50 SU instead of 480 SU/);
});

test('no advice from fewer than 3 finished jobs, for another cluster, or when the request fits', () => {
  assert.deepEqual(adviseFromHistory(CONFIG, { cluster: 'demo', jobs: [job(1, 1), job(1, 1)] }), []);
  assert.deepEqual(adviseFromHistory(CONFIG, { cluster: 'other', jobs: [job(1, 1), job(1, 1), job(1, 1)] }), []);
  assert.deepEqual(adviseFromHistory(CONFIG, { cluster: 'demo', jobs: [job(150, 500), job(160, 550), job(170, 590)] }), []);
});
