// The PBS Pro emulator held to real OpenPBS 23.06 output: every qstat JSON sample is matched key for key and type
// for type by a job the emulator really ran, and texts and exit codes are compared with the recorded ones.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { PBS_SAMPLES as samples } from '../fixtures/paths';
import { until as poll } from '../fixtures/poll';
import { GADI_QUEUE_NAMES } from '../../src/core/config/queues';
import { GADI_QUEUES_PY, gadiQueuesPython } from './gadiQueues';

const bin = join(__dirname, 'bin');
const me = userInfo();
const SUBMIT_HOST = 'gadi-login-01.gadi.nci.org.au';
const COMMANDS = ['qsub', 'qstat', 'qdel', 'qselect'] as const;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

interface Server {
  home: string;
  dir: string;
  run(cmd: (typeof COMMANDS)[number], args: string[], opts?: { env?: Record<string, string>; input?: string }): Run;
  json(args: string[]): JsonObject;
}

const servers: Server[] = [];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Each server gets its own state directory and submission directory. The environment is pinned so that
// Variable_List has exactly the keys of the samples (HOME, LOGNAME, PATH, MAIL, SHELL; no LANG, no TZ).
function makeServer(extra: Record<string, string> = {}): Server {
  const home = mkdtempSync(join(tmpdir(), 'pbs-emu-state-'));
  const dir = mkdtempSync(join(tmpdir(), 'pbs-emu-work-'));
  const base: Record<string, string> = {
    PATH: `${bin}:/usr/bin:/bin`,
    HOME: me.homedir,
    LOGNAME: me.username,
    MAIL: `/var/mail/${me.username}`,
    SHELL: '/bin/bash',
    PBS_EMULATOR_HOME: home,
    PBS_EMULATOR_KILL_DELAY: '1',
    PBS_EMULATOR_ALLOW_ROOT: '1',
    PBS_EMULATOR_SUBMIT_HOST: SUBMIT_HOST,
    ...extra,
  };
  const server: Server = {
    home,
    dir,
    run(cmd, args, opts = {}) {
      const started = Date.now();
      const r = spawnSync(join(bin, cmd), args, {
        cwd: dir,
        env: { ...base, ...(opts.env ?? {}) },
        input: opts.input ?? '',
        encoding: 'utf8',
        timeout: 20_000,
      });
      assert.equal(r.error, undefined, `${cmd} ${args.join(' ')}: ${String(r.error)}`);
      return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
    },
    json(args) {
      const r = server.run('qstat', ['-f', '-F', 'json', ...args]);
      assert.equal(r.stderr, '', `qstat ${args.join(' ')}`);
      return JSON.parse(r.stdout) as JsonObject;
    },
  };
  servers.push(server);
  return server;
}

function script(server: Server, name: string, text: string): string {
  writeFileSync(join(server.dir, name), text);
  return name;
}

const WORKER = `#!/usr/bin/env bash
#PBS -N dask-worker
#PBS -l ncpus=1
#PBS -l mem=1GB
#PBS -l walltime=00:05:00

echo "job=$PBS_JOBID index=\${PBS_ARRAY_INDEX:-} cwd=$(pwd) tmpdir=$TMPDIR jobfs=$PBS_JOBFS ncpus=$PBS_NCPUS"
test -d "$TMPDIR" && echo tmpdir-exists
echo "to stderr" >&2
sleep "\${SLEEP:-4}"
`;
const WORKER_PROJ = WORKER.replace('#PBS -N dask-worker\n', '#PBS -N dask-worker\n#PBS -P proj\n');
const WORKER_SELECT = WORKER.replace('#PBS -l ncpus=1\n#PBS -l mem=1GB\n', '#PBS -l select=1:ncpus=1:mem=1GB\n');
const FAIL = '#!/bin/bash\n#PBS -N failjob\n#PBS -l select=1:ncpus=1:mem=100MB\n#PBS -l walltime=00:05:00\nexit 3\n';
const WALL = '#!/bin/bash\n#PBS -N wallkill\n#PBS -l ncpus=1\n#PBS -l walltime=00:00:02\nsleep 60\n';

function submit(server: Server, args: string[], env: Record<string, string> = {}, input?: string): string {
  const r = server.run('qsub', args, input === undefined ? { env } : { env, input });
  assert.equal(r.stderr, '', `qsub ${args.join(' ')}`);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^\d+(\[\])?\.gadi-pbs\n$/);
  return r.stdout.trim();
}

function jobs(doc: JsonObject): Record<string, JsonObject> {
  return (doc.Jobs ?? {}) as Record<string, JsonObject>;
}

function job(doc: JsonObject, id: string): JsonObject {
  const found = jobs(doc)[id];
  assert.ok(found, `${id} in qstat output`);
  return found;
}

const until = (what: string, check: () => boolean, ms = 15_000) => poll(what, check, { timeoutMs: ms, everyMs: 200 });

function state(server: Server, id: string): string {
  return String(job(server.json(['-x', id]), id).job_state);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// What the samples are compared on: the ordered keys and the JSON type of every value.
type Shape = string | Array<[string, Shape]>;
function shape(value: unknown): Shape {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).map(([k, v]): [string, Shape] => [k, shape(v)]);
  }
  return typeof value;
}

function sample(name: string): JsonObject {
  return JSON.parse(readFileSync(join(samples, name), 'utf8')) as JsonObject;
}

function sampleJob(name: string, id: string): JsonObject {
  return job(sample(name), id);
}

function sameShape(ours: JsonObject, theirs: JsonObject, what: string): void {
  assert.deepEqual(shape(ours), shape(theirs), what);
}

// A recorded command output: the text before the `rc=N` line, and N.
function recorded(name: string): { text: string; rc: number } {
  const raw = readFileSync(join(samples, name), 'utf8');
  const m = /(^|\n)rc=(\d+)\n?$/.exec(raw);
  return m ? { text: raw.slice(0, m.index + m[1].length), rc: Number(m[2]) } : { text: raw, rc: 0 };
}

