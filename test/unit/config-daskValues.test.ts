// jobqueue.pbs values as dask-jobqueue uses them: key spellings, nulls, numbers printed as Python prints them, and
// the values that would make it fail or write a broken script, refused with a fix where one is obvious.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyTextEdits, lintText, RULES } from '../../src/core/config';
import { renderJobScript } from '../../src/core/pbs/jobScript';
import { ConfigFileError } from '../../src/core/cluster/errors';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import { clusterNameOf } from '../../src/core/cluster/names';
import { pythonFloat } from '../../src/core/python';

const pbs = (lines: string[]) => `jobqueue:\n  pbs:\n${lines.map((l) => `    ${l}\n`).join('')}`;
const BASE = ['cores: 4', 'memory: 16GB'];
/** Diagnostics other than Gadi's (these files name no site). */
const found = (text: string) => lintText(text).diagnostics.filter((d) => RULES[d.code].scope !== 'gadi');
const script = (text: string) => {
  const r = lintText(text);
  assert.ok(r.config, JSON.stringify(r.diagnostics.map((d) => d.message)));
  return renderJobScript(r.config.jobqueue.pbs, { schedulerFile: '/s.json', lifetime: 'off' });
};

test("floats print as Python's str(float)", () => {
  const cases: [number, string][] = [
    [60, '60.0'], [1e-5, '1e-05'], [1e16, '1e+16'], [1e15, '1000000000000000.0'], [0.0001, '0.0001'], [Infinity, 'inf'],
    [-Infinity, '-inf'], [NaN, 'nan'], [-0, '-0.0'], [0.1 + 0.2, '0.30000000000000004'], [123.456, '123.456'],
    [1.5e-7, '1.5e-07'], [2.5e300, '2.5e+300'], [Number('1234567890123456.7'), '1234567890123456.8'], [Number('12345678901234567'), '1.2345678901234568e+16'],
  ];
  for (const [x, want] of cases) assert.equal(pythonFloat(x), want, String(x));
});

