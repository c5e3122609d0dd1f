// scheduler.placement: persistent-session in the schema and the lint (its session, and which placement fits which
// length of work), and the notice an hour and ten minutes before a scheduler job's walltime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { schedulerExpiry, SCHEDULER_EXPIRY_NOTICE_SECONDS } from '../../src/core/cluster/walltimeNotice';
import type { ClusterSnapshot } from '../../src/core/cluster/snapshot';
import { lintText } from '../../src/core/config/linter';
import { cleanGadiConfig, type Root } from '../fixtures/configs';

function lint(scheduler: Record<string, unknown>) {
  const root: Root = cleanGadiConfig();
  root.scheduler = scheduler;
  const text = stringify(root, { version: '1.1' });
  const r = lintText(text);
  assert.deepEqual(r.ruleErrors, []);
  return r.diagnostics.map((d) => ({ code: d.code, severity: d.severity, message: d.message, at: text.slice(r.document.offsetAt(d.range.start), r.document.offsetAt(d.range.end)) }));
}

test('placement persistent-session with its session lints clean, and the config carries the session', () => {
  assert.deepEqual(lint({ placement: 'persistent-session', session: { name: 'dask-1', project: 'ab12' } }), []);
});

test('placement persistent-session without a session says what to add', () => {
  const d = lint({ placement: 'persistent-session' });
  assert.equal(d.length, 1, JSON.stringify(d));
  assert.equal(d[0].severity, 'error');
  assert.match(d[0].message, /needs session: \{ name: <session name>, project: <project> \}/);
});

test('a session name or project that breaks Gadi\'s rule, or could reach a shell, is an error on it', () => {
  for (const name of ['x;touch ~/pwned', '1dask', 'da.sk', '-oProxyCommand=x', '']) {
    const d = lint({ placement: 'persistent-session', session: { name, project: 'ab12' } });
    assert.ok(d.some((x) => x.severity === 'error' && /starts with a letter and holds only letters, digits and "-"/.test(x.message)), `${name}: ${JSON.stringify(d)}`);
  }
  const d = lint({ placement: 'persistent-session', session: { name: 'dask', project: 'ab12 $(id)' } });
  assert.ok(d.some((x) => x.severity === 'error' && /lower-case letters and digits/.test(x.message)), JSON.stringify(d));
  assert.ok(lint({ placement: 'persistent-session', session: { name: 'dask', project: 'ab12', extra: 1 } }).length > 0);
});

test('gadi/scheduler-placement: a scheduler job\'s walltime says which placement fits which length of work', () => {
  const [d] = lint({ placement: 'job', walltime: '12:00:00' });
  assert.equal(d.code, 'gadi/scheduler-placement');
  assert.equal(d.severity, 'information');
  assert.equal(d.at, '"12:00:00"');
  assert.match(d.message, /ends at its walltime \(12:00:00\).*placement: persistent-session.*no walltime.*placement: login only for under 30 minutes/);
  assert.deepEqual(lint({ placement: 'job' }), [], 'no walltime written: nothing to say');
});

test('gadi/scheduler-placement: a walltime with a persistent session is unused, with a fix that removes it', () => {
  const d = lint({ placement: 'persistent-session', session: { name: 'dask', project: 'ab12' }, walltime: '01:00:00' });
  assert.deepEqual(d.map((x) => [x.code, x.severity, x.at]), [['gadi/scheduler-placement', 'warning', '"01:00:00"']]);
  assert.match(d[0].message, /not used: a scheduler in a persistent session has no walltime/);
});

test('gadi/scheduler-placement: a session with another placement is unused, with a fix that sets the placement', () => {
  const d = lint({ placement: 'job', session: { name: 'dask', project: 'ab12' } });
  assert.deepEqual(d.map((x) => [x.code, x.severity, x.at]), [['gadi/scheduler-placement', 'warning', 'session']]);
  assert.match(d[0].message, /used only with placement: persistent-session/);
});

test('gadi/login-scheduler points at a persistent session for long work', () => {
  const d = lint({ placement: 'login', walltime: '04:00:00' }).find((x) => x.code === 'gadi/login-scheduler');
  assert.match(d!.message, /persistent session \(placement: persistent-session\)/);
});

function snapshotWith(used: number, limit: number, takenAt: Date, phase = 'running'): ClusterSnapshot {
  return {
    cluster: 'demo', host: 'gadi', takenAt, exists: true, scheduler: { state: 'running' }, finishedJobs: [], otherWorkers: [],
    counts: { workerJobs: 0, queuedWorkerJobs: 0, workers: 0, threads: 0 },
    jobs: [{ id: '10.gadi-pbs', role: 'scheduler', stateInfo: { phase }, pbs: { requested: { walltimeSeconds: limit }, used: { walltimeSeconds: used } } }],
  } as unknown as ClusterSnapshot;
}

test('the scheduler job\'s walltime: a notice from an hour and ten minutes before, counting time since the snapshot', () => {
  const at = new Date('2026-12-01T10:00:00Z');
  const limit = 10 * 3600;
  assert.equal(schedulerExpiry(snapshotWith(limit - SCHEDULER_EXPIRY_NOTICE_SECONDS - 60, limit, at), at), undefined);
  const e = schedulerExpiry(snapshotWith(limit - SCHEDULER_EXPIRY_NOTICE_SECONDS + 60, limit, at), at)!;
  assert.equal(e.short, 'scheduler ends in 1h 9m');
  assert.match(e.message, /job 10\.gadi-pbs reaches its walltime \(10:00:00\) in 1h 9m.*persistent-session/);
  // Ten minutes after the snapshot, ten minutes less.
  assert.equal(schedulerExpiry(snapshotWith(limit - 30 * 60, limit, at), new Date(at.getTime() + 600_000))!.short, 'scheduler ends in 20m');
  assert.equal(schedulerExpiry(snapshotWith(limit - 60, limit, at), new Date(at.getTime() + 3600_000))!.short, 'scheduler ends in 0m');
  assert.equal(schedulerExpiry(snapshotWith(limit - 60, limit, at, 'pending'), at), undefined, 'a queued job has not started its walltime');
});
