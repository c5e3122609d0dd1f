// The project's PBS readers against what a real OpenPBS 23.06.06 printed (test/fixtures/pbs/real-openpbs/, captured
// by the differential test): every job state qstat's JSON shows, and the exit statuses and messages the code relies on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseQstatJson, type PbsJob } from '../../src/core/pbs/qstat';
import { JOB_ID, QDEL_EXIT, qsubError } from '../../src/core/pbs/submit';

const DIR = join(__dirname, '..', 'fixtures', 'pbs', 'real-openpbs');
const NODE = 'gadi-cpu-clx-0001';

function only(name: string): PbsJob {
  const r = parseQstatJson(readFileSync(join(DIR, `${name}.json`), 'utf8'));
  assert.equal(r.jobs.length, 1, name);
  assert.equal(r.pbsVersion, '23.06.06');
  return r.jobs[0]!;
}

/** A `.txt` fixture: the command, what it printed, its exit status. */
function recorded(name: string): { command: string; text: string; rc: number } {
  const lines = readFileSync(join(DIR, `${name}.txt`), 'utf8').trimEnd().split('\n');
  const rc = /^rc=(\d+)$/.exec(lines.pop()!)?.[1];
  assert.ok(rc !== undefined && lines[0]!.startsWith('$ '), `${name}.txt is "$ command", output, "rc=N"`);
  return { command: lines[0]!.slice(2), text: lines.slice(1).join('\n'), rc: Number(rc) };
}

test('every qstat JSON fixture parses, ids and owners as Gadi shows them', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 10, files.join(' '));
  for (const f of files) {
    for (const j of parseQstatJson(readFileSync(join(DIR, f), 'utf8')).jobs) {
      assert.match(j.id, JOB_ID, f);
      assert.equal(j.owner, 'abc123', f);
    }
  }
  assert.deepEqual(parseQstatJson(readFileSync(join(DIR, 'qstat-json_none.json'), 'utf8')).jobs, []);
});

test('job states as real PBS reports them: running, held by the user, held by a dependency, queued, finished', () => {
  const running = only('qstat-json_running');
  assert.deepEqual([running.state, running.substate, running.queue, running.nodes], ['R', 42, 'normal', [NODE]]);
  assert.equal(running.requested.walltimeSeconds, 600);
  assert.ok(running.used, 'a running job reports resources_used');
  assert.deepEqual([only('qstat-json_held').state, only('qstat-json_held').holdTypes], ['H', 'u']);
  assert.deepEqual([only('qstat-json_depend').state, only('qstat-json_depend').holdTypes], ['H', 's']);
  const queued = only('qstat-json_queued');
  assert.equal(queued.state, 'Q');
  assert.match(queued.comment ?? '', /^Not Running: Insufficient amount of resource: ncpus/);
  const finished = only('qstat-json_finished');
  assert.deepEqual([finished.state, finished.exitStatus], ['F', 0]);
});

test('how deleted jobs end on real PBS', () => {
  const running = only('qstat-json_running-after-qdel');
  assert.deepEqual([running.state, running.exitStatus], ['F', 271]);
  assert.match(running.comment ?? '', /and terminated by abc123@/);
  for (const name of ['qstat-json_queued-after-qdel', 'qstat-json_held-after-qdel']) {
    const j = only(name);
    assert.deepEqual([j.state, j.substate, j.exitStatus], ['F', 91, undefined], name);
  }
  // Never run because what it waited for failed, or is no job the server knows: the server ends it.
  for (const name of ['qstat-json_depend-after-qdel', 'qstat-json_depend-unknown']) {
    const j = only(name);
    assert.deepEqual([j.state, j.substate, j.exitStatus], ['F', 92, undefined], name);
  }
});

test("qdel's and qstat's refusals: the exit statuses the code counts as already gone", () => {
  const finished = recorded('qdel_finished');
  assert.equal(finished.rc, QDEL_EXIT.finished);
  assert.match(finished.text, /^qdel: Job has finished \d+\.gadi-pbs$/);
  const unknown = recorded('qdel_unknown');
  assert.equal(unknown.rc, QDEL_EXIT.unknownJob);
  assert.match(unknown.text, /^qdel: Unknown Job Id \d+\.gadi-pbs$/);
  for (const name of ['qdel_queued', 'qdel_running', 'qdel_held']) assert.deepEqual([recorded(name).rc, recorded(name).text], [0, ''], name);
  assert.equal(recorded('qstat_unknown').rc, QDEL_EXIT.unknownJob);
  assert.equal(recorded('qstat_finished-without-x').rc, QDEL_EXIT.finished);
});

test("qsub's refusals read as errors that quote PBS", () => {
  for (const [name, rc, said] of [
    ['qsub_unknown-queue', 170, 'qsub: Unknown queue'],
    ['qsub_unknown-resource', 187, 'qsub: Unknown resource Resource_List.foo'],
    ['qsub_bad-walltime', 166, 'qsub: Illegal attribute or resource value Resource_List.walltime'],
  ] as const) {
    const r = recorded(name);
    assert.deepEqual([r.rc, r.text], [rc, said], name);
    const e = qsubError(r.rc, '', `${r.text}\n`);
    assert.equal(e.exitCode, rc);
    assert.ok(e.message.includes(said), e.message);
  }
});
