// Job figures from qstat: CPU efficiency, peak memory, walltime and SU by Gadi's formula, per queue; runs grouped
// from the history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { groupRuns, reportJobs } from '../../src/core/cluster/report';
import type { HistoryJob } from '../../src/core/cluster/protocol';
import { efficiencySummary, formatSizePair, jobEfficiency } from '../../src/core/pbs/efficiency';
import { parseQstatJson, type PbsJob } from '../../src/core/pbs/qstat';
import { PBS_SAMPLES as SAMPLES } from '../fixtures/paths';

const GiB = 2 ** 30;

function job(queue: string, list: Record<string, unknown>, used: Record<string, unknown>): PbsJob {
  const text = JSON.stringify({ Jobs: { '1.gadi-pbs': { Job_Name: 'demo', Job_Owner: 'abc123@gadi-login-01', job_state: 'F', queue, Resource_List: list, resources_used: used } } });
  return parseQstatJson(text).jobs[0];
}

test('the finished busy sample: one core busy for 12 s of 12, 213.5 MiB of 500 MiB, exact units', () => {
  const [j] = parseQstatJson(readFileSync(resolve(SAMPLES, 'qstat_x_f_F_json_finished_busy.json'), 'utf8')).jobs;
  const e = jobEfficiency(j);
  assert.equal(e.cpu, 1);
  assert.equal(e.memPeakBytes, 218656 * 1024);
  assert.equal(e.memRequestBytes, 500 * 2 ** 20);
  assert.equal(e.walltime, 12 / 300);
  // The sample ran in PBS's default queue, workq, which has no Gadi charge rate: no SU figure rather than a guess.
  assert.equal(j.queue, 'workq');
  assert.equal(e.suSpent, undefined);
  assert.equal(efficiencySummary(e), 'CPU 100% · mem 214/500 MB');
});

// rate × max(ncpus, ⌈mem ÷ (node memory ÷ cores per node)⌉) × walltime hours.
const SU_TABLE: { what: string; queue: string; ncpus: number; mem: string; walltime: string; used: string; spent: number; estimate: number }[] = [
  { what: 'normal, core-bound', queue: 'normal', ncpus: 48, mem: '64GB', walltime: '10:00:00', used: '01:30:00', spent: 2 * 48 * 1.5, estimate: 2 * 48 * 10 },
  { what: 'normal, memory-bound', queue: 'normal', ncpus: 4, mem: '190GB', walltime: '02:00:00', used: '00:30:00', spent: 2 * 48 * 0.5, estimate: 2 * 48 * 2 },
  { what: 'express, core-bound', queue: 'express', ncpus: 12, mem: '16GB', walltime: '01:00:00', used: '00:20:00', spent: 6 * 12 / 3, estimate: 6 * 12 },
  { what: 'express, memory-bound', queue: 'express', ncpus: 1, mem: '9GB', walltime: '01:00:00', used: '01:00:00', spent: 6 * 3, estimate: 6 * 3 },
  { what: 'hugemem, memory-bound', queue: 'hugemem', ncpus: 1, mem: '300GB', walltime: '05:00:00', used: '02:00:00', spent: 3 * Math.ceil(300 / (1470 / 48)) * 2, estimate: 3 * 10 * 5 },
  { what: 'hugemem, core-bound', queue: 'hugemem', ncpus: 48, mem: '100GB', walltime: '05:00:00', used: '00:06:00', spent: 3 * 48 * 0.1, estimate: 3 * 48 * 5 },
  { what: 'gpuvolta, core-bound', queue: 'gpuvolta', ncpus: 12, mem: '90GB', walltime: '04:00:00', used: '03:00:00', spent: 3 * 12 * 3, estimate: 3 * 12 * 4 },
  { what: 'gpuvolta, memory-bound', queue: 'gpuvolta', ncpus: 12, mem: '300GB', walltime: '04:00:00', used: '01:00:00', spent: 3 * Math.ceil(300 / (382 / 48)), estimate: 3 * 38 * 4 },
  { what: 'normalsr, core-bound', queue: 'normalsr', ncpus: 104, mem: '256GB', walltime: '02:00:00', used: '00:45:00', spent: 2 * 104 * 0.75, estimate: 2 * 104 * 2 },
  { what: 'normalsr, memory-bound', queue: 'normalsr', ncpus: 8, mem: '500GB', walltime: '02:00:00', used: '00:45:00', spent: 2 * 104 * 0.75, estimate: 2 * 104 * 2 },
];