after(async () => {
  // Delete whatever still runs, wait for the supervisors to record it, then remove the directories.
  for (const server of servers) {
    const active = Object.entries(jobs(server.json(['-x'])))
      .filter(([, j]) => j.job_state !== 'F')
      .map(([id]) => id);
    if (active.length) server.run('qdel', active);
    await until('cleanup', () => Object.values(jobs(server.json(['-x']))).every((j) => j.job_state === 'F'), 10_000);
    rmSync(server.home, { recursive: true, force: true });
    rmSync(server.dir, { recursive: true, force: true });
  }
});

test('the executables are executable and find their module wherever the bin directory is', () => {
  for (const cmd of COMMANDS) {
    assert.equal(statSync(join(bin, cmd)).mode & 0o111, 0o111, `${cmd} is executable`);
    assert.match(readFileSync(join(bin, cmd), 'utf8'), /^#!\/usr\/bin\/python3\n/);
  }
  const copy = mkdtempSync(join(tmpdir(), 'pbs-emu-copy-'));
  try {
    cpSync(bin, copy, { recursive: true });
    for (const cmd of COMMANDS) {
      const r = spawnSync(join(copy, cmd), ['--version'], { encoding: 'utf8' });
      assert.deepEqual([r.status, r.stdout, r.stderr], [0, 'pbs_version = 23.06.06\n', ''], cmd);
    }
    // No bytecode is written next to the module (the directory may be read-only or shared).
    assert.equal(existsSync(join(copy, 'pbs_emulator', '__pycache__')), false);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});

// ----------------------------------------------------------------------------------------------------------------
// One server runs one job of every kind the samples show; the tests below read what it recorded.

const lab = makeServer();
// A two-CPU node for the array, so that one sub-job waits as in the recording (Queued:1 Running:2).
const arrays = makeServer({ PBS_EMULATOR_NCPUS: '2' });
const ids: Record<string, string> = {};
const snapshots: {
  running?: JsonObject;
  final?: JsonObject;
  runningPlain?: string;
  arrayRunning?: JsonObject;
  arrayFinal?: JsonObject;
  arrayPlain?: string;
} = {};
const timings: Record<string, number> = {};

test('qsub prints the job id and the job runs as a real process (kill -0, output files)', async () => {
  script(lab, 'dask-worker.pbs', WORKER);
  script(lab, 'dw-proj.pbs', WORKER_PROJ);
  script(lab, 'dw-select.pbs', WORKER_SELECT);
  script(lab, 'fail.pbs', FAIL);
  script(lab, 'wall.pbs', WALL);
  script(arrays, 'dask-worker.pbs', WORKER);

  ids.A = submit(lab, ['dask-worker.pbs']);
  ids.B = submit(lab, ['-v', 'SLEEP', 'dw-proj.pbs'], { SLEEP: '4' });
  snapshots.running = lab.json([ids.A, ids.B]);
  snapshots.runningPlain = lab.run('qstat', []).stdout;
  ids.E = submit(arrays, ['-v', 'SLEEP', '-J', '1-3', 'dask-worker.pbs'], { SLEEP: '2' });
  assert.match(ids.E, /^\d+\[\]\.gadi-pbs$/, 'array ids look like qsub_array.txt');
  assert.match(recorded('qsub_array.txt').text, /^\d+\[\]\.gadi-pbs\n$/);
  snapshots.arrayRunning = arrays.json([ids.E]);
  snapshots.arrayPlain = arrays.run('qstat', ['-t']).stdout;

  const a = job(snapshots.running, ids.A);
  assert.equal(a.job_state, 'R');
  assert.equal(typeof a.session_id, 'number');
  assert.ok(alive(a.session_id as number), 'the job shell is a live process');

  ids.C = submit(lab, ['-v', 'SLEEP', 'dw-select.pbs'], { SLEEP: '1' });
  ids.D = submit(lab, ['-v', 'SLEEP', 'dask-worker.pbs'], { SLEEP: '1' });
  ids.F = submit(lab, ['-h', 'dask-worker.pbs']);
  ids.G = submit(lab, ['-v', 'SLEEP', '-J', '1-4', 'dask-worker.pbs'], { SLEEP: '600' });
  const started = Date.now();
  ids.Z = submit(lab, ['-v', 'SLEEP', 'dask-worker.pbs'], { SLEEP: '600' });
  timings.longJobQsub = Date.now() - started;
  ids.H = submit(lab, ['fail.pbs']);
  ids.I = submit(lab, ['wall.pbs']);
  const del = lab.run('qdel', [ids.F, ids.G, ids.Z]);
  assert.deepEqual([del.status, del.stdout, del.stderr], [0, '', ''], 'qdel of running/held jobs prints nothing');

  const finished = (server: Server) =>
    Object.values(jobs(server.json(['-x', '-t']))).every((j) => j.job_state === 'F');
  await until('every job to finish', () => finished(lab) && finished(arrays));
  snapshots.final = lab.json(['-x', '-t']);
  snapshots.arrayFinal = arrays.json(['-x', '-t']);
  assert.ok(!alive(a.session_id as number), 'the job shell is gone once the job has finished');

  const seq = ids.A.split('.')[0];
  const out = readFileSync(join(lab.dir, `dask-worker.o${seq}`), 'utf8');
  assert.match(out, new RegExp(`^job=${ids.A.replace(/[.[\]]/g, '\\$&')} index= cwd=${me.homedir} `), 'cwd is home');
  assert.match(out, /tmpdir-exists/);
  assert.match(out, /ncpus=1\n/);
  const tmp = /tmpdir=(\S+)/.exec(out)?.[1] ?? '';
  assert.match(tmp, new RegExp(`${ids.A.replace(/[.[\]]/g, '\\$&')}$`), 'TMPDIR is per job');
  assert.equal(/jobfs=(\S+)/.exec(out)?.[1], tmp, 'PBS_JOBFS and TMPDIR are the same directory');
  assert.ok(!existsSync(tmp), 'the per-job temporary directory is removed when the job ends');
  assert.equal(readFileSync(join(lab.dir, `dask-worker.e${seq}`), 'utf8'), 'to stderr\n');
});

test('a long job does not hold the caller: qsub returns while the job runs on', () => {
  assert.ok(timings.longJobQsub < 5000, `qsub of a 600 s job took ${timings.longJobQsub} ms`);
});

test('plain qstat prints the real PBS columns', () => {
  const theirs = readFileSync(join(samples, 'qstat.txt'), 'utf8').split('\n');
  const ours = (snapshots.runningPlain ?? '').split('\n');
  assert.equal(ours[0], theirs[0], 'header as in qstat.txt');
  assert.equal(ours[1], theirs[1], 'dashes as in qstat.txt');
  // Rows follow qstat's printf: %-17s %-16s %-16s  %8s %1s %-16s (the samples' renaming shifted a few columns;
  // the queue column, which renaming did not touch, keeps its 16 characters as in qstat.txt).
  const row = (id: string, name: string, time: string, s: string) =>
    `${id.padEnd(17)} ${name.padEnd(16)} ${me.username.slice(0, 16).padEnd(16)}  ${time.padStart(8)} ${s} ${'workq'.padEnd(16)}`;
  assert.deepEqual(ours.slice(2), [
    row(ids.A, 'dask-worker', '00:00:00', 'R'),
    row(ids.B, 'dask-worker', '00:00:00', 'R'),
    '',
  ]);
  assert.ok(theirs[2].endsWith(' R workq           '), 'qstat.txt pads the queue the same way');

  // qstat -t of a running array: the parent B with no time used, then each sub-job, as qstat_t_array.txt.
  const seq = ids.E.split('[')[0];
  const tArray = readFileSync(join(samples, 'qstat_t_array.txt'), 'utf8').split('\n');
  const arrayRows = (snapshots.arrayPlain ?? '').split('\n');
  assert.deepEqual(arrayRows.slice(0, 2), tArray.slice(0, 2));
  assert.deepEqual(arrayRows.slice(2), [
    row(ids.E, 'dask-worker', '0', 'B'),
    row(`${seq}[1].gadi-pbs`, 'dask-worker', '00:00:00', 'R'),
    row(`${seq}[2].gadi-pbs`, 'dask-worker', '00:00:00', 'R'),
    row(`${seq}[3].gadi-pbs`, 'dask-worker', '0', 'Q'),
    '',
  ]);
  const states = (rows: string[]) => rows.slice(2).filter(Boolean).map((l) => l.trim().split(/\s+/).slice(-3, -1).join(' '));
  assert.deepEqual(states(arrayRows), states(tArray), 'same times and states as the recording');
});

test('running jobs match the running samples key for key and type for type', () => {
  const doc = snapshots.running as JsonObject;
  const top = ([k, v]: [string, Json]) => [k, typeof v];
  assert.deepEqual(
    Object.entries(doc).filter(([k]) => k !== 'Jobs').map(top),
    Object.entries(sample('qstat_f_F_json_running.json')).filter(([k]) => k !== 'Jobs').map(top),
  );
  sameShape(job(doc, ids.A), sampleJob('qstat_f_F_json_running.json', '1.gadi-pbs'), 'running job');
  sameShape(job(doc, ids.B), sampleJob('qstat_f_F_json_proj_and_select.json', '2.gadi-pbs'), 'running, -P proj');
  const e = job(snapshots.arrayRunning as JsonObject, ids.E);
  sameShape(e, sampleJob('qstat_f_F_json_array_parent_running.json', '6[].gadi-pbs'), 'array parent');
  const a = job(doc, ids.A);
  const rl = a.Resource_List as JsonObject;
  assert.deepEqual(rl, { mem: '1gb', ncpus: 1, nodect: 1, place: 'pack', select: '1:mem=1gb:ncpus=1', walltime: '00:05:00' });
  assert.equal(a.exec_vnode, '(gadi-cpu-clx-0001:mem=1048576kb:ncpus=1)');
  assert.equal(a.Job_Owner, `${me.username}@${SUBMIT_HOST}`);
  assert.equal(a.project, '_pbs_project_default');
  assert.match(String(a.comment), /^Job run at \w{3} \w{3} \d\d at \d\d:\d\d on \(gadi-cpu-clx-0001:mem=1048576kb:ncpus=1\)$/);
  const b = job(doc, ids.B);
  assert.equal(b.project, 'proj');
  assert.equal((b.Variable_List as JsonObject).SLEEP, 4, 'a numeric-looking variable is a JSON number');
  assert.equal(e.job_state, 'B');
  assert.equal(e.array_state_count, 'Queued:1 Running:2 Exiting:0 Expired:0');
  assert.equal(e.array_indices_remaining, 3);
});

test('finished, failed, killed and deleted jobs match the -x samples', () => {
  const doc = { Jobs: { ...jobs(snapshots.final as JsonObject), ...jobs(snapshots.arrayFinal as JsonObject) } };
  const seqE = ids.E.split('[')[0];
  assert.ok(!(ids.E in jobs(snapshots.final as JsonObject)), 'the array ran on its own server');
  const pairs: Array<[string, string, string]> = [
    ['qstat_x_f_F_json_finished.json', '5.gadi-pbs', ids.D],
    ['qstat_x_f_F_json_proj_finished.json', '12.gadi-pbs', ids.B],
    ['qstat_x_f_F_json_array_parent_finished.json', '6[].gadi-pbs', ids.E],
    ['qstat_x_f_F_json_array_subjob_finished.json', '6[2].gadi-cpu-clx-0001', `${seqE}[2].gadi-pbs`],
    ['qstat_x_f_F_json_deleted_7.json', '7.gadi-pbs', ids.Z],
    ['qstat_x_f_F_json_deleted_8.json', '8.gadi-pbs', ids.F],
    ['qstat_x_f_F_json_deleted_9.json', '9[].gadi-pbs', ids.G],
  ];
  for (const [file, theirId, ourId] of pairs) sameShape(job(doc, ourId), sampleJob(file, theirId), `${file} vs ${ourId}`);

  // qstat_x_f_F_json_all.json holds one job of each kind the recording made.
  const all: Array<[string, string]> = [
    ['1.gadi-pbs', ids.A], ['3.gadi-pbs', ids.C], ['5.gadi-pbs', ids.D], ['6[].gadi-pbs', ids.E],
    ['7.gadi-pbs', ids.Z], ['8.gadi-pbs', ids.F], ['9[].gadi-pbs', ids.G], ['10.gadi-pbs', ids.H],
    ['11.gadi-pbs', ids.I], ['12.gadi-pbs', ids.B],
  ];
  for (const [theirId, ourId] of all) {
    const ours = { ...job(doc, ourId) };
    // Job 10 failed within a second and the recording caught it before its session id was kept; a race, not a rule.
    if (theirId === '10.gadi-pbs') delete ours.session_id;
    sameShape(ours, sampleJob('qstat_x_f_F_json_all.json', theirId), `all.json ${theirId} vs ${ourId}`);
  }

  const exits = (id: string) => [job(doc, id).Exit_status, job(doc, id).substate];
  assert.deepEqual(exits(ids.D), [0, 92]);
  assert.deepEqual(exits(ids.H), [3, 93]);
  assert.deepEqual(exits(ids.Z), [271, 91]);
  assert.ok(String(job(doc, ids.D).comment).endsWith(') and finished'));
  assert.ok(String(job(doc, ids.H).comment).endsWith(') and failed'));
  assert.equal(job(doc, ids.H).exec_vnode, '(gadi-cpu-clx-0001:ncpus=1:mem=102400kb)');
  assert.ok(String(job(doc, ids.Z).comment).endsWith(`) and terminated by ${me.username}@${SUBMIT_HOST}`));
  assert.equal(job(doc, ids.F).Hold_Types, 'u');
  assert.equal(job(doc, ids.F).Exit_status, undefined, 'a job deleted before it ran has no exit status');
  const selected = job(doc, ids.C).Resource_List as JsonObject;
  assert.deepEqual([selected.select, selected.place, selected.mem], ['1:ncpus=1:mem=1GB', 'free', '1gb'], 'select kept as given');
  assert.match(String(job(doc, ids.E).comment), /^Job Array Began at \w{3} \w{3} \d\d at \d\d:\d\d and finished$/);
  assert.ok(String(job(doc, ids.G).comment).endsWith(' and terminated'));
  assert.equal(job(doc, ids.G).Exit_status, 1);
});

test('walltime is enforced: the job is killed, Exit_status -29', () => {
  const i = job(snapshots.final as JsonObject, ids.I);
  assert.equal(i.Exit_status, -29);
  assert.equal(i.substate, 93);
  assert.match(String(i.comment), /^Job run at .* on \(gadi-cpu-clx-0001:ncpus=1\) and exceeded resource walltime$/);
  const used = i.resources_used as JsonObject;
  const secs = String(used.walltime).split(':').reduce((t, x) => t * 60 + Number(x), 0);
  assert.ok(secs >= 2 && secs <= 5, `killed after ${used.walltime}, walltime 00:00:02`);
  assert.ok(!alive(i.session_id as number));
});

test('array sub-jobs run with PBS_ARRAY_INDEX and write name.oSEQ.INDEX', () => {
  const seq = ids.E.split('[')[0];
  for (const index of [1, 2, 3]) {
    const out = readFileSync(join(arrays.dir, `dask-worker.o${seq}.${index}`), 'utf8');
    assert.match(out, new RegExp(`^job=${seq}\\[${index}\\]\\.gadi-pbs index=${index} `));
  }
  const sub = job(snapshots.arrayFinal as JsonObject, `${seq}[2].gadi-pbs`);
  assert.equal(sub.array_id, ids.E);
  assert.equal(sub.array_index, 2);
  const parent = job(snapshots.arrayFinal as JsonObject, ids.E);
  assert.equal(parent.array_indices_remaining, '-');
  assert.equal(parent.array_state_count, 'Queued:0 Running:0 Exiting:0 Expired:0');
});

test('qstat -f and -F dsv print the real text layout', () => {
  const text = lab.run('qstat', ['-x', '-f', ids.D]).stdout;
  assert.ok(text.startsWith(`Job Id: ${ids.D}\n    Job_Name = dask-worker\n    Job_Owner = `));
  assert.ok(text.endsWith(`    Submit_Host = ${SUBMIT_HOST}\n\n`));
  assert.match(text, /\n {4}Resource_List\.select = 1:mem=1gb:ncpus=1\n/);
  const dsv = lab.run('qstat', ['-x', '-f', '-F', 'dsv', ids.D]).stdout;
  assert.ok(dsv.startsWith(`Job Id: ${ids.D}|Job_Name=dask-worker|`));
  assert.equal(dsv.split('\n').length, 2, 'one line per job');

  // The folding of long values at commas near column 78, against the recorded qstat -f.
  const recordedText = readFileSync(join(samples, 'qstat_f_running.txt'), 'utf8');
  const block = /\n( {4}Variable_List = [^\n]*(\n\t[^\n]*)*)/.exec(recordedText)?.[1] ?? '';
  const value = block.replace(/^ {4}Variable_List = /, '').replace(/\n\t/g, '');
  const py = spawnSync('/usr/bin/python3', ['-c',
    'import sys; sys.path.insert(0, sys.argv[1]); from pbs_emulator.qstat import wrap_attr; sys.stdout.write(wrap_attr("Variable_List", sys.argv[2]))',
    bin, value], { encoding: 'utf8', env: { PYTHONDONTWRITEBYTECODE: '1' } });
  assert.equal(py.stderr, '');
  assert.equal(py.stdout, block);
});

test('JSON is laid out as qstat 23.06 prints it (tabs, key order)', () => {
  const empty = makeServer();
  const raw = empty.run('qstat', ['-f', '-F', 'json']);
  assert.equal(raw.status, 0);
  const theirs = readFileSync(join(samples, 'qstat_f_F_json_no_jobs.json'), 'utf8');
  assert.equal(raw.stdout.replace(/\d{10}/, 'T'), theirs.replace(/\d{10}/, 'T'), 'no jobs: no Jobs key');
  sameShape(JSON.parse(raw.stdout) as JsonObject, sample('qstat_f_F_json_no_jobs.json'), 'no jobs');
  const plain = empty.run('qstat', []);
  assert.deepEqual([plain.status, plain.stdout, plain.stderr], [0, readFileSync(join(samples, 'qstat_no_jobs.txt'), 'utf8'), '']);

  // Line by line, the keys and indentation of a finished job equal the recorded file's.
  const skeleton = (s: string) => s.split('\n').map((l) => l.replace(/:\t.*$/, ':').replace(/^(\t+)"[^"]+\[\d*\]\.[^"]+"/, '$1ID').replace(/^(\t+)"\d+\.[^"]+"/, '$1ID'));
  const ours = lab.run('qstat', ['-x', '-f', '-F', 'json', ids.D]).stdout;
  assert.deepEqual(skeleton(ours), skeleton(readFileSync(join(samples, 'qstat_x_f_F_json_finished.json'), 'utf8')));
});

test('qstat -B and -Q report the server and queue as the samples do', () => {
  sameShape(lab.json(['-B']), sample('qstat_B_f_F_json.json'), 'qstat -B -f -F json');
  sameShape(lab.json(['-Q']), sample('qstat_Q_f_F_json.json'), 'qstat -Q -f -F json');
});

// ----------------------------------------------------------------------------------------------------------------
// Behaviour: errors, codes, holds and dependencies.

const ops = makeServer();
script(ops, 'dask-worker.pbs', WORKER);
script(ops, 'fail.pbs', FAIL);

test('mixing -l select with -l ncpus is refused with the real text', () => {
  const r = ops.run('qsub', ['-l', 'select=1:ncpus=1', 'dask-worker.pbs']);
  assert.equal(r.stderr, readFileSync(join(samples, 'qsub_mixed_select_and_ncpus.txt'), 'utf8'));
  assert.equal(r.stdout, '');
  assert.equal(r.status, 5, 'PBSE_INVALJOBRESC (15109) as an 8-bit exit status');
});

test('a walltime over 48 hours makes qsub exit 32 without a word, as Gadi does', () => {
  const before = Object.keys(jobs(ops.json(['-x']))).length;
  const r = ops.run('qsub', ['-l', 'walltime=48:00:01', 'dask-worker.pbs']);
  assert.deepEqual([r.status, r.stdout, r.stderr], [32, '', '']);
  assert.equal(Object.keys(jobs(ops.json(['-x']))).length, before, 'no job was created');
  const ok = ops.run('qsub', ['-h', '-l', 'walltime=48:00:00', 'dask-worker.pbs']);
  assert.equal(ok.status, 0, '48:00:00 itself is allowed');
});

test('qsub as root is refused like PBS does, unless the emulator is told to allow it', () => {
  const r = ops.run('qsub', ['-h', 'dask-worker.pbs'], { env: { PBS_EMULATOR_ALLOW_ROOT: '0' } });
  if (process.getuid?.() === 0) {
    assert.equal(r.stderr, readFileSync(join(samples, 'qsub_as_root.txt'), 'utf8'));
    assert.equal(r.status, 175);
  } else {
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^\d+\.gadi-pbs\n$/);
  }
});

test('qdel: 0 for a running job (then Exit_status 271), 153 unknown, 35 finished, several ids at once', async () => {
  const running = submit(ops, ['-v', 'SLEEP', 'dask-worker.pbs'], { SLEEP: '600' });
  const other = submit(ops, ['-v', 'SLEEP', 'dask-worker.pbs'], { SLEEP: '600' });
  const done = submit(ops, ['-v', 'SLEEP', 'dask-worker.pbs'], { SLEEP: '0' });
  const del = ops.run('qdel', [running]);
  const expectRunning = recorded('qdel_running.txt');
  assert.deepEqual([del.status, del.stdout + del.stderr], [expectRunning.rc, expectRunning.text]);
  await until('the deleted job and the short job to finish', () => state(ops, running) === 'F' && state(ops, done) === 'F');
  const gone = job(ops.json(['-x', running]), running);
  assert.equal(gone.Exit_status, 271);

  const unknown = ops.run('qdel', ['9999.gadi-pbs']);
  const expectUnknown = recorded('qdel_nonexistent.txt');
  assert.deepEqual([unknown.status, unknown.stderr, unknown.stdout], [expectUnknown.rc, expectUnknown.text, '']);

  const finished = ops.run('qdel', [done]);
  const expectFinished = recorded('qdel_already_finished.txt');
  assert.deepEqual([finished.status, finished.stderr], [expectFinished.rc, expectFinished.text.replace('7.gadi-pbs', done)]);

  const several = ops.run('qdel', [other, '9999', done]);
  assert.equal(several.stderr, `qdel: Unknown Job Id 9999.gadi-pbs\nqdel: Job has finished ${done}\n`);
  assert.equal(several.status, 35, 'the last failure sets the exit status');
  await until('the other job to be deleted', () => state(ops, other) === 'F');

  const q1 = ops.run('qstat', [done]);
  assert.deepEqual([q1.status, q1.stdout, q1.stderr],
    [35, '', `qstat: ${done} Job has finished, use -x or -H to obtain historical job information\n`]);
  const q2 = ops.run('qstat', ['9999']);
  assert.deepEqual([q2.status, q2.stdout, q2.stderr], [153, '', 'qstat: Unknown Job Id 9999.gadi-pbs\n']);
});

test('a held job stays H and never starts', async () => {
  const held = submit(ops, ['-h', 'dask-worker.pbs']);
  await sleep(1200);
  const j = job(ops.json([held]), held);
  assert.deepEqual([j.job_state, j.Hold_Types, j.substate], ['H', 'u', 20]);
  assert.equal(j.stime, undefined);
  assert.equal(j.session_id, undefined);
  const seq = held.split('.')[0];
  const line = ops.run('qstat', [held]).stdout.split('\n')[2];
  assert.equal(line, `${held.padEnd(17)} ${'dask-worker'.padEnd(16)} ${me.username.slice(0, 16).padEnd(16)}  ${'0'.padStart(8)} H ${'workq'.padEnd(16)}`);
  assert.ok(!existsSync(join(ops.dir, `dask-worker.o${seq}`)));
});

test('-W depend=afterok waits for success, depend=after waits for the start, a failed parent cancels afterok', async () => {
  const parent = submit(ops, ['-v', 'SLEEP', 'dask-worker.pbs'], { SLEEP: '2' });
  const onOk = submit(ops, ['-v', 'SLEEP', '-W', `depend=afterok:${parent}`, 'dask-worker.pbs'], { SLEEP: '1' });
  const onStart = submit(ops, ['-v', 'SLEEP', '-W', `depend=after:${onOk}`, 'dask-worker.pbs'], { SLEEP: '1' });
  const failing = submit(ops, ['fail.pbs']);
  const cancelled = submit(ops, ['-W', `depend=afterok:${failing}`, 'dask-worker.pbs']);

  const first = ops.json([parent, onOk, onStart]);
  assert.equal(job(first, parent).job_state, 'R');
  assert.deepEqual([job(first, onOk).job_state, job(first, onOk).Hold_Types], ['H', 's']);
  assert.equal(job(first, onStart).job_state, 'H');
  assert.equal(job(first, onOk).depend, `afterok:${parent}@gadi-pbs,before:${onStart}@gadi-pbs`);
  assert.equal(job(first, parent).depend, `beforeok:${onOk}@gadi-pbs`);

  const seen: string[] = [];
  await until('the dependent jobs to start', () => {
    const doc = ops.json(['-x', parent, onOk, onStart]);
    const s = [parent, onOk, onStart].map((id) => String(job(doc, id).job_state)).join('');
    if (seen[seen.length - 1] !== s) seen.push(s);
    return s.slice(1) !== 'HH';
  });
  assert.ok(seen.every((s) => s[1] === 'H' || s[0] === 'F'), `afterok ran only after its parent ended: ${seen}`);
  await until('the after-dependent job to start', () => state(ops, onStart) !== 'H');
  const ended = ops.json(['-x', onOk, onStart]);
  assert.ok(['R', 'F'].includes(String(job(ended, onStart).job_state)));

  await until('the cancelled job', () => state(ops, cancelled) === 'F');
  const c = job(ops.json(['-x', cancelled]), cancelled);
  // Ended by the server, never run: substate 92 on real PBS (a qdel'd queued job gets 91).
  assert.deepEqual([c.substate, c.Exit_status, c.stime], [92, undefined, undefined]);
});

// Both measured on real OpenPBS by test/openpbs/differential.test.ts.
test('qsub refuses an unknown resource, keeps Gadi\'s own, and accepts a dependency on an unknown job, which ends unrun', async () => {
  const bad = ops.run('qsub', ['-l', 'foo=1', 'dask-worker.pbs']);
  assert.deepEqual([bad.status, bad.stdout, bad.stderr], [187, '', 'qsub: Unknown resource Resource_List.foo\n']);
  const site = submit(ops, ['-h', '-l', 'storage=gdata/ab12+scratch/ab12', '-l', 'jobfs=1GB', '-l', 'wd', 'dask-worker.pbs']);
  assert.equal(job(ops.json([site]), site).job_state, 'H');
  assert.equal(ops.run('qdel', [site]).status, 0);

  const orphan = submit(ops, ['-W', 'depend=afterok:9999.gadi-pbs', 'dask-worker.pbs']);
  await until('the job depending on an unknown one to end', () => state(ops, orphan) === 'F');
  const j = job(ops.json(['-x', orphan]), orphan);
  assert.deepEqual([j.substate, j.Hold_Types, j.Exit_status, j.stime], [92, 's', undefined, undefined]);
});

test('qstat -J and -t list arrays and their sub-jobs like qstat_J_array.txt and qstat_t_array.txt', () => {
  const arr = submit(ops, ['-h', '-J', '1-2', 'dask-worker.pbs']);
  const seq = arr.split('[')[0];
  const plain = ops.run('qstat', ['-J']).stdout.split('\n');
  const theirs = readFileSync(join(samples, 'qstat_J_array.txt'), 'utf8').split('\n');
  assert.deepEqual(plain.slice(0, 2), theirs.slice(0, 2));
  assert.deepEqual(plain.slice(2).map((l) => l.split(/\s+/)[0]), [arr, '']);
  const rows = ops.run('qstat', ['-t', arr]).stdout.split('\n').slice(2).filter(Boolean);
  const idAndState = rows.map((l) => l.trim().split(/\s+/)).map((t) => [t[0], t[t.length - 2]]);
  assert.deepEqual(idAndState, [[arr, 'H'], [`${seq}[1].gadi-pbs`, 'Q'], [`${seq}[2].gadi-pbs`, 'Q']]);
});

test('-l wd starts in the submission directory; -V carries the environment, commas and all', async () => {
  const id = submit(ops, ['-V', '-l', 'wd', '-v', 'SLEEP=0', 'dask-worker.pbs'], { FOO: 'a,b' });
  await until('the job to finish', () => state(ops, id) === 'F');
  const j = job(ops.json(['-x', id]), id);
  assert.equal((j.Resource_List as JsonObject).wd, 1, 'Gadi records a bare -l wd as 1');
  assert.equal((j.Variable_List as JsonObject).FOO, 'a,b');
  assert.equal((j.Variable_List as JsonObject).SLEEP, 0);
  const out = readFileSync(join(ops.dir, `dask-worker.o${id.split('.')[0]}`), 'utf8');
  assert.match(out, new RegExp(` cwd=${ops.dir} `));
});

test('a script from stdin is STDIN; -j oe -o dir/ writes one <jobid>.OU; -e names the error file', async () => {
  mkdirSync(join(ops.dir, 'logs'));
  const joined = submit(ops, ['-j', 'oe', '-o', 'logs/'], {}, 'echo out\necho err >&2\n');
  const split = submit(ops, ['-N', 'named', '-e', 'logs/errors.txt'], {}, 'echo out\necho err >&2\nexit 4\n');
  await until('both jobs to finish', () => state(ops, joined) === 'F' && state(ops, split) === 'F');
  const doc = ops.json(['-x', joined, split]);
  assert.equal(job(doc, joined).Job_Name, 'STDIN');
  assert.equal(job(doc, joined).Join_Path, 'oe');
  assert.equal(job(doc, joined).Output_Path, `${SUBMIT_HOST}:${ops.dir}/logs/`);
  assert.equal(readFileSync(join(ops.dir, 'logs', `${joined}.OU`), 'utf8'), 'out\nerr\n');
  assert.ok(!existsSync(join(ops.dir, `STDIN.e${joined.split('.')[0]}`)), 'no error file when joined');
  assert.equal(job(doc, split).Exit_status, 4);
  assert.equal(readFileSync(join(ops.dir, 'logs', 'errors.txt'), 'utf8'), 'err\n');
  assert.equal(readFileSync(join(ops.dir, `named.o${split.split('.')[0]}`), 'utf8'), 'out\n');
});

// ----------------------------------------------------------------------------------------------------------------
// Fidelity to the later recordings: qselect, a deleted job that lingers in R, unknown queues, resources_used.

// A recorded session: each `$ command  # note` line, the output after it and its rc.
function transcript(name: string): { command: string; output: string; rc: number }[] {
  const blocks: { command: string; output: string; rc: number }[] = [];
  for (const line of readFileSync(join(samples, name), 'utf8').split('\n')) {
    const cmd = /^\$ (.*?)(\s+#.*)?$/.exec(line);
    const rc = /^rc=(\d+)$/.exec(line);
    if (cmd) blocks.push({ command: cmd[1]!, output: '', rc: -1 });
    else if (rc && blocks.length) blocks[blocks.length - 1]!.rc = Number(rc[1]);
    else if (blocks.length && !line.startsWith('#') && line !== '') blocks[blocks.length - 1]!.output += `${line}\n`;
  }
  return blocks;
}

test('the emulator knows the queues of the project\'s Gadi table: its generated copy is current', () => {
  assert.equal(readFileSync(GADI_QUEUES_PY, 'utf8'), gadiQueuesPython(), 'run node --import tsx test/pbs-emulator/gadiQueues.ts');
});

test('qsub -q with an unknown queue prints "qsub: Unknown queue" and exits 170; Gadi\'s queues are known', () => {
  const recordedRun = transcript('qdel_running_then.txt').find((b) => b.command.startsWith('qsub -q nosuchq'));
  assert.ok(recordedRun);
  const before = Object.keys(jobs(ops.json(['-x']))).length;
  const r = ops.run('qsub', recordedRun.command.split(' ').slice(1));
  assert.deepEqual([r.status, r.stdout + r.stderr], [recordedRun.rc, recordedRun.output]);
  assert.equal(r.stdout, '', 'the error goes to stderr');
  assert.equal(Object.keys(jobs(ops.json(['-x']))).length, before, 'no job was created');
  for (const queue of [...GADI_QUEUE_NAMES, 'workq', 'express@gadi-pbs']) {
    const id = submit(ops, ['-h', '-q', queue, 'dask-worker.pbs']);
    assert.equal(job(ops.json([id]), id).queue, queue.split('@')[0]);
    assert.equal(ops.run('qdel', [id]).status, 0);
  }
});

test('qselect prints one id per line and exits 0 when nothing matches, as qselect.txt shows', async () => {
  const sel = makeServer({ PBS_EMULATOR_QDEL_LINGER: '0' });
  script(sel, 'dask-worker.pbs', WORKER);
  const recordedRuns = transcript('qselect.txt');
  const theirIds = [...new Set([...readFileSync(join(samples, 'qselect.txt'), 'utf8').matchAll(/\d+\.gadi-pbs/g)].map((m) => m[0]))];
  const ours = [
    submit(sel, ['-N', 'effsample', '-v', 'SLEEP', 'dask-worker.pbs'], { SLEEP: '600' }),
    submit(sel, ['-N', 'effsample', '-v', 'SLEEP', 'dask-worker.pbs'], { SLEEP: '600' }),
  ];
  const held = submit(sel, ['-h', '-N', 'other', 'dask-worker.pbs']);
  const check = (block: { command: string; output: string; rc: number }) => {
    const args = block.command.split(' ').slice(1).map((a) => a.replace('abc123', me.username));
    const r = sel.run('qselect', args);
    const expected = theirIds.reduce((text, id, i) => text.replaceAll(id, ours[i]!), block.output);
    assert.deepEqual([r.status, r.stdout, r.stderr], [block.rc, expected, ''], block.command);
  };
  const [live, finished] = [recordedRuns.slice(0, 4), recordedRuns.slice(4)];
  assert.equal(live.length, 4);
  assert.equal(finished.length, 2);
  live.forEach(check);
  // -s narrows by state; every job of the user without -N.
  assert.equal(sel.run('qselect', ['-s', 'H']).stdout, `${held}\n`);
  assert.equal(sel.run('qselect', ['-s', 'R', '-u', me.username]).stdout, ours.map((id) => `${id}\n`).join(''));
  assert.equal(sel.run('qselect', []).stdout, [...ours, held].map((id) => `${id}\n`).join(''));
  const bad = sel.run('qselect', ['-s', 'Z']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^qselect: illegal -s value\nusage: qselect /);

  assert.equal(sel.run('qdel', [...ours, held]).status, 0);
  await until('the deleted jobs to finish', () => [...ours, held].every((id) => state(sel, id) === 'F'));
  finished.forEach(check);
});

test('a deleted running job stays R (substate 42) a few seconds, a second qdel is silent, then it has finished', async () => {
  const LINGER_S = 2;
  const lingering = makeServer({ PBS_EMULATOR_QDEL_LINGER: String(LINGER_S) });
  script(lingering, 'dask-worker.pbs', WORKER);
  const [del, grepped, later] = transcript('qdel_running_then.txt');
  const theirs = '647.gadi-pbs';
  const id = submit(lingering, ['-v', 'SLEEP', 'dask-worker.pbs'], { SLEEP: '300' });
  const pid = job(lingering.json([id]), id).session_id as number;

  const d = lingering.run('qdel', [id]);
  const deletedAt = Date.now();
  assert.deepEqual([d.status, d.stdout + d.stderr], [del!.rc, del!.output]);
  const right = job(lingering.json([id]), id);
  const shown = `            "job_state":"${right.job_state}",\n            "substate":${right.substate},\n`;
  assert.equal(shown, grepped!.output, 'still R, substate 42, right after qdel');
  await until('the job\'s shell to be killed', () => !alive(pid), 5000);
  assert.equal(job(lingering.json([id]), id).job_state, 'R', 'killed, but still R until the exit is reported');
  const again = lingering.run('qdel', [id]);
  assert.deepEqual([again.status, again.stdout, again.stderr], [0, '', ''], 'a second qdel meanwhile is silent');

  await until('the job to leave the live list', () => lingering.run('qstat', [id]).status !== 0, 10_000);
  const goneAfter = Date.now() - deletedAt;
  assert.ok(goneAfter >= LINGER_S * 1000 - 250, `left after ${goneAfter} ms`);
  const q = lingering.run('qstat', [id]);
  assert.deepEqual([q.status, q.stdout + q.stderr], [later!.rc, later!.output.replace(theirs, id)]);
  const f = job(lingering.json(['-x', id]), id);
  assert.deepEqual([f.job_state, f.Exit_status, f.substate], ['F', 271, 91]);
});

// What /proc says one process tree uses: CPU seconds (utime + stime + reaped children) and RSS, by session.
function procUsage(sid: number): { cpu: number; rss: number } {
  let cpu = 0;
  let rss = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[3]) !== sid) continue;
      cpu += (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLOCK_TICKS;
      rss += Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${name}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    } catch {
      // gone meanwhile
    }
  }
  return { cpu, rss };
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const hms = (v: Json) => String(v).split(':').reduce((s, part) => s * 60 + Number(part), 0);
const kb = (v: Json) => Number(/^(\d+)kb$/.exec(String(v))?.[1] ?? NaN) * 1024;
// The busy samples come from the 23.06.06 release, whose Variable_List lacks the PBS_O_INTERACTIVE_* pair the
// other recordings (a later build) show: compared without it.
const withoutVariables = (j: JsonObject): JsonObject => Object.fromEntries(Object.entries(j).filter(([k]) => k !== 'Variable_List'));
// 20%, or the one-second resolution of an HH:MM:SS value when that is more.
const within = (ours: number, theirs: number, what: string, quantum = 0) =>
  assert.ok(Math.abs(ours - theirs) <= Math.max(0.2 * theirs, quantum), `${what}: qstat says ${ours}, /proc measured ${theirs}`);

test('resources_used is measured: a job busy on one core for 10 s holding 200 MiB, running and finished', async () => {
  const busy = makeServer({ PBS_EMULATOR_SAMPLE_SECONDS: '0.5' });
  script(busy, 'burn.pbs', [
    '#!/bin/bash',
    '#PBS -N effsample',
    '#PBS -l select=1:ncpus=1:mem=500mb',
    '#PBS -l walltime=00:05:00',
    // Every page written, so that all of it is resident; then one core kept busy.
    "/usr/bin/python3 -c 'import time\nb = bytearray(200 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\n" +
      "end = time.time() + 10\nwhile time.time() < end: pass'",
    '',
  ].join('\n'));
  const id = submit(busy, ['burn.pbs']);
  const sid = job(busy.json([id]), id).session_id as number;
  let peakRss = 0;
  let last = { cpu: 0, rss: 0 };
  const watch = setInterval(() => {
    const now = procUsage(sid);
    if (now.rss === 0) return; // the tree has ended
    last = now;
    peakRss = Math.max(peakRss, now.rss);
  }, 100);
  try {
    await sleep(7000);
    const before = procUsage(sid);
    const running = job(busy.json([id]), id);
    const after = procUsage(sid);
    sameShape(withoutVariables(running), withoutVariables(sampleJob('qstat_f_F_json_running_busy.json', '646.gadi-pbs')), 'running busy job');
    const used = running.resources_used as JsonObject;
    within(hms(used.cput), (before.cpu + after.cpu) / 2, 'running cput', 1);
    within(kb(used.mem), (before.rss + after.rss) / 2, 'running mem');
    assert.ok(kb(used.vmem) >= kb(used.mem), 'vmem covers mem');
    within(hms(used.walltime), 7, 'running walltime', 1);
    // On a loaded machine the busy loop gets less than a core; cpupercent must say what it got.
    within(Number(used.cpupercent), (100 * after.cpu) / hms(used.walltime), 'running cpupercent');

    await until('the busy job to finish', () => state(busy, id) === 'F', 15_000);
  } finally {
    clearInterval(watch);
  }
  const done = job(busy.json(['-x', id]), id);
  sameShape(withoutVariables(done), withoutVariables(sampleJob('qstat_x_f_F_json_finished_busy.json', '646.gadi-pbs')), 'finished busy job');
  const used = done.resources_used as JsonObject;
  assert.match(String(used.cput), /^\d\d:\d\d:\d\d$/);
  within(hms(used.cput), last.cpu, 'final cput', 1);
  assert.ok(last.cpu >= 3, `the job was busy (${last.cpu} s of CPU)`);
  within(kb(used.mem), peakRss, 'peak mem');
  assert.ok(peakRss >= 200 * 2 ** 20, `it held 200 MiB (${peakRss} bytes)`);
  within(hms(used.walltime), 10, 'final walltime', 1);
  within(Number(used.cpupercent), (100 * last.cpu) / hms(used.walltime), 'final cpupercent');
  assert.equal(used.ncpus, 1);
});
