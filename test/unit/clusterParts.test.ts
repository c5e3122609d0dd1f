// The pure parts of the lifecycle: agent frames and requests, runtime documents, the snapshot (workers nested under
// the job they run in), the scheduler's job script, names and the runtime locator.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { preamble } from '../../src/core/cluster/agent';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import { ConfigFileError, InvalidClusterNameError, RemoteOutputError, RuntimeFilesError } from '../../src/core/cluster/errors';
import { assertClusterName, clusterPaths, shellPath } from '../../src/core/cluster/names';
import { requireRuntimeDocument } from '../../src/core/cluster/output';
import { encodeRequest, FRAME, PROTOCOL_VERSION, readFrame, type Answer } from '../../src/core/cluster/protocol';
import { findRuntimeDir, loadRuntimeBundle } from '../../src/core/cluster/runtimeBundle';
import { renderSchedulerJobScript, schedulerDirectives, schedulerLaunch } from '../../src/core/cluster/schedulerJob';
import { buildSnapshot, describeEnd } from '../../src/core/cluster/snapshot';
import { workerScriptContext } from '../../src/core/cluster/tls';
import { clientSnippet } from '../../src/core/cluster/clientSnippet';
import { execFileSync } from 'node:child_process';
import { renderJobScript } from '../../src/core/pbs/jobScript';
import { JOB_ID } from '../../src/core/pbs/submit';
import { parseQstatJson } from '../../src/core/pbs/qstat';
import { Cluster } from '../../src/core/cluster/cluster';
import { jobsLeftBy, scaledCount, shortOfJobs, workersCount } from '../../src/core/cluster/waits';
import type { Transport } from '../../src/core/remote/transport';


function qstatJson(jobs: Record<string, string>): string {
  const entries = Object.entries(jobs).map(([id, state]) =>
    `"${id}": {"Job_Name": "w", "Job_Owner": "u@h", "job_state": "${state}", "queue": "normal", "exec_host": "gadi-cpu-clx-0001/0*48"}`);
  return `{\n"pbs_version": "23.06.06",\n"Jobs": {${entries.join(',')}}\n}`;
}

const config = (yaml: string) => parseClusterConfig(yaml);
const GADI = `
jobqueue:
  pbs:
    name: demo
    cores: 48
    memory: 192GB
    queue: normal
    walltime: '02:00:00'
    interface: ib0
    python: ~/venv/bin/python
    job-extra-directives: ['-P ab12', '-l storage=gdata/ab12,ncpus=48,jobfs=100GB', '-l mem=192GB', '-N other', '-l wd']
    job-directives-skip: ['select']
    job-script-prologue: ['module load python3/3.11.7']
    scheduler-options: {dashboard_address: ':8788', protocol: tcp, idle_timeout: 5}
scheduler:
  walltime: '04:00:00'
  idle-timeout: 1800
  tls: false
`;

describe('agent answers', () => {
  test('frames are told from banners; progress from answers; a cut frame is noise', () => {
    assert.equal(readFrame('Welcome to Gadi'), undefined);
    assert.deepEqual(readFrame(`${FRAME} {"v":1,"id":7,"progress":"Submitted 5 of 10"}`)?.progress, 'Submitted 5 of 10');
    const answer = readFrame(`${FRAME} {"v":1,"id":7,"ok":true,"x":1}\r`);
    assert.deepEqual([answer?.id, answer?.progress, answer?.body], [7, undefined, { v: 1, id: 7, ok: true, x: 1 }]);
    assert.equal(readFrame(`${FRAME} {"v":1,"id":7,"ok":tr`), undefined);
    assert.equal(readFrame(`x${FRAME} {"v":1,"id":7,"ok":true}`), undefined, 'a frame starts its line');
  });

  test('a request is one JSON line with the protocol version; the preamble keeps config text out of the command', () => {
    const line = encodeRequest(3, 'cancel', { cluster: 'c', ids: ['1.gadi-pbs'], client: 'me', lockWait: 1, lockTtl: 2 });
    assert.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'));
    assert.deepEqual(JSON.parse(line), { v: PROTOCOL_VERSION, id: 3, op: 'cancel', args: { cluster: 'c', ids: ['1.gadi-pbs'], client: 'me', lockWait: 1, lockTtl: 2 } });
    const pre = preamble({ prologue: ['export API_TOKEN=hunter2', 'module load python3'], python: '~/venv/bin/python' });
    assert.doesNotMatch(pre, /hunter2|venv/);
    const [p, py] = pre.split('\n');
    assert.equal(Buffer.from(p, 'base64').toString(), 'export API_TOKEN=hunter2\nmodule load python3');
    assert.equal(Buffer.from(py, 'base64').toString(), '~/venv/bin/python');
  });

  test('a runtime document that is not JSON, or absent, says so and quotes what came', () => {
    assert.throws(() => requireRuntimeDocument('@@GADI_DASK_BEGIN@@\n{oops\n@@GADI_DASK_END@@\n', 'install.sh check'), RemoteOutputError);
    assert.throws(() => requireRuntimeDocument('Permission denied', 'install.sh check'), /install.sh check printed no result document.*Permission denied/);
  });
});