for (const row of SU_TABLE) {
  test(`SU by Gadi's formula: ${row.what}`, () => {
    const e = jobEfficiency(job(row.queue, { ncpus: row.ncpus, mem: row.mem, walltime: row.walltime }, { walltime: row.used, cput: '00:00:00', mem: '1kb', ncpus: row.ncpus }));
    assert.ok(Math.abs(e.suSpent! - row.spent) < 1e-9, `spent ${e.suSpent} ≠ ${row.spent}`);
    assert.ok(Math.abs(e.suEstimate! - row.estimate) < 1e-9, `estimate ${e.suEstimate} ≠ ${row.estimate}`);
  });
}

test('CPU efficiency is cput over walltime × requested cores; memory against the request', () => {
  const e = jobEfficiency(job('normal', { ncpus: 48, mem: '192GB', walltime: '10:00:00' },
    { cput: '16:19:12', walltime: '01:00:00', mem: `${21 * 2 ** 20}kb`, ncpus: 48, cpupercent: 1632 }));
  assert.equal(e.cpu, (16 * 3600 + 19 * 60 + 12) / (3600 * 48));
  assert.equal(e.memPeakBytes, 21 * GiB);
  assert.equal(efficiencySummary(e), 'CPU 34% · mem 21/192 GB');
  // A higher peak from the history's samples wins over the newest figure.
  assert.equal(jobEfficiency(job('normal', { ncpus: 1, mem: '4GB' }, { mem: '1kb' }), 3 * GiB).mem, 0.75);
  assert.equal(efficiencySummary(jobEfficiency(job('normal', { ncpus: 1 }, {}))), '');
  assert.equal(jobEfficiency(job('nosuchqueue', { ncpus: 1, walltime: '01:00:00' }, { walltime: '00:10:00' })).suSpent, undefined);
});

test('sizes in pairs share the larger one\'s unit', () => {
  assert.equal(formatSizePair(21 * GiB, 192 * GiB), '21/192 GB');
  assert.equal(formatSizePair(0.5 * GiB, 4 * GiB), '0.5/4 GB');
  assert.equal(formatSizePair(200 * 2 ** 20, 500 * 2 ** 20), '200/500 MB');
});

function historyJob(id: string, ctime: string, obittime: string | undefined, state = 'F'): HistoryJob {
  return {
    id, role: 'worker', samples: 2, peak: { mem: '2097152kb' }, workers: { [`w-${id}`]: 123 }, firstSeen: 1, lastSeen: 2,
    attrs: {
      Job_Name: `demo-0000000${id[0]}`, job_state: state, queue: 'normal', ctime, stime: ctime, ...(obittime ? { obittime } : {}),
      Resource_List: { ncpus: 2, mem: '8gb', walltime: '01:00:00' }, resources_used: { cput: '00:10:00', walltime: '00:10:00', mem: '1048576kb', ncpus: 2 },
    },
  };
}

test('jobs whose lives overlap make one run; a later start is a new run; figures add up per run', () => {
  const jobs = reportJobs([
    historyJob('3.gadi-pbs', 'Wed Dec  2 10:00:00 2026', 'Wed Dec  2 10:10:00 2026'),
    historyJob('1.gadi-pbs', 'Wed Dec  2 09:00:00 2026', 'Wed Dec  2 09:10:00 2026'),
    historyJob('2.gadi-pbs', 'Wed Dec  2 09:05:00 2026', 'Wed Dec  2 09:15:00 2026'),
    historyJob('4.gadi-pbs', 'Wed Dec  2 10:05:00 2026', undefined, 'R'),
  ], 'gadi');
  assert.deepEqual(jobs.map((j) => j.id), ['1.gadi-pbs', '2.gadi-pbs', '3.gadi-pbs', '4.gadi-pbs']);
  assert.equal(jobs[0].efficiency.memPeakBytes, 2 * GiB); // the history's peak, above the newest sample
  assert.deepEqual(jobs[0].workerPeaks, { 'w-1.gadi-pbs': 123 });
  const runs = groupRuns(jobs, new Date('2026-12-02T11:00:00Z'));
  assert.deepEqual(runs.map((r) => r.jobs.map((j) => j.id)), [['1.gadi-pbs', '2.gadi-pbs'], ['3.gadi-pbs', '4.gadi-pbs']]);
  assert.equal(runs[0].end?.toISOString(), '2026-12-02T09:15:00.000Z');
  assert.equal(runs[1].end, undefined); // still running
  assert.ok(Math.abs(runs[0].suSpent - 2 * 2 * 2 * (10 / 60)) < 1e-9);
  assert.equal(runs[0].suEstimate, 2 * 2 * 2 * 1);
  assert.equal(runs[0].cpu, 0.5);
});
