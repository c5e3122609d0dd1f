import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repairJson } from '../../src/core/pbs/jsonRepair';
import { parseQstatJson, QstatParseError, type PbsJob } from '../../src/core/pbs/qstat';
import { parsePbsTime, zoneConverter } from '../../src/core/pbs/time';
import { PBS_SAMPLES as SAMPLES } from '../fixtures/paths';

const sample = (name: string) => readFileSync(join(SAMPLES, name), 'utf8');
const only = (name: string): PbsJob => {
  const { jobs } = parseQstatJson(sample(name));
  assert.equal(jobs.length, 1, name);
  return jobs[0];
};
const iso = (d: Date | undefined) => d?.toISOString();

test('every JSON sample parses, with the jobs it holds', () => {
  const expected: Record<string, string[]> = {
    'pbsnodes_a_F_json.json': [],
    'qstat_B_f_F_json.json': [],
    'qstat_Q_f_F_json.json': [],
    'qstat_f_F_json_array_parent_running.json': ['6[].gadi-pbs B'],
    'qstat_f_F_json_no_jobs.json': [],
    'qstat_f_F_json_proj_and_select.json': ['2.gadi-pbs R'],
    'qstat_f_F_json_running.json': ['1.gadi-pbs R'],
    'qstat_f_F_json_running_busy.json': ['646.gadi-pbs R'],
    'qstat_x_f_F_json_all.json': [
      '1.gadi-pbs F', '3.gadi-pbs F', '5.gadi-pbs F', '6[].gadi-pbs F', '7.gadi-pbs F', '8.gadi-pbs F', '9[].gadi-pbs F',
      '10.gadi-pbs F', '11.gadi-pbs F', '12.gadi-pbs F',
    ],
    'qstat_x_f_F_json_array_parent_finished.json': ['6[].gadi-pbs F'],
    'qstat_x_f_F_json_array_subjob_finished.json': ['6[2].gadi-cpu-clx-0001 F'],
    'qstat_x_f_F_json_deleted_7.json': ['7.gadi-pbs F'],
    'qstat_x_f_F_json_deleted_8.json': ['8.gadi-pbs F'],
    'qstat_x_f_F_json_deleted_9.json': ['9[].gadi-pbs F'],
    'qstat_x_f_F_json_finished.json': ['5.gadi-pbs F'],
    'qstat_x_f_F_json_finished_busy.json': ['646.gadi-pbs F'],
    'qstat_x_f_F_json_proj_finished.json': ['12.gadi-pbs F'],
  };
  const files = readdirSync(SAMPLES).filter((f) => f.endsWith('.json')).sort();
  assert.deepEqual(files, Object.keys(expected).sort(), 'a new sample needs its expectation here');
  for (const file of files) {
    const result = parseQstatJson(sample(file));
    assert.deepEqual(result.jobs.map((j) => `${j.id} ${j.state}`), expected[file], file);
    assert.equal(result.server, 'gadi-pbs', file);
    assert.ok(result.timestamp instanceof Date && result.timestamp.getUTCFullYear() === 2026, file);
  }
});

