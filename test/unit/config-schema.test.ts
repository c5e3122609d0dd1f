import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyTextEdits } from '../../src/core/config/edits';
import { clusterConfigJsonSchema } from '../../src/core/config/jsonSchema';
import { lintText } from '../../src/core/config/linter';
import { pbsSchema } from '../../src/core/config/schema';
import { knownKeys, schemaInfo } from '../../src/core/config/schemaInfo';

const root = join(__dirname, '..', '..');
const pbs = (lines: string[]) => ['jobqueue:', '  pbs:', ...lines.map((l) => `    ${l}`), ''].join('\n');
const codes = (text: string) => lintText(text).diagnostics.map((d) => d.code);
const only = (text: string, code: string) => lintText(text).diagnostics.filter((d) => d.code === code);

test('memory is parsed as dask parses it, not pattern-matched', () => {
  for (const ok of ['192GB', '4 GiB', '5G', '1.5TB', '4000MB', 8000000000]) {
    assert.equal(pbsSchema.safeParse({ cores: 1, memory: ok }).success, true, String(ok));
  }
  for (const bad of ['4 parsecs', 'lots', '1.2.3GB', '-4GB', '0GB', 0]) {
    assert.equal(pbsSchema.safeParse({ cores: 1, memory: bad }).success, false, String(bad));
  }
  const [d] = only(pbs(['cores: 1', 'memory: 4 parsecs']), 'schema/invalid-value');
  assert.match(d.message, /'parsecs' as a byte unit.*192GB/);
});

test('walltimes are parsed as PBS reads them', () => {
  for (const ok of ['02:00:00', '48:00:00', '90', '05:30', 3600]) {
    assert.equal(pbsSchema.safeParse({ cores: 1, memory: '1GB', walltime: ok }).success, true, String(ok));
  }
  for (const bad of ['two hours', '1:2:3:4', '1h']) {
    assert.equal(pbsSchema.safeParse({ cores: 1, memory: '1GB', walltime: bad }).success, false, bad);
  }
  assert.deepEqual(codes(pbs(['cores: 1', 'memory: 4GB', 'walltime: 2h'])), ['schema/invalid-value']);
});

test('unknown keys in jobqueue.pbs are warnings (dask-jobqueue ignores them) with a "did you mean" fix', () => {
  const text = pbs(['cores: 1', 'memroy: 4GB']);
  const [d] = only(text, 'schema/unknown-key');
  assert.equal(d.severity, 'warning');
  assert.match(d.message, /dask-jobqueue does not read 'memroy' from jobqueue\.pbs and ignores it\. Did you mean 'memory'\?/);
  assert.deepEqual(codes(applyTextEdits(text, d.fixes![0].edits)), []);
  const [far] = only(pbs(['cores: 1', 'memory: 4GB', 'nanny: false']), 'schema/unknown-key');
  assert.equal(far.severity, 'warning');
  assert.equal(far.fixes?.[0].title, "Remove 'nanny'");
  assert.match(far.message, /only in Python/);
  const [conn] = only(`connection:\n  hots: gadi\n${pbs(['cores: 1', 'memory: 4GB'])}`, 'schema/unknown-key');
  assert.match(conn.message, /Did you mean 'host'/);
});

test('the top level and jobqueue stay open to dask\'s config, but near misses of our keys are caught', () => {
  assert.deepEqual(codes(`distributed:\n  worker:\n    memory: {target: 0.6}\njobqueue:\n  slurm: {cores: 1}\n${pbs(['cores: 1', 'memory: 4GB']).replace('jobqueue:\n', '')}`), []);
  const text = `conection:\n  host: gadi\n${pbs(['cores: 1', 'memory: 4GB'])}`;
  const [d] = only(text, 'schema/unknown-key');
  assert.match(d.message, /Did you mean 'connection'/);
  assert.deepEqual(only(applyTextEdits(text, d.fixes![0].edits), 'schema/unknown-key'), []);
  assert.match(only('jobqueue:\n  pb:\n    cores: 1\n', 'schema/unknown-key')[0].message, /Did you mean 'pbs'/);
});

test('deprecated keys are warnings naming the replacement, with a rename or remove fix', () => {
  for (const [old, replacement, value] of [['env-extra', 'job-script-prologue', 'module load x'],
    ['extra', 'worker-extra-args', '--lifetime=1h'], ['job-extra', 'job-extra-directives', '-l wd'],
    ['header-skip', 'job-directives-skip', 'walltime']]) {
    const text = pbs(['cores: 1', 'memory: 4GB', `${old}: [${value}]`]);
    const [d] = only(text, 'schema/deprecated-key');
    assert.equal(d.severity, 'warning', old);
    assert.ok(d.message.includes(`'${replacement}'`), d.message);
    const fixed = applyTextEdits(text, d.fixes![0].edits);
    assert.ok(fixed.includes(`${replacement}: [${value}]`), fixed);
    assert.deepEqual(codes(fixed), []);
  }
  const both = pbs(['cores: 1', 'memory: 4GB', 'env-extra: [a]', 'job-script-prologue: [b]']);
  const [d] = only(both, 'schema/deprecated-key');
  assert.match(d.message, /ignores it/);
  assert.ok(!applyTextEdits(both, d.fixes![0].edits).includes('env-extra'));
});