test('numbers where dask-jobqueue expects text are printed as Python prints them', () => {
  const s = script(pbs([...BASE, 'name: 123', 'death-timeout: 60.0', 'walltime: 2:00:00', 'job-extra-directives: [-l ncpus=4, 10]']));
  assert.match(s, /^#PBS -N 123$/m);
  assert.match(s, /^#PBS -l walltime=7200$/m);
  assert.match(s, /^#PBS 10$/m);
  assert.match(s, / --death-timeout 60\.0(\s|$)/);
  assert.match(script(pbs([...BASE, 'death-timeout: 0.00001'])), / --death-timeout 1e-05(\s|$)/);
  assert.match(script(pbs([...BASE, 'death-timeout: 1e1'])), / --death-timeout 1e1(\s|$)/); // text to PyYAML
});

test('null means what dask-jobqueue does with None', () => {
  const s = script(pbs([...BASE, 'walltime: null', 'death-timeout: ~', 'processes: null', 'queue: null', 'worker-extra-args:']));
  assert.doesNotMatch(s, /walltime/);
  assert.doesNotMatch(s, /--death-timeout/);
  assert.doesNotMatch(s, /#PBS -q/);
  assert.match(s, /--nworkers 4 /);
  for (const [line, why] of [
    ['job-script-prologue: null', /TypeError/], ['shebang: null', /None as the script's first line/],
  ] as const) {
    const [d] = found(pbs([...BASE, line])).filter((x) => x.code === 'dask/value-type');
    assert.match(d?.message ?? '', why, line);
    assert.equal(lintText(pbs([...BASE, line])).config, undefined, line);
  }
  // name: null: no #PBS -N, as dask-jobqueue; the cluster and its workers take dask-jobqueue's default name.
  const unnamed = lintText(pbs([...BASE, 'name: null']));
  assert.deepEqual(unnamed.diagnostics.filter((d) => RULES[d.code].scope !== 'gadi'), []);
  assert.equal(unnamed.config?.jobqueue.pbs.name, null);
  const header = script(pbs([...BASE, 'name: null']));
  assert.doesNotMatch(header, /^#PBS -N/m);
  assert.match(header, / --name dask-worker-"\$PBS_JOBID" /);
  assert.equal(clusterNameOf(unnamed.config!), 'dask-worker');
  assert.equal(clusterNameOf(lintText(pbs([...BASE, 'name: w1'])).config!), 'w1');
  const [bad] = found(pbs([...BASE, 'interface: ib0', 'worker-extra-args: null']));
  assert.match(bad.message, /--interface/);
  assert.deepEqual(found(applyTextEdits(pbs([...BASE, 'interface: ib0', 'worker-extra-args: null']), bad.fixes![0].edits)), []);
  // A deprecated key set to null is not read by dask-jobqueue, so it is not reported either.
  assert.deepEqual(found(pbs([...BASE, 'env-extra: null', 'job-extra: null', 'extra: null', 'header-skip: null'])), []);
});

test('values dask-jobqueue would print into a broken script are errors, with a fix', () => {
  const on = pbs([...BASE, 'queue: on']);
  const [d] = found(on);
  assert.equal(d.code, 'dask/value-type');
  assert.match(d.message, /'#PBS -q True'/);
  const fixed = applyTextEdits(on, d.fixes![0].edits);
  assert.match(fixed, /queue: 'on'/);
  assert.match(script(fixed), /^#PBS -q on$/m);

  const [float] = found(pbs(['cores: 48.0', 'memory: 192GB']));
  assert.match(float.message, /--nworkers 8\.0/);
  assert.deepEqual(found(applyTextEdits(pbs(['cores: 48.0', 'memory: 192GB']), float.fixes![0].edits)), []);

  const [list] = found(pbs([...BASE, 'job-extra-directives: -P ab12']));
  assert.equal(list.code, 'schema/invalid-type');
  assert.match(list.message, /each character/);
  const [text] = found(pbs(['cores: "48"', 'memory: 192GB'])).filter((x) => x.code === 'schema/invalid-type');
  assert.match(text.message, /fails on text/);
  const [item] = found(pbs([...BASE, 'job-script-prologue: [yes]']));
  assert.match(item.message, /boolean True, not text: .*\(TypeError: sequence item 0: expected str instance, bool found\)/);
});

test('anything but text in a list dask-jobqueue joins as lines is an error naming the item and the TypeError', () => {
  // What dask-jobqueue raises, for `"\n".join(filter(None, items))`: the count is of the items left after filter.
  const cases: Array<[string, RegExp]> = [
    ['job-script-prologue: ["ulimit -n", 4096]', /^Item 1 of job-script-prologue is 4096, not text: .*\(TypeError: sequence item 1: expected str instance, int found\)\. Quote it\.$/],
    ['job-script-prologue: [null, "", "a", 1.5]', /^Item 3 of .*sequence item 1: expected str instance, float found/],
    ['job-script-epilogue: [2026-01-02]', /^Item 0 of job-script-epilogue .*expected str instance, datetime\.date found/],
    ['env-extra: [[module load a]]', /^Item 0 of env-extra is a list, .*expected str instance, list found\)\. Write the command as one string\.$/],
    ['job_script_prologue: [{a: 1}]', /^Item 0 of job-script-prologue is a dict, .*expected str instance, dict found/],
  ];
  for (const [line, want] of cases) {
    const text = pbs([...BASE, line]);
    const errors = found(text).filter((d) => d.severity === 'error' && d.code === 'dask/value-type');
    assert.equal(errors.length, 1, `${line}: ${JSON.stringify(found(text))}`);
    assert.match(errors[0].message, want);
    assert.equal(lintText(text).config, undefined, 'no config, so no script');
  }
  const [quote] = found(pbs([...BASE, 'job-script-prologue: ["ulimit -n", 4096]']));
  assert.match(script(applyTextEdits(pbs([...BASE, 'job-script-prologue: ["ulimit -n", 4096]']), quote.fixes![0].edits)), /^ulimit -n\n4096\n/m);
  // A false item is left out by dask-jobqueue without complaint: a warning, and the script is dask's.
  const zero = pbs([...BASE, 'job-script-prologue: [0, "module load a", false]']);
  const warned = found(zero);
  assert.deepEqual(warned.map((d) => d.severity), ['warning', 'warning']);
  assert.match(warned[0].message, /leaves out of the job script/);
  assert.match(script(zero), /\n#PBS -l walltime=00:30:00\nmodule load a\npython3 -m /);
  // env-extra is not read while job-script-prologue has items: nothing to raise there.
  assert.deepEqual(found(pbs([...BASE, 'job-script-prologue: [a]', 'env-extra: [b, 4096, null]'])).filter((d) => d.severity === 'error'), []);
  // worker-extra-args is joined with map(str): numbers are fine there.
  assert.deepEqual(found(pbs([...BASE, 'worker-extra-args: [--nthreads-x, 2]'])), []);
});

test('a job name qsub rejects is an error', () => {
  for (const name of ['"my workers"', '"-x"', `${'a'.repeat(237)}`]) {
    assert.ok(found(pbs([...BASE, `name: ${name}`])).some((d) => d.code === 'pbs/job-name' && d.severity === 'error'), name);
  }
  assert.deepEqual(found(pbs([...BASE, 'name: 123'])), []);
});

test('snake_case and kebab-case are one key; writing both is an error', () => {
  assert.match(script(pbs([...BASE, 'death_timeout: 120', 'job_script_prologue: [module load python3]'])), /--death-timeout 120[\s\S]*/);
  assert.match(script(pbs([...BASE, 'job_script_prologue: [module load python3]'])), /^module load python3$/m);
  const both = pbs([...BASE, 'death-timeout: 120', 'death_timeout: 30']);
  const [d] = found(both);
  assert.equal(d.code, 'dask/key-spelling');
  assert.match(d.message, /'death_timeout' and 'death-timeout' \(line 5\)/);
  assert.equal(lintText(both).config, undefined);
  assert.deepEqual(found(applyTextEdits(both, d.fixes![0].edits)), []);
  // Rules and fixes find a snake_case key where they look for its kebab-case name.
  const [dep] = found(pbs([...BASE, 'env_extra: [module load python3]']));
  assert.equal(dep.code, 'schema/deprecated-key');
  assert.match(applyTextEdits(pbs([...BASE, 'env_extra: [x]']), dep.fixes![0].edits), /job-script-prologue: \[x\]/);
});

test('a key dask-jobqueue does not read is a warning, and the script is the one dask would write', () => {
  const text = pbs([...BASE, 'nanny: false', 'death-timout: 10']);
  const ds = found(text);
  assert.deepEqual(ds.map((d) => [d.code, d.severity]), [['schema/unknown-key', 'warning'], ['schema/unknown-key', 'warning']]);
  assert.match(ds[1].message, /Did you mean 'death-timeout'/);
  assert.equal(script(text), script(pbs(BASE)));
});

test('project is read as dask-jobqueue reads it: -A while account is empty, with a warning', () => {
  assert.match(script(pbs([...BASE, 'project: ab12'])), /^#PBS -A ab12$/m);
  const [d] = found(pbs([...BASE, 'project: ab12']));
  assert.equal(d.code, 'schema/deprecated-key');
  assert.match(applyTextEdits(pbs([...BASE, 'project: ab12']), d.fixes![0].edits), /account: ab12/);
  const both = pbs([...BASE, 'account: cd34', 'project: ab12']);
  assert.match(script(both), /^#PBS -A cd34$/m);
  assert.match(found(both)[0].message, /ignores it because 'account' is set/);
});

test('empty list items: dropped from the prologue as dask-jobqueue drops them, refused where it would print None', () => {
  const s = script(pbs([...BASE, 'job-script-prologue: [module load python3, null, source venv/bin/activate]']));
  assert.match(s, /^module load python3\nsource venv\/bin\/activate\n/m);
  const [d] = found(pbs([...BASE, 'job-extra-directives: [-P ab12, ~]']));
  assert.equal(d.code, 'dask/value-type');
  assert.equal(d.range.start.line, 4);
  assert.match(found(pbs([...BASE, 'job-directives-skip: [123456789012345678901234567890]']))[0].message, /TypeError/);
});

test('death-timeout as text must be a duration the worker can read', () => {
  const [d] = found(pbs([...BASE, 'death-timeout: soon']));
  assert.equal(d.code, 'schema/invalid-value');
  assert.match(d.message, /not a duration dask reads/);
  assert.match(script(pbs([...BASE, 'death-timeout: 2m'])), / --death-timeout 2m(\s|$)/);
});

test("the lifecycle's loader reads a dask-style file the same way, and refuses what dask-jobqueue would break on", () => {
  const config = parseClusterConfig(pbs([...BASE, 'death_timeout: 60.0', 'walltime: null', 'queue: null', 'name: 123']));
  assert.equal(config.jobqueue.pbs['death-timeout'], '60.0');
  assert.equal(config.jobqueue.pbs.walltime, null);
  assert.equal(config.jobqueue.pbs.name, '123');
  assert.throws(() => parseClusterConfig(pbs([...BASE, 'queue: on'])), (e: unknown) => e instanceof ConfigFileError && /#PBS -q True/.test(e.message));
});