test('a running job: identity, resources requested and used, node, times, variables, paths', () => {
  const job = only('qstat_f_F_json_running.json');
  assert.equal(job.name, 'dask-worker');
  assert.equal(job.owner, 'abc123');
  assert.equal(job.stateInfo.phase, 'running');
  assert.equal(job.substate, 42);
  assert.equal(job.queue, 'workq');
  assert.equal(job.project, undefined); // _pbs_project_default
  assert.deepEqual(job.requested, {
    ncpus: 1, memBytes: 2 ** 30, walltimeSeconds: 300, select: '1:mem=1gb:ncpus=1', nodect: 1, place: 'pack',
    ngpus: undefined, jobfsBytes: undefined, storage: undefined,
  });
  assert.deepEqual(job.used, { walltimeSeconds: 0, cputSeconds: 0, memBytes: 0, vmemBytes: 0, ncpus: 1, cpuPercent: 0 });
  assert.equal(job.execHost, 'gadi-cpu-clx-0001/0');
  assert.deepEqual(job.nodes, ['gadi-cpu-clx-0001']);
  assert.equal(job.comment, 'Job run at Thu Nov 26 at 16:31 on (gadi-cpu-clx-0001:mem=1048576kb:ncpus=1)');
  assert.equal(job.exitStatus, undefined);
  assert.equal(iso(job.times.created), '2026-11-26T16:31:12.000Z');
  assert.equal(iso(job.times.started), '2026-11-26T16:31:12.000Z');
  assert.equal(iso(job.times.modified), '2026-11-26T16:31:14.000Z');
  assert.equal(job.times.ended, undefined);
  assert.equal(job.variables.PBS_O_WORKDIR, '/home/123/abc123');
  assert.equal(job.variables.PBS_O_INTERACTIVE_ENCRYPT_METHOD, '');
  assert.equal(job.outputPath, '/home/123/abc123/dask-worker.o1');
  assert.equal(job.errorPath, '/home/123/abc123/dask-worker.e1');
  assert.equal(job.submitArguments, 'dask-worker.pbs');
  assert.equal(job.runCount, 1);
  assert.equal(job.array, undefined);
  assert.equal(job.raw.session_id, 24434); // everything qstat printed stays reachable
});

test('-P shows as the project; numeric-looking variables come back as text', () => {
  const job = only('qstat_f_F_json_proj_and_select.json');
  assert.equal(job.project, 'proj');
  assert.equal(job.variables.SLEEP, '5');
  assert.equal(only('qstat_x_f_F_json_proj_finished.json').project, 'proj');
});

test('finished jobs: exit status, end time, resources used, comment', () => {
  const job = only('qstat_x_f_F_json_finished.json');
  assert.equal(job.stateInfo.finished, true);
  assert.equal(job.exitStatus, 0);
  assert.equal(iso(job.times.ended), '2026-11-26T16:32:34.000Z');
  assert.equal(job.used?.walltimeSeconds, 10);
  assert.equal(job.used?.memBytes, 6008 * 1024);
  assert.match(job.comment ?? '', /and finished$/);

  const all = new Map(parseQstatJson(sample('qstat_x_f_F_json_all.json')).jobs.map((j) => [j.id, j]));
  const walltime = all.get('11.gadi-pbs')!;
  assert.equal(walltime.exitStatus, -29);
  assert.match(walltime.comment ?? '', /exceeded resource walltime$/);
  assert.equal(walltime.requested.memBytes, undefined); // no mem requested
  assert.equal(walltime.requested.walltimeSeconds, 5);
  assert.equal(all.get('10.gadi-pbs')!.exitStatus, 3);
  assert.equal(all.get('10.gadi-pbs')!.requested.memBytes, 100 * 2 ** 20);
  assert.equal(all.get('3.gadi-pbs')!.requested.select, '1:ncpus=1:mem=1GB');
  const deleted = all.get('7.gadi-pbs')!;
  assert.equal(deleted.exitStatus, 271);
  assert.match(deleted.comment ?? '', /terminated by abc123@/);
});

test('a job deleted while held has no comment, exit status nor start time', () => {
  const job = only('qstat_x_f_F_json_deleted_8.json');
  assert.deepEqual([job.comment, job.exitStatus, job.times.started, job.used, job.holdTypes], [undefined, undefined, undefined, undefined, 'u']);
  assert.deepEqual(job.nodes, []);
});

test('array parents and sub-jobs', () => {
  const parent = only('qstat_f_F_json_array_parent_running.json');
  assert.equal(parent.stateInfo.label, 'Array running');
  assert.deepEqual(parent.array, {
    kind: 'parent', indicesSubmitted: '1-3', indicesRemaining: '3', stateCount: { Queued: 1, Running: 2, Exiting: 0, Expired: 0 },
  });
  assert.equal(parent.outputPath, '/home/123/abc123/dask-worker.o6.^array_index^');
  const finished = only('qstat_x_f_F_json_deleted_9.json');
  assert.deepEqual(finished.array, {
    kind: 'parent', indicesSubmitted: '1-4', indicesRemaining: '-', stateCount: { Queued: 0, Running: 0, Exiting: 0, Expired: 3 },
  });
  const sub = only('qstat_x_f_F_json_array_subjob_finished.json');
  assert.deepEqual(sub.array, { kind: 'subjob', parentId: '6[].gadi-pbs', index: 2 });
  assert.equal(sub.errorPath, '/home/123/abc123/dask-worker.e6.2');
});