describe('snapshot', () => {
  const status = {
    ok: true, cluster: 'demo', source: 'launcher', via: 'http',
    scheduler: { id: 'S-1', address: 'tcp://10.6.1.2:40771', threads: 3, clients: 0, pbsJobId: '10.gadi-pbs', placement: 'job' },
    dashboard: { host: '10.6.1.2', port: 8787, url: 'http://10.6.1.2:8787/status' },
    workers: [
      { name: 'demo-11.gadi-pbs-0', address: 'tcp://a:1', nthreads: 1, pbsJobId: '11.gadi-pbs' },
      { name: 'demo-11.gadi-pbs-1', address: 'tcp://a:2', nthreads: 1, pbsJobId: '11.gadi-pbs' },
      { name: 'demo-12.gadi-pbs', address: 'tcp://b:1', nthreads: 1, pbsJobId: null },
      { name: 'hand-started', address: 'tcp://c:1', nthreads: 2, pbsJobId: null },
    ],
    adaptive: { enabled: true, min: 0, max: 4, jobs: [{ id: '14.gadi-pbs', state: 'pending' }] },
  };
  const job = (id: string, role: 'scheduler' | 'worker', submitted = 1795700000) => ({ id, role, submitted, name: null, finished: null, cancelled: null as number | null });
  const answer = (jobs: ReturnType<typeof job>[], states: Record<string, string>, statusDoc: unknown): Answer<'snapshot'> => ({
    ok: true, exists: true, jobs, kernelJobs: [], adaptive: [], qstat: qstatJson(states), status: statusDoc as Record<string, unknown>,
    statusRc: 0, statusStderr: '', prologue: '', warnings: [],
  });

  test('workers nest under their job by the id in their names; the scheduler job comes first', () => {
    const a = answer([job('10.gadi-pbs', 'scheduler'), job('11.gadi-pbs', 'worker'), job('12.gadi-pbs', 'worker'), job('13.gadi-pbs', 'worker', 1)],
      { '10.gadi-pbs': 'R', '11.gadi-pbs': 'R', '12.gadi-pbs': 'R', '13.gadi-pbs': 'F', '14.gadi-pbs': 'Q' }, status);
    const s = buildSnapshot({ cluster: 'demo', host: 'gadi', workerPrefix: 'demo', answer: a });
    assert.equal(s.scheduler.state, 'running');
    assert.equal(s.scheduler.address, 'tcp://10.6.1.2:40771');
    assert.equal(s.scheduler.jobId, '10.gadi-pbs');
    assert.deepEqual(s.jobs.map((j) => [j.id, j.role, j.workers.map((w) => w.name)]), [
      ['10.gadi-pbs', 'scheduler', []],
      ['11.gadi-pbs', 'worker', ['demo-11.gadi-pbs-0', 'demo-11.gadi-pbs-1']],
      ['12.gadi-pbs', 'worker', ['demo-12.gadi-pbs']],
      ['14.gadi-pbs', 'worker', []],
    ]);
    assert.equal(s.jobs[3].adaptive, true, 'a job adaptivity owns is shown, marked as such');
    assert.deepEqual(s.otherWorkers.map((w) => w.name), ['hand-started']);
    assert.deepEqual(s.finishedJobs.map((j) => j.id), ['13.gadi-pbs']);
    assert.deepEqual(s.counts, { workerJobs: 3, queuedWorkerJobs: 1, workers: 4, threads: 5 });
    assert.equal(s.jobs[1].pbs.nodes[0], 'gadi-cpu-clx-0001');
    assert.deepEqual(s.jobs[1].submittedAt, new Date(1795700000 * 1000));
  });

  test('no scheduler answering: queued or starting by its job, else stopped with the reason', () => {
    const notRunning = { ok: false, code: 'no-scheduler-file', error: 'cluster demo is not running: it stopped at … (idle for 3600s)', cluster: 'demo', metadata: null };
    const s = (state: string) => buildSnapshot({
      cluster: 'demo', host: 'gadi', workerPrefix: 'demo', answer: answer([job('10.gadi-pbs', 'scheduler')], { '10.gadi-pbs': state }, notRunning),
    }).scheduler;
    assert.equal(s('Q').state, 'queued');
    assert.equal(s('R').state, 'starting');
    assert.equal(s('F').state, 'stopped');
    assert.match(s('F').problem!, /idle for 3600s/);
  });

  test('a finished job the journal says the cluster cancelled reads as retired or cancelled, never as a failed script', () => {
    const ended = (id: string, exit: number, started = true) =>
      `"${id}": {"Job_Name": "w", "Job_Owner": "u@h", "job_state": "F", "queue": "normal", "Exit_status": ${exit}${started ? ', "stime": "Sat Dec  5 10:00:00 2026"' : ''}}`;
    const qstat = `{"pbs_version": "23.06.06", "Jobs": {${[
      ended('20.gadi-pbs', 143), ended('21.gadi-pbs', 271), ended('22.gadi-pbs', 0), ended('23.gadi-pbs', 271, false),
      ended('24.gadi-pbs', 271), ended('25.gadi-pbs', -29), ended('26.gadi-pbs', 143), ended('27[1].gadi-pbs', 143),
    ].join(',')}}}`;
    const cancelled = (id: string, role: 'scheduler' | 'worker' = 'worker') => ({ ...job(id, role), cancelled: 1795700100 });
    const a: Answer<'snapshot'> = {
      ...answer([cancelled('20.gadi-pbs'), cancelled('21.gadi-pbs'), cancelled('22.gadi-pbs'), cancelled('23.gadi-pbs'),
        cancelled('24.gadi-pbs', 'scheduler'), cancelled('25.gadi-pbs'), job('26.gadi-pbs', 'worker'), cancelled('27[1].gadi-pbs')], {}, null),
      qstat,
    };
    const s = buildSnapshot({ cluster: 'demo', host: 'gadi', workerPrefix: 'demo', answer: a });
    assert.deepEqual(Object.fromEntries(s.finishedJobs.map((j) => [j.id, j.end])), {
      '20.gadi-pbs': 'retired and cancelled by the cluster (exit status 143)',
      '21.gadi-pbs': 'retired and cancelled by the cluster (exit status 271)',
      '22.gadi-pbs': 'retired and cancelled by the cluster (exit status 0)',
      '23.gadi-pbs': 'cancelled by the cluster while queued (exit status 271)',
      '24.gadi-pbs': 'stopped and cancelled by the cluster (exit status 271)',
      '25.gadi-pbs': 'cancelled by the cluster; before that, killed by PBS: walltime exceeded (exit status -29)',
      // Not cancelled by the cluster: SIGTERM came from elsewhere, and the sentence says so.
      '26.gadi-pbs': 'the job script ended on SIGTERM: deleted (qdel) or stopped by PBS (exit status 143)',
      '27[1].gadi-pbs': 'retired and cancelled by the cluster (exit status 143)',
    });
    assert.equal(describeEnd({ role: 'worker', cancelled: false, pbs: { times: {} } }), 'ended');
  });

  test('subjob ids as real PBS prints them (7[1].<server>) parse wherever ids are read', () => {
    for (const id of ['7[1].gadi-pbs', '7[].gadi-pbs', '7[12].gadi-pbs.nci.org.au']) assert.match(id, JOB_ID);
    const [sub] = parseQstatJson(`{"Jobs": {"7[1].gadi-pbs": {"Job_Name": "w", "Job_Owner": "u@h", "job_state": "X", "queue": "normal", "Exit_status": 271}}}`).jobs;
    assert.equal(sub.id, '7[1].gadi-pbs');
    assert.deepEqual(sub.array, { kind: 'subjob', parentId: '7[].gadi-pbs', index: 1 });
    assert.equal(sub.stateInfo.finished, true);
  });

  test('a wait for workers ends early once fewer of the cluster\'s worker jobs than asked for are left in PBS', () => {
    const snap = (states: Record<string, string>) => buildSnapshot({
      cluster: 'demo', host: 'gadi', workerPrefix: 'demo',
      answer: answer([job('10.gadi-pbs', 'scheduler'), job('11.gadi-pbs', 'worker'), job('12.gadi-pbs', 'worker')], states, null),
    });
    assert.equal(shortOfJobs(snap({ '10.gadi-pbs': 'R', '11.gadi-pbs': 'R', '12.gadi-pbs': 'Q' }), 2), undefined);
    assert.match(shortOfJobs(snap({ '10.gadi-pbs': 'F', '11.gadi-pbs': 'F', '12.gadi-pbs': 'R' }), 2)!, /^only 1 of the 2 worker job\(s\) asked for is left in PBS \(ended: 11\.gadi-pbs\); scale again/);
    assert.match(shortOfJobs(snap({}), 2)!, /^only 0 of the 2/);
  });

  test('right after a scale, before PBS is asked again, workers count against the jobs the scale left as a snapshot counts them', () => {
    const left = jobsLeftBy({
      before: [{ id: '11.gadi-pbs', state: 'R' }, { id: '13.gadi-pbs', state: 'Q' }, { id: '15.gadi-pbs', state: 'R' }],
      cancelled: [{ id: '13.gadi-pbs', outcome: 'deleted' }, { id: '15.gadi-pbs', outcome: 'error', message: 'qdel failed' }],
      submitted: ['12.gadi-pbs'],
    });
    assert.deepEqual(left, ['11.gadi-pbs', '15.gadi-pbs', '12.gadi-pbs']);
    const early = scaledCount(status, left, 'demo', 2, 6);
    assert.deepEqual(early, { connected: 3, expected: 6, queued: [] });
    const snap = buildSnapshot({ cluster: 'demo', host: 'gadi', workerPrefix: 'demo',
      answer: answer([job('10.gadi-pbs', 'scheduler'), job('11.gadi-pbs', 'worker'), job('12.gadi-pbs', 'worker'), job('15.gadi-pbs', 'worker')],
        { '10.gadi-pbs': 'R', '11.gadi-pbs': 'R', '12.gadi-pbs': 'R', '15.gadi-pbs': 'R' }, status) });
    assert.equal(workersCount(snap, 2, 6).connected, early.connected);
    assert.equal(scaledCount(null, left, 'demo', 2, 6).connected, 0, 'no answer from the scheduler: none connected yet');
    const closing = { ...status, workers: status.workers.map((w) => ({ ...w, status: 'closing' })) };
    assert.equal(scaledCount(closing, left, 'demo', 2, 6).connected, 0);
  });

  test('qstat text that cannot be read is an error naming qstat, not an empty cluster', () => {
    const a = { ...answer([job('10.gadi-pbs', 'worker')], {}, null), qstat: 'qstat: cannot connect to server gadi-pbs' };
    assert.throws(() => buildSnapshot({ cluster: 'c', host: 'gadi', workerPrefix: 'c', answer: a }), /qstat on gadi printed output that cannot be read/);
  });
});

