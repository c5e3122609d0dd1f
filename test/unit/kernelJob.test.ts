// The kernel's job beside the cluster's in a snapshot: shown with its own role, counted as no worker or scheduler,
// ending in its own words; the notice ten minutes before its walltime; Cancel Job's outcome from the kernel's stop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelCancelOutcome } from '../../src/core/cluster/kernel';
import { KERNEL_ROLE, type Answer } from '../../src/core/cluster/protocol';
import { activeKernelJob, buildSnapshot, describeEnd } from '../../src/core/cluster/snapshot';
import { KERNEL_EXPIRY_NOTICE_SECONDS, kernelExpiry, schedulerExpiry } from '../../src/core/cluster/walltimeNotice';

const TAKEN = new Date('2026-12-01T10:00:00Z');
const LIMIT = 2 * 3600;

interface Pbs { state: string; used?: number; exit?: number; started?: boolean; name?: string }

function qstat(jobs: Record<string, Pbs>): string {
  const entries = Object.entries(jobs).map(([id, j]) => `"${id}": ${JSON.stringify({
    Job_Name: j.name ?? 'demo-0123abcd', Job_Owner: 'u@h', job_state: j.state, queue: 'normal',
    Resource_List: { walltime: '02:00:00', ncpus: 1, mem: '4gb' },
    ...(j.used !== undefined ? { resources_used: { walltime: new Date(j.used * 1000).toISOString().slice(11, 19) } } : {}),
    ...(j.exit !== undefined ? { Exit_status: j.exit } : {}),
    ...(j.started ?? j.state !== 'Q' ? { stime: 'Tue Dec  1 09:00:00 2026' } : {}),
  })}`);
  return `{"pbs_version": "23.06.06", "Jobs": {${entries.join(',')}}}`;
}

const journalJob = (id: string, role: 'scheduler' | 'worker') => ({ id, role, name: null, submitted: 1795700000, finished: null, cancelled: null });
const kernelJob = (id: string, cancelled: number | null = null) => ({ id, role: KERNEL_ROLE, name: null, submitted: 1795700100, finished: null, cancelled });

function snapshot(jobs: Record<string, Pbs>, kernelJobs: ReturnType<typeof kernelJob>[]) {
  const answer: Answer<'snapshot'> = {
    ok: true, exists: true, jobs: [journalJob('10.gadi-pbs', 'scheduler'), journalJob('11.gadi-pbs', 'worker'), journalJob('12.gadi-pbs', 'worker')],
    kernelJobs, adaptive: [], qstat: qstat(jobs), status: null, statusRc: 0, statusStderr: '', prologue: '', warnings: [],
  };
  return buildSnapshot({ cluster: 'demo', host: 'gadi', workerPrefix: 'demo', answer, takenAt: TAKEN });
}

test('the kernel\'s job is listed after the scheduler\'s with role kernel, and counted as no worker job', () => {
  const s = snapshot({
    '10.gadi-pbs': { state: 'R', used: 600 }, '11.gadi-pbs': { state: 'R', used: 600 }, '12.gadi-pbs': { state: 'Q' },
    '13.gadi-pbs': { state: 'R', used: 300, name: 'dask-kernel-demo-0123abcd' },
  }, [kernelJob('13.gadi-pbs')]);
  assert.deepEqual(s.jobs.map((j) => [j.id, j.role]), [['10.gadi-pbs', 'scheduler'], ['13.gadi-pbs', 'kernel'], ['11.gadi-pbs', 'worker'], ['12.gadi-pbs', 'worker']]);
  assert.deepEqual(s.counts, { workerJobs: 2, queuedWorkerJobs: 1, workers: 0, threads: 0 });
  assert.equal(s.scheduler.jobId, '10.gadi-pbs', 'the kernel\'s job is never taken for the scheduler\'s');
  assert.equal(activeKernelJob(s)?.id, '13.gadi-pbs');
  assert.equal(s.jobs[1].adaptive, false);
});