function doc(jobs: Record<string, Record<string, unknown>>): string {
  return JSON.stringify({ timestamp: 1795710677, pbs_version: '2022.1.5', pbs_server: 'gadi-pbs', Jobs: jobs }, null, '\t');
}
const minimal = { Job_Name: 'w', Job_Owner: 'abc123@gadi-login-01', job_state: 'Q', queue: 'normal' };

test('unknown keys, site resources, numeric names and several nodes are taken in stride', () => {
  const { jobs } = parseQstatJson(doc({
    '100.gadi-pbs': {
      ...minimal, Job_Name: 12345, site_thing: { nested: [1, 2] }, comment: 'Not Running: Insufficient amount of resource: ncpus',
      Resource_List: { ncpus: 96, mem: '384GB', jobfs: '200gb', ngpus: 0, storage: 'gdata/ab12+scratch/ab12', software: 'matlab', walltime: 3600 },
      exec_host: 'gadi-cpu-clx-0001/0*48+gadi-cpu-clx-0002/0*48',
      Variable_List: { A: 8, B: true, C: 'x,y' },
    },
    '101[3].gadi-pbs': { ...minimal, job_state: 'Z', Resource_List: { mem: 'lots', walltime: 'ages' } },
  }));
  const [a, b] = jobs;
  assert.equal(a.name, '12345');
  assert.deepEqual(a.nodes, ['gadi-cpu-clx-0001', 'gadi-cpu-clx-0002']);
  assert.equal(a.requested.jobfsBytes, 200 * 2 ** 30);
  assert.equal(a.requested.storage, 'gdata/ab12+scratch/ab12');
  assert.equal(a.requested.walltimeSeconds, 3600);
  assert.equal((a.raw.Resource_List as Record<string, unknown>).software, 'matlab');
  assert.deepEqual(a.variables, { A: '8', B: 'true', C: 'x,y' });
  assert.equal(a.stateInfo.phase, 'pending');
  // An odd value becomes undefined; an unknown state stays visible.
  assert.deepEqual([b.requested.memBytes, b.requested.walltimeSeconds, b.stateInfo.phase], [undefined, undefined, 'unknown']);
  assert.deepEqual(b.array, { kind: 'subjob', parentId: '101[].gadi-pbs', index: 3 });
});

test('banners printed by a login shell around the document are ignored', () => {
  const text = `Welcome to Gadi\n{not json}\n${sample('qstat_f_F_json_running.json')}\nquota: 12% used\n`;
  assert.equal(parseQstatJson(text).jobs[0].id, '1.gadi-pbs');
});

test('times are the server wall clock, read in its zone', () => {
  const text = doc({ '1.gadi-pbs': { ...minimal, ctime: 'Thu Nov 26 16:31:12 2026', stime: 'Mon Jun  1 09:05:00 2026' } });
  const sydney = parseQstatJson(text, { timeZone: 'Australia/Sydney' }).jobs[0];
  assert.equal(iso(sydney.times.created), '2026-11-26T05:31:12.000Z'); // AEDT, +11
  assert.equal(iso(sydney.times.started), '2026-05-31T23:05:00.000Z'); // AEST, +10
  const fixed = parseQstatJson(text, { timeZone: '+1000' }).jobs[0];
  assert.equal(iso(fixed.times.created), '2026-11-26T06:31:12.000Z');
  assert.equal(iso(parsePbsTime('Thu Nov 26 16:31:12 2026', zoneConverter('-05:30'))), '2026-11-26T22:01:12.000Z');
  assert.equal(iso(parsePbsTime(1795710733)), '2026-11-26T16:32:13.000Z');
  assert.equal(parsePbsTime('yesterday'), undefined);
  assert.throws(() => zoneConverter('Mars/Olympus_Mons'), RangeError);
});