describe('scheduler job', () => {
  test('keeps the site directives (project, storage, wd), drops what sizes a worker, and uses the scheduler walltime', () => {
    const c = config(GADI);
    assert.deepEqual(schedulerDirectives(c), ['-P ab12', '-l storage=gdata/ab12', '-l wd']);
    const script = renderSchedulerJobScript(c, 'demo', clusterPaths('demo').runPy);
    assert.equal(script, [
      '#!/usr/bin/env bash', '',
      '#PBS -N dask-scheduler-demo', '#PBS -q normal', '#PBS -l ncpus=1', '#PBS -l mem=4GB', '#PBS -l walltime=04:00:00',
      '#PBS -j oe', '#PBS -o scheduler-job.log', '#PBS -P ab12', '#PBS -l storage=gdata/ab12', '#PBS -l wd',
      'module load python3/3.11.7',
      'exec "$HOME"/venv/bin/python "$HOME"/.gadi-dask/runtime/0.1.0/run.py scheduler --name demo --placement job --interface ib0 --protocol tcp --dashboard-address :8788 --idle-timeout 1800',
      '',
    ].join('\n'));
  });

  test('by default the launcher makes the cluster\'s keys and the workers join with them, as PBSCluster(security=...) writes', () => {
    const c = config(GADI.replace('  tls: false\n', '').replace(' protocol: tcp,', ''));
    assert.match(renderSchedulerJobScript(c, 'demo', clusterPaths('demo').runPy), / --tls on --idle-timeout 1800\n$/);
    assert.ok(!schedulerLaunch(c, 'demo').args.includes('--protocol'), 'the launcher picks tls itself');
    const worker = renderJobScript(c.jobqueue.pbs, workerScriptContext(c, clusterPaths('demo')));
    assert.match(worker, / --interface ib0 --protocol tls:\/\/ --tls-ca-file ~\/\.gadi-dask\/clusters\/demo\/tls-cert\.pem --tls-cert ~\/\.gadi-dask\/clusters\/demo\/tls-cert\.pem --tls-key ~\/\.gadi-dask\/clusters\/demo\/tls-key\.pem --lifetime /);
    const off = config(GADI);
    assert.doesNotMatch(renderJobScript(off.jobqueue.pbs, workerScriptContext(off, clusterPaths('demo'))), /--tls|--protocol/);
  });

  test('the client snippet passes Security(...) with the cluster\'s files, and parses as Python; without TLS a plain Client', () => {
    const on = clientSnippet(config(GADI.replace('  tls: false\n', '')));
    assert.match(on, /^security = Security\(tls_ca_file=cert, tls_client_cert=cert, tls_client_key=key, require_encryption=True\)$/m);
    assert.match(on, /^cert = os\.path\.expanduser\("~\/\.gadi-dask\/clusters\/demo\/tls-cert\.pem"\)$/m);
    assert.match(on, /^client = Client\(scheduler_file=os\.path\.expanduser\("~\/\.gadi-dask\/clusters\/demo\/scheduler\.json"\), security=security\)$/m);
    const off = clientSnippet(config(GADI));
    assert.doesNotMatch(off, /Security|tls/);
    for (const code of [on, off]) execFileSync('python3', ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], { input: code });
  });

  test('scheduler-options the launcher does not take are reported; a GPU queue is not used for the scheduler', () => {
    const c = config(GADI.replace('queue: normal', 'queue: gpuvolta'));
    assert.match(schedulerLaunch(c, 'demo').warnings.join(), /idle_timeout is not used/);
    assert.match(renderSchedulerJobScript(c, 'demo', '~/rt/run.py'), /^#PBS -q normal$/m);
  });

  test('a site with select lines gets a select line for the scheduler too', () => {
    const c = config('jobqueue: {pbs: {name: x, cores: 2, memory: 1GB}}');
    assert.match(renderSchedulerJobScript(c, 'x', '~/r/run.py'), /^#PBS -l select=1:ncpus=1:mem=4GB$/m);
  });

  test('N workers need ceil(N / processes) jobs', () => {
    const fake = { host: 'h' } as Transport;
    const c = new Cluster(fake, config('jobqueue: {pbs: {name: x, cores: 48, memory: 192GB, processes: 8}}'));
    assert.deepEqual([c.jobsFor({ workers: 1 }), c.jobsFor({ workers: 8 }), c.jobsFor({ workers: 9 }), c.jobsFor({ jobs: 3 })], [1, 1, 2, 3]);
    assert.throws(() => c.jobsFor({ jobs: -1 }), RangeError);
    assert.throws(() => c.jobsFor({ jobs: 1.5 }), RangeError);
  });
});

describe('names, config, runtime files', () => {
  test('cluster names are what the runtime accepts; anything else is refused before any command', () => {
    assert.equal(assertClusterName('dask-worker'), 'dask-worker');
    for (const bad of ['', '-x', 'a b', "x';rm -rf ~;'", 'x/y', 'a'.repeat(65), '.hidden']) {
      assert.throws(() => assertClusterName(bad), InvalidClusterNameError, bad);
    }
    let execs = 0;
    const counting = { host: 'h', exec: async () => { execs++; throw new Error('no'); } } as unknown as Transport;
    assert.throws(() => new Cluster(counting, config("jobqueue: {pbs: {name: \"x'; touch pwned; '\", cores: 1, memory: 1GB}}")), InvalidClusterNameError);
    assert.equal(execs, 0);
  });

  test('a ~/ path keeps its ~ outside the quotes', () => {
    assert.equal(shellPath('~/a b/c'), `"$HOME"/'a b/c'`);
    assert.equal(shellPath("/x/it's"), `'/x/it'\\''s'`);
  });

  test('config errors name the key and the file', () => {
    assert.throws(() => parseClusterConfig('jobqueue: {pbs: {cores: many, memory: 1GB}}', 'a.dask-cluster.yaml'),
      (e: unknown) => e instanceof ConfigFileError && /a\.dask-cluster\.yaml/.test(e.message) && /jobqueue\.pbs\.cores/.test(e.message));
    assert.throws(() => parseClusterConfig('jobqueue: [', 'b.yaml'), (e: unknown) => e instanceof ConfigFileError && /not valid YAML \(line 1\)/.test(e.message));
    // PyYAML reads an unquoted 1:30:00 as 5400 seconds; so does the loader.
    assert.equal(parseClusterConfig('jobqueue: {pbs: {cores: 1, memory: 1GB, walltime: 1:30:00}}').jobqueue.pbs.walltime, 5400);
  });

  test('the runtime is found from sources and from a dist/ layout; a broken install says what to do', () => {
    const repoRuntime = resolve(__dirname, '..', '..', 'runtime');
    assert.equal(findRuntimeDir(undefined, {}), repoRuntime);
    assert.equal(findRuntimeDir(repoRuntime, {}), repoRuntime);
    const empty = mkdtempSync(join(tmpdir(), 'no-runtime-'));
    try {
      assert.throws(() => findRuntimeDir(empty, {}), RuntimeFilesError);
      mkdirSync(join(empty, 'gadi_dask'));
      writeFileSync(join(empty, 'run.py'), '');
      writeFileSync(join(empty, 'install.sh'), '');
      writeFileSync(join(empty, 'bootstrap.sh'), '');
      assert.equal(findRuntimeDir(undefined, { GADI_DASK_RUNTIME_DIR: empty }), empty);
      // The .vsix: dist/extension.js and dist/cli.js with runtime/ beside dist/.
      const ext = join(empty, 'ext');
      mkdirSync(join(ext, 'dist'), { recursive: true });
      assert.throws(() => findRuntimeDir(undefined, {}, join(ext, 'dist')), RuntimeFilesError);
      mkdirSync(join(ext, 'runtime', 'gadi_dask'), { recursive: true });
      writeFileSync(join(ext, 'runtime', 'run.py'), '');
      writeFileSync(join(ext, 'runtime', 'install.sh'), '');
      writeFileSync(join(ext, 'runtime', 'bootstrap.sh'), '');
      assert.equal(findRuntimeDir(undefined, {}, join(ext, 'dist')), join(ext, 'runtime'));
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    const bundle = loadRuntimeBundle(repoRuntime);
    assert.match(bundle.hash, /^[0-9a-f]{64}$/);
    assert.ok(bundle.files.some((f) => f.path === 'gadi_dask/retire.py'));
    assert.equal(bundle.archive().subarray(0, 2).toString('hex'), '1f8b', 'gzip');
  });
});