test('a kernel job that ended reads in its own words among the finished jobs, and none is active', () => {
  const s = snapshot({ '10.gadi-pbs': { state: 'R', used: 60 }, '13.gadi-pbs': { state: 'F', exit: 271 }, '14.gadi-pbs': { state: 'F', exit: 271, started: false } },
    [kernelJob('13.gadi-pbs', 1795700200), kernelJob('14.gadi-pbs', 1795700300)]);
  assert.deepEqual(Object.fromEntries(s.finishedJobs.map((j) => [j.id, j.end])), {
    '13.gadi-pbs': 'kernel stopped, its job cancelled (exit status 271)',
    '14.gadi-pbs': 'kernel stopped while queued (exit status 271)',
  });
  assert.equal(activeKernelJob(s), undefined);
  assert.equal(describeEnd({ role: KERNEL_ROLE, cancelled: false, pbs: { exitStatus: 0, times: { started: TAKEN } } }), describeEnd({ role: 'worker', cancelled: false, pbs: { exitStatus: 0, times: {} } }),
    'one that ended by itself (idle timeout) says what PBS says, as any job');
});

test('the kernel\'s job warns ten minutes before its walltime, counting the time since the snapshot; the scheduler\'s notice is apart', () => {
  const at = (used: number) => snapshot({ '10.gadi-pbs': { state: 'R', used: 60 }, '13.gadi-pbs': { state: 'R', used } }, [kernelJob('13.gadi-pbs')]);
  assert.equal(kernelExpiry(at(LIMIT - KERNEL_EXPIRY_NOTICE_SECONDS - 60), TAKEN), undefined);
  const e = kernelExpiry(at(LIMIT - KERNEL_EXPIRY_NOTICE_SECONDS + 60), TAKEN)!;
  assert.equal(e.jobId, '13.gadi-pbs');
  assert.equal(e.short, 'kernel ends in 9m');
  assert.match(e.message, /kernel's job 13\.gadi-pbs reaches its walltime \(02:00:00\) in 9m.*kernel\.walltime/);
  // Five minutes on, five minutes less; past the limit, none left.
  assert.equal(kernelExpiry(at(LIMIT - 15 * 60), new Date(TAKEN.getTime() + 300_000))!.short, 'kernel ends in 10m');
  assert.equal(kernelExpiry(at(LIMIT - 60), new Date(TAKEN.getTime() + 3600_000))!.secondsLeft, 0);
  assert.equal(schedulerExpiry(at(LIMIT - 60), TAKEN), undefined, 'the kernel\'s walltime says nothing about the scheduler\'s');
  const queued = snapshot({ '13.gadi-pbs': { state: 'Q' } }, [kernelJob('13.gadi-pbs')]);
  assert.equal(kernelExpiry(queued, TAKEN), undefined, 'a queued job has not started its walltime');
  const leaving = snapshot({ '13.gadi-pbs': { state: 'R', used: LIMIT - 60 } }, [kernelJob('13.gadi-pbs', 1795700200)]);
  assert.equal(kernelExpiry(leaving, TAKEN), undefined, 'a kernel being stopped needs no warning');
});

test('Cancel Job on the kernel\'s job: deleted when the stop names it, an error with its words, else it had gone', () => {
  assert.deepEqual(kernelCancelOutcome('13.gadi-pbs', { stopped: ['13.gadi-pbs'], errors: [] }), { id: '13.gadi-pbs', outcome: 'deleted' });
  assert.deepEqual(kernelCancelOutcome('13.gadi-pbs', { stopped: [], errors: ['job 13.gadi-pbs: error: qdel: Server down'] }),
    { id: '13.gadi-pbs', outcome: 'error', message: 'job 13.gadi-pbs: error: qdel: Server down' });
  assert.deepEqual(kernelCancelOutcome('13.gadi-pbs', { stopped: [], errors: [] }), { id: '13.gadi-pbs', outcome: 'gone' });
});