// What real qstat -F json has printed: raw control characters and non-JSON escapes in values, quotes inside
// comments, and numeric-looking values that are not JSON numbers.
test('output that is not valid JSON is repaired, keeping the text as PBS printed it', () => {
  const broken = [
    '{',
    '\t"pbs_server":\t"gadi-pbs",',
    '\t"Jobs":\t{',
    '\t\t"1.gadi-pbs":\t{',
    '\t\t\t"Job_Name":\t"dask-worker",',
    '\t\t\t"Job_Owner":\t"abc123@gadi-login-01",',
    '\t\t\t"job_state":\t"R",',
    '\t\t\t"queue":\t"normal",',
    '\t\t\t"comment":\t"user said "stop" now",',
    '\t\t\t"Variable_List":\t{',
    '\t\t\t\t"PBS_O_PATH":\t"/usr/bin\\,/bin",',
    '\t\t\t\t"MSG":\t"tab\there\nnewline",',
    '\t\t\t\t"WIN":\t"C:\\data\\u12",',
    '\t\t\t\t"ZIP":\t08,',
    '\t\t\t\t"OK":\t"\\u00e9\\"q\\""',
    '\t\t\t}',
    '\t\t}',
    '\t}',
    '}',
  ].join('\n');
  assert.throws(() => JSON.parse(broken));
  const job = parseQstatJson(broken).jobs[0];
  assert.equal(job.comment, 'user said "stop" now');
  assert.deepEqual(job.variables, {
    PBS_O_PATH: '/usr/bin\\,/bin', MSG: 'tab\there\nnewline', WIN: 'C:\\data\\u12', ZIP: '08', OK: 'é"q"',
  });
  // Valid JSON is left exactly as it is.
  const valid = sample('qstat_f_F_json_running.json');
  assert.equal(repairJson(valid), valid);
});

test('not JSON, or not the expected shape: a QstatParseError saying what was expected, with an excerpt', () => {
  const error = (text: string) => {
    try {
      parseQstatJson(text);
    } catch (e) {
      assert.ok(e instanceof QstatParseError, String(e));
      return e;
    }
    assert.fail(`no error for ${JSON.stringify(text.slice(0, 40))}`);
  };
  assert.equal(error('').kind, 'empty');
  assert.equal(error('   \n').kind, 'empty');
  const notJson = error('qstat: cannot connect to server gadi-pbs (errno=111)\n');
  assert.equal(notJson.kind, 'invalid-json');
  assert.match(notJson.message, /not a JSON document.*cannot connect to server/);

  const truncated = error(sample('qstat_f_F_json_running.json').slice(0, 700));
  assert.equal(truncated.kind, 'invalid-json');
  assert.match(truncated.message, /not valid JSON/);
  assert.ok(truncated.excerpt.length > 2);

  const missing = error(doc({ '1.gadi-pbs': { Job_Name: 'w', Job_Owner: 'o', queue: 'q' } }));
  assert.equal(missing.kind, 'wrong-shape');
  assert.match(missing.message, /Jobs\."1\.gadi-pbs"\.job_state/);
  assert.match(missing.message, /"Jobs"/); // says what was expected

  const badMap = error(doc({ '1.gadi-pbs': { ...minimal, Resource_List: 'mem=1gb' } }));
  assert.match(badMap.message, /Resource_List: expected an object of attributes/);
  assert.equal(error('{"Jobs": [1, 2]}').kind, 'wrong-shape');
  assert.equal(error('{"Jobs": {"1.x": null}}').kind, 'wrong-shape');
});

test('any input gives jobs or a QstatParseError, never another exception', () => {
  const base = sample('qstat_x_f_F_json_all.json');
  for (let cut = 0; cut < base.length; cut += 97) {
    for (const text of [base.slice(0, cut), base.slice(cut), base.slice(0, cut) + '\u0000"\\' + base.slice(cut + 3)]) {
      try {
        const result = parseQstatJson(text);
        assert.ok(Array.isArray(result.jobs));
      } catch (e) {
        assert.ok(e instanceof QstatParseError, `cut ${cut}: ${String(e)}`);
      }
    }
  }
});