test('wrong types and enum values say what was expected, with fixes where one is obvious', () => {
  const quoted = pbs(['cores: "48"', 'memory: 192GB']);
  const [t] = only(quoted, 'schema/invalid-type');
  assert.match(t.message, /'cores' must be a whole number, not the text "48"/);
  assert.deepEqual(codes(applyTextEdits(quoted, t.fixes![0].edits)), []);
  const single = pbs(['cores: 1', 'memory: 4GB', 'job-extra-directives: -l wd']);
  const [l] = only(single, 'schema/invalid-type');
  assert.deepEqual(codes(applyTextEdits(single, l.fixes![0].edits)), []);
  const placement = `scheduler:\n  placement: jbo\n${pbs(['cores: 1', 'memory: 4GB'])}`;
  const [e] = only(placement, 'schema/invalid-value');
  assert.match(e.message, /must be one of 'job', 'login'/);
  assert.deepEqual(codes(applyTextEdits(placement, e.fixes![0].edits)), []);
  assert.match(only(pbs(['cores: 0', 'memory: 4GB']), 'schema/invalid-value')[0].message, /more than 0/);
  assert.match(only(pbs(['cores:', 'memory: 4GB']), 'schema/invalid-type')[0].message, /'cores' has no value/);
});

test('an empty file asks for jobqueue.pbs and offers a minimal section', () => {
  const [d] = lintText('').diagnostics;
  assert.equal(d.code, 'schema/missing-key');
  const fixed = applyTextEdits('', d.fixes![0].edits);
  assert.deepEqual(codes(fixed), []);
});

test('schemaInfo gives descriptions, defaults, allowed and suggested values, and keys', () => {
  const cores = schemaInfo(['jobqueue', 'pbs', 'cores'])!;
  assert.equal(cores.type, 'integer');
  assert.equal(cores.required, true);
  assert.match(cores.description!, /Total number of cores per job/);
  const skip = schemaInfo(['jobqueue', 'pbs', 'job-directives-skip'])!;
  assert.deepEqual([skip.type, skip.hasDefault, skip.default], ['list', true, []]);
  assert.deepEqual(schemaInfo(['jobqueue', 'pbs', 'job-directives-skip', 0])?.type, 'string');
  assert.deepEqual(schemaInfo(['scheduler', 'placement'])?.allowedValues, ['job', 'login', 'persistent-session']);
  assert.equal(schemaInfo(['scheduler', 'placement'])?.default, 'job');
  assert.ok(schemaInfo(['jobqueue', 'pbs', 'queue'])?.examples?.includes('gpuvolta'));
  assert.deepEqual(schemaInfo(['jobqueue', 'pbs', 'interface'])?.examples, ['ib0']);
  assert.equal(schemaInfo(['jobqueue', 'pbs', 'memory'])?.type, 'string | number');
  assert.equal(schemaInfo(['jobqueue', 'pbs', 'env-extra'])?.deprecatedBy, 'job-script-prologue');
  const section = schemaInfo(['jobqueue', 'pbs'])!;
  assert.equal(section.openKeys, false);
  const key = section.keys!.find((k) => k.name === 'job-directives-skip')!;
  assert.match(key.description!, /skip `select`/);
  assert.equal(section.keys!.find((k) => k.name === 'extra')?.deprecatedBy, 'worker-extra-args');
  assert.equal(schemaInfo([])?.openKeys, true);
  assert.deepEqual(knownKeys([]), ['site', 'connection', 'scheduler', 'kernel', 'jobqueue']);
  assert.equal(schemaInfo(['jobqueue', 'pbs', 'nonsense']), undefined);
  assert.equal(schemaInfo(['jobqueue', 'pbs', 'scheduler-options', 'dashboard_address'])?.type, 'any');
});

test('every key in the schema has a description', () => {
  const walk = (path: (string | number)[]) => {
    for (const k of schemaInfo(path)?.keys ?? []) {
      assert.ok(k.description, `${[...path, k.name].join('.')} has a description`);
      walk([...path, k.name]);
    }
  };
  walk([]);
});

test('the shipped JSON Schema is what the zod schema generates, with descriptions', () => {
  const text = readFileSync(join(root, 'schemas', 'dask-cluster.schema.json'), 'utf8');
  assert.deepEqual(JSON.parse(text), clusterConfigJsonSchema(), 'run `npm run build` to regenerate schemas/');
  type Obj = { properties: Record<string, Obj>; required?: string[]; additionalProperties?: unknown; description?: string; default?: unknown };
  const p = (JSON.parse(text) as Obj).properties.jobqueue.properties.pbs;
  assert.deepEqual(p.required, ['cores', 'memory']);
  assert.equal(p.additionalProperties, false);
  assert.match(p.properties['job-directives-skip'].description ?? '', /select/);
  assert.equal(p.properties.walltime.default, '00:30:00');
});
